// @ts-check
/** The invoices area: a small client-side router over pushState (/invoices, /invoices/NUMBER). */
import { cls, el, id, t } from "./dom.js";

/** @typedef {{number: string, customer: string, amount: string, status: string, due: string}} Invoice */

/** @type {Invoice[] | null} */
let invoices = null;

async function load() {
  if (invoices) return invoices;
  const response = await fetch("/api/invoices", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`invoices: HTTP ${response.status}`);
  invoices = /** @type {Invoice[]} */ (await response.json());
  return invoices;
}

/** @returns {HTMLElement} */
function view() {
  const node = document.querySelector("[data-router-view]");
  if (!(node instanceof HTMLElement)) throw new Error("router view missing");
  return node;
}

/** @param {string} path */
export function navigate(path) {
  history.pushState({}, "", path);
  void render();
}

/**
 * @param {string} href
 * @param {Record<string, string>} attrs
 * @param {(Node | string)[]} children
 */
function link(href, attrs, children) {
  const a = el("a", { ...attrs, href }, children);
  a.addEventListener("click", (event) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(href);
  });
  return a;
}

/** @param {Invoice[]} list @param {string} status */
function listView(list, status) {
  const filter = el("select", { class: cls("input"), "data-testid": "invoice-filter", "aria-label": t("invoices.filter") }, [
    ...["all", "open", "overdue", "paid", "draft"].map((s) => el("option", { value: s, selected: s === status }, [s])),
  ]);
  filter.addEventListener("change", () => navigate(filter.value === "all" ? "/invoices" : `/invoices?status=${filter.value}`));
  const rows = list
    .filter((inv) => status === "all" || inv.status === status)
    .map((inv) =>
      el("tr", { "data-testid": `invoice-row-${inv.number}` }, [
        el("td", {}, [link(`/invoices/${inv.number}`, { "data-testid": `invoice-link-${inv.number}` }, [inv.number])]),
        el("td", {}, [inv.customer]),
        el("td", {}, [inv.amount]),
        el("td", {}, [el("span", { class: cls("badge") }, [inv.status])]),
        el("td", {}, [inv.due]),
      ]),
    );
  const table = el("table", { class: cls("table"), id: id("invoice-table") }, [
    el("thead", {}, [el("tr", {}, ["Number", "Customer", "Amount", "Status", "Due"].map((h) => el("th", { scope: "col" }, [h])))]),
    el("tbody", {}, rows),
  ]);
  return [
    el("div", { class: cls("page-head") }, [el("h1", {}, [t("invoices.title")]), filter]),
    sessionStorage.getItem("acme-flash") === "deleted" ? flash() : null,
    el("div", { class: cls("scroll-box"), "data-testid": "invoice-scroll", tabindex: "0", "aria-label": t("invoices.title") }, [table]),
  ];
}

function flash() {
  sessionStorage.removeItem("acme-flash");
  return el("p", { class: cls("notice"), role: "status", "data-testid": "invoice-deleted" }, [t("invoice.deleted")]);
}

/** @param {Invoice} inv */
function detailView(inv) {
  const confirmBox = el("div", { class: cls("confirm"), "data-testid": "invoice-delete-panel", hidden: true }, [
    el("p", {}, [t("invoice.delete.question")]),
  ]);
  const yes = el("button", { type: "button", class: cls("btn", "btn-danger"), "data-testid": "invoice-delete-confirm" }, [t("invoice.delete.confirm")]);
  const no = el("button", { type: "button", class: cls("btn"), "data-testid": "invoice-delete-cancel" }, [t("invoice.delete.cancel")]);
  confirmBox.append(el("div", { class: cls("row-actions") }, [no, yes]));
  const del = el("button", { type: "button", class: cls("btn", "btn-danger"), "data-testid": "invoice-delete" }, [t("invoice.delete")]);
  del.addEventListener("click", () => {
    confirmBox.hidden = false;
    no.focus();
  });
  no.addEventListener("click", () => {
    confirmBox.hidden = true;
    del.focus();
  });
  yes.addEventListener("click", async () => {
    const response = await fetch(`/api/invoices/${encodeURIComponent(inv.number)}`, { method: "DELETE", headers: { "X-Acme-Request": "1" } });
    if (response.ok || response.status === 404) {
      invoices = (invoices || []).filter((i) => i.number !== inv.number);
      sessionStorage.setItem("acme-flash", "deleted");
      navigate("/invoices");
    }
  });
  return [
    link("/invoices", { "data-testid": "invoice-back" }, [`← ${t("invoices.back")}`]),
    el("section", { class: cls("card"), "data-testid": "invoice-detail" }, [
      el("h1", {}, [`Invoice ${inv.number}`]),
      el("dl", {}, [
        el("dt", {}, ["Customer"]), el("dd", {}, [inv.customer]),
        el("dt", {}, ["Amount"]), el("dd", { "data-testid": "invoice-amount" }, [inv.amount]),
        el("dt", {}, ["Status"]), el("dd", {}, [inv.status]),
        el("dt", {}, ["Due"]), el("dd", {}, [inv.due]),
      ]),
      el("div", { class: cls("row-actions") }, [del]),
      confirmBox,
    ]),
  ];
}

async function render() {
  const target = view();
  const list = await load();
  const match = location.pathname.match(/^\/invoices\/([^/]+)$/);
  let nodes;
  if (match) {
    const inv = list.find((i) => i.number === decodeURIComponent(match[1]));
    nodes = inv ? detailView(inv) : [el("p", { "data-testid": "invoice-missing" }, ["No such invoice."]), link("/invoices", {}, [t("invoices.back")])];
    document.title = `${inv ? inv.number : "Not found"} · Acme Billing`;
  } else {
    const status = new URLSearchParams(location.search).get("status") || "all";
    nodes = listView(list, status);
    document.title = `${t("invoices.title")} · Acme Billing`;
  }
  target.replaceChildren(...nodes.filter((n) => n !== null));
}

export function startInvoices() {
  window.addEventListener("popstate", () => void render());
  void render();
}
