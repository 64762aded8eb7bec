"""The final report: throughput, latency percentiles, errors, integrity and generator CPU."""

from __future__ import annotations

import os
from typing import Any

import attrs
import orjson

from service.loadtest.config import LoadConfig
from service.loadtest.histogram import LatencyHistogram
from service.loadtest.integrity import IntegrityCounts
from service.loadtest.stats import WorkerStats

EXIT_OK = 0
EXIT_INTEGRITY = 1
EXIT_NO_CONNECTIONS = 2

_PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


@attrs.frozen
class LatencySummary:
    """Percentiles in milliseconds (None when there were no samples)."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    p99_9_ms: float | None
    max_ms: float | None
    mean_ms: float | None

    @classmethod
    def of(cls, hist: LatencyHistogram) -> LatencySummary:
        values = {f"{name}_ms": _ms(hist.percentile(q)) for name, q in _PERCENTILES}
        return cls(count=hist.count, max_ms=_ms(hist.max), mean_ms=_ms(hist.mean), **values)


@attrs.frozen
class TimelinePoint:
    """One second of the run: counts and p99 latencies (ms)."""

    second: int
    sent: int
    acked: int
    delivered: int
    ack_p99_ms: float | None
    delivery_p99_ms: float | None


@attrs.frozen
class GeneratorUsage:
    """The load generator's own CPU, so a reader can tell whether it was the bottleneck.

    ``measured_cpu_percent`` is the workers' CPU during the measured run as a percentage of one
    core (summed over processes); ``total_cpu_seconds`` is the whole command, self and children.
    """

    processes: int
    cores: int
    measured_cpu_seconds: float
    measured_cpu_percent: float
    total_cpu_seconds: float
    total_wall_seconds: float


@attrs.frozen
class LoadReport:
    """Everything ``chorus loadtest`` prints at the end and writes with ``--json``."""

    config: dict[str, Any]
    measured_seconds: float
    connections_attempted: int
    connections_opened: int
    connection_failures: int
    disconnects: int
    creates_sent: int
    creates_acked: int
    deliveries: int
    creates_per_s: float
    deliveries_per_s: float
    ack_latency: LatencySummary
    delivery_latency: LatencySummary
    send_lag: LatencySummary
    errors_by_code: dict[str, int]
    integrity: IntegrityCounts
    generator: GeneratorUsage
    timeline: list[TimelinePoint]

    @property
    def exit_code(self) -> int:
        if self.integrity.total > 0:
            return EXIT_INTEGRITY
        if self.connections_opened == 0:
            return EXIT_NO_CONNECTIONS
        return EXIT_OK

    def to_json(self) -> bytes:
        data = attrs.asdict(self)
        data["integrity"]["total"] = self.integrity.total
        data["ok"] = self.exit_code == EXIT_OK
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def build_report(
    cfg: LoadConfig, stats: WorkerStats, total_cpu_seconds: float, total_wall_seconds: float
) -> LoadReport:
    """Summarise merged worker stats; rates are per second of ``cfg.duration``."""
    timeline = [
        TimelinePoint(
            second=index,
            sent=bucket.sent,
            acked=bucket.acked,
            delivered=bucket.delivered,
            ack_p99_ms=_ms(bucket.ack.percentile(99)),
            delivery_p99_ms=_ms(bucket.delivery.percentile(99)),
        )
        for index, bucket in sorted(stats.seconds.items())
    ]
    measured = max(stats.measured_seconds, 1e-9)
    return LoadReport(
        config={
            "url": cfg.url,
            "conversations": cfg.conversations,
            "observers": cfg.observers,
            "mode": "open" if cfg.open_loop else "closed",
            "rate": cfg.rate,
            "window": cfg.window,
            "duration": cfg.duration,
            "ramp": cfg.ramp,
            "payload_bytes": cfg.payload_bytes,
            "processes": cfg.processes,
            "dialect": cfg.dialect,
            "client": cfg.client,
        },
        measured_seconds=round(stats.measured_seconds, 3),
        connections_attempted=cfg.connections,
        connections_opened=stats.connections_opened,
        connection_failures=stats.connection_failures,
        disconnects=stats.disconnects,
        creates_sent=stats.sent,
        creates_acked=stats.acked,
        deliveries=stats.delivered,
        creates_per_s=round(stats.acked / cfg.duration, 1),
        deliveries_per_s=round(stats.delivered / cfg.duration, 1),
        ack_latency=LatencySummary.of(stats.latency("ack")),
        delivery_latency=LatencySummary.of(stats.latency("delivery")),
        send_lag=LatencySummary.of(stats.latency("send_lag")),
        errors_by_code=dict(sorted(stats.errors_by_code.items())),
        integrity=stats.integrity,
        generator=GeneratorUsage(
            processes=cfg.processes,
            cores=os.cpu_count() or 1,
            measured_cpu_seconds=round(stats.cpu_seconds, 3),
            measured_cpu_percent=round(100 * stats.cpu_seconds / measured, 1),
            total_cpu_seconds=round(total_cpu_seconds, 3),
            total_wall_seconds=round(total_wall_seconds, 3),
        ),
        timeline=timeline,
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_text(report: LoadReport) -> str:
    """The human-readable report."""
    c, g, i = report.config, report.generator, report.integrity
    mode = (
        f"open loop {c['rate']:g} creates/s"
        if c["mode"] == "open"
        else (f"closed loop, window {c['window']}")
    )
    lines = [
        f"chorus loadtest: {c['conversations']} conversations x (1 writer + {c['observers']}"
        f" observers) = {report.connections_attempted} connections, {mode},"
        f" {c['duration']:g} s, dialect {c['dialect']}, client {c.get('client', 'raw')}",
        f"connections: {report.connections_opened} opened, {report.connection_failures} failed,"
        f" {report.disconnects} dropped",
        f"creates:     {report.creates_sent:,} sent, {report.creates_acked:,} acked"
        f" = {report.creates_per_s:,.0f}/s",
        f"deliveries:  {report.deliveries:,} to observers = {report.deliveries_per_s:,.0f}/s",
        f"{'latency (ms)':<18}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'max':>9}{'count':>11}",
    ]
    for name, lat in (
        ("create->ack", report.ack_latency),
        ("create->delivery", report.delivery_latency),
        ("send lag", report.send_lag),
    ):
        cells = (lat.p50_ms, lat.p90_ms, lat.p99_ms, lat.p99_9_ms, lat.max_ms)
        lines.append(
            f"  {name:<16}" + "".join(f"{_cell(v):>9}" for v in cells) + f"{lat.count:>11,}"
        )
    errors = ", ".join(f"{code} {n:,}" for code, n in report.errors_by_code.items())
    lines += [
        f"errors:      {errors or 'none'}",
        f"integrity:   gaps {i.gaps}, duplicates {i.duplicates}, out-of-order {i.out_of_order},"
        f" final-list mismatches {i.final_list_mismatches}, unacknowledged {i.unacknowledged}"
        f" -> {'OK' if i.total == 0 else 'FAILED'}",
        f"generator:   {g.processes} process(es) on {g.cores} cores: {g.measured_cpu_seconds:.1f}"
        f" CPU-s in the measured run = {g.measured_cpu_percent:.0f}% of one core"
        f" (whole command {g.total_cpu_seconds:.1f} CPU-s in {g.total_wall_seconds:.1f} s)",
    ]
    return "\n".join(lines)
