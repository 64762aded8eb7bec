"""Draws throughput and p99 latency over time from a report (needs matplotlib)."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from service.loadtest.report import LoadReport, TimelinePoint

MISSING_MATPLOTLIB = "--plot needs matplotlib, which is not installed: pip install matplotlib"


def matplotlib_installed() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any | None:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def seconds_to_draw(report: LoadReport) -> list[TimelinePoint]:
    """The timeline's whole seconds inside the run's duration.

    The seconds after it hold only the acknowledgements and deliveries of the creates sent in
    the run's last instant (a handful), and a partial last second holds a fraction of one: drawn
    as rates, either looks like throughput collapsing at the end of every run. They stay in the
    JSON report.
    """
    duration = float(report.config["duration"])
    whole = [point for point in report.timeline if point.second + 1 <= duration]
    # A run shorter than a second has no whole one: draw what it has.
    return whole or [point for point in report.timeline if point.second < duration]


def plot_report(report: LoadReport, path: str) -> str | None:
    """Write throughput (top) and p99 latency (bottom) per second; the name's suffix picks the
    format (PNG, SVG or PDF).

    Returns None on success, or a message saying why nothing was drawn.
    """
    plt = _pyplot()
    if plt is None:
        return MISSING_MATPLOTLIB
    ticker = importlib.import_module("matplotlib.ticker")
    points = seconds_to_draw(report)
    seconds = [p.second for p in points]
    fig, (rates, latency) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    rates.plot(seconds, [p.acked for p in points], label="creates acked/s")
    rates.plot(seconds, [p.delivered for p in points], label="deliveries/s")
    rates.set_ylabel("per second")
    rates.set_ylim(bottom=0)
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
    # Plain numbers at 1, 2 and 5 of each decade: a p99 that moves between 3 and 30 ms would
    # otherwise get a single "10^1" label.
    latency.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    latency.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    latency.yaxis.set_minor_formatter(ticker.NullFormatter())
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
