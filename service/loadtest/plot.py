"""Draws throughput and p99 latency over time from a report (needs matplotlib)."""

from __future__ import annotations

import importlib
from typing import Any

from service.loadtest.report import LoadReport

MISSING_MATPLOTLIB = "--plot needs matplotlib, which is not installed: pip install matplotlib"


def _pyplot() -> Any | None:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def plot_report(report: LoadReport, path: str) -> str | None:
    """Write a PNG with throughput (top) and p99 latency (bottom) per second.

    Returns None on success, or a message saying why nothing was drawn.
    """
    plt = _pyplot()
    if plt is None:
        return MISSING_MATPLOTLIB
    points = report.timeline
    seconds = [p.second for p in points]
    fig, (rates, latency) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    rates.plot(seconds, [p.acked for p in points], label="creates acked/s")
    rates.plot(seconds, [p.delivered for p in points], label="deliveries/s")
    rates.set_ylabel("per second")
    rates.legend(loc="lower right")
    rates.grid(alpha=0.3)
    for name, values in (
        ("create->ack p99", [p.ack_p99_ms for p in points]),
        ("create->delivery p99", [p.delivery_p99_ms for p in points]),
    ):
        kept = [(s, v) for s, v in zip(seconds, values, strict=True) if v is not None]
        if kept:
            latency.plot([s for s, _ in kept], [v for _, v in kept], label=name)
    latency.set_yscale("log")
    latency.set_ylabel("ms")
    latency.set_xlabel("seconds since start")
    latency.legend(loc="upper right")
    latency.grid(alpha=0.3)
    fig.suptitle(
        f"{report.config['conversations']} conversations x (1 + {report.config['observers']}),"
        f" {report.creates_per_s:,.0f} creates/s, {report.config['url']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
