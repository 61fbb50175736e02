// @ts-check
/**
 * The console's charts (uPlot): each `<figure data-chart>` holds its series as JSON in a
 * `<script type="application/json">`, drawn as a line chart over time. The table beside it
 * has the same figures, for screen readers and for anyone without scripts.
 */
import uPlot from "uplot";
import css from "uplot/dist/uPlot.min.css";

/**
 * @typedef {{labels: string[], x: number[], series: (number | null)[][]}} ChartData
 */

function start() {
  const figures = Array.from(document.querySelectorAll("figure[data-chart]"));
  if (!figures.length) return;
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
  for (const figure of figures) {
    const source = figure.querySelector("script[type='application/json']");
    if (!source) continue;
    /** @type {ChartData} */
    const data = JSON.parse(source.textContent || "{}");
    const colors = ["#1c7ed6", "#e8590c", "#2f9e44"];
    const chart = new uPlot(
      {
        width: Math.min(figure.clientWidth || 800, 900),
        height: 240,
        series: [{}, ...data.labels.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 2, spanGaps: true }))],
        axes: [{}, { size: 50 }],
      },
      [data.x, ...data.series],
      /** @type {HTMLElement} */ (figure.querySelector("[data-chart-area]") || figure),
    );
    figure.setAttribute("data-drawn", String(chart.series.length - 1));
  }
}

start();
