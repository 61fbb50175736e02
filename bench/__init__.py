"""Tandem's benchmarks (``make bench``): each reports its figure and a ratio against a baseline
measured side by side in the same run (docs/performance.md)."""
