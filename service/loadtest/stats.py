"""Counters, latency histograms and a per-second timeline kept by a load-generating worker."""

from __future__ import annotations

import attrs

from service.loadtest.histogram import LatencyHistogram
from service.loadtest.integrity import IntegrityCounts


@attrs.define
class Second:
    """What happened during one second of the run (indexed from the measured start)."""

    sent: int = 0
    acked: int = 0
    delivered: int = 0
    ack: LatencyHistogram = attrs.field(factory=LatencyHistogram)
    delivery: LatencyHistogram = attrs.field(factory=LatencyHistogram)
    # How late creates went out behind their schedule (open loop).
    send_lag: LatencyHistogram = attrs.field(factory=LatencyHistogram)

    def merge(self, other: Second) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.delivered += other.delivered
        self.ack.merge(other.ack)
        self.delivery.merge(other.delivery)
        self.send_lag.merge(other.send_lag)


_NAN = float("nan")
SNAPSHOT_FLOATS = 8


@attrs.frozen
class Snapshot:
    """Live totals for the progress display; times in seconds.

    ``elapsed`` is None until the measured run starts (while connecting).
    """

    connections_up: int = 0
    connection_failures: int = 0
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    errors: int = 0
    recent_p99: float | None = None
    elapsed: float | None = None

    def started(self, elapsed: float) -> Snapshot:
        return attrs.evolve(self, elapsed=elapsed)

    def to_floats(self) -> list[float]:
        """A fixed-length float encoding, for a shared-memory array (None becomes NaN)."""
        return [
            float(self.connections_up),
            float(self.connection_failures),
            float(self.sent),
            float(self.acked),
            float(self.delivered),
            float(self.errors),
            _NAN if self.recent_p99 is None else self.recent_p99,
            _NAN if self.elapsed is None else self.elapsed,
        ]

    @classmethod
    def from_floats(cls, values: list[float]) -> Snapshot:
        up, failures, sent, acked, delivered, errors = (int(v) for v in values[:6])
        p99, elapsed = values[6], values[7]
        return cls(
            connections_up=up,
            connection_failures=failures,
            sent=sent,
            acked=acked,
            delivered=delivered,
            errors=errors,
            recent_p99=None if p99 != p99 else p99,
            elapsed=None if elapsed != elapsed else elapsed,
        )

    @classmethod
    def combine(cls, snapshots: list[Snapshot]) -> Snapshot:
        """Sum the counters of several workers; the worst p99 and the latest elapsed time."""
        p99s = [s.recent_p99 for s in snapshots if s.recent_p99 is not None]
        elapsed = [s.elapsed for s in snapshots if s.elapsed is not None]
        return cls(
            connections_up=sum(s.connections_up for s in snapshots),
            connection_failures=sum(s.connection_failures for s in snapshots),
            sent=sum(s.sent for s in snapshots),
            acked=sum(s.acked for s in snapshots),
            delivered=sum(s.delivered for s in snapshots),
            errors=sum(s.errors for s in snapshots),
            recent_p99=max(p99s) if p99s else None,
            elapsed=max(elapsed) if elapsed else None,
        )


@attrs.define
class WorkerStats:
    """Everything one worker measured; plain data, so it crosses process boundaries by pickle.

    ``origin`` is the clock reading at the measured start; events before it count in second 0.
    """

    origin: float = 0.0
    seconds: dict[int, Second] = attrs.field(factory=dict)
    connections_up: int = 0
    connections_opened: int = 0
    connection_failures: int = 0
    disconnects: int = 0
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    errors_by_code: dict[str, int] = attrs.field(factory=dict)
    integrity: IntegrityCounts = attrs.field(factory=IntegrityCounts)
    cpu_seconds: float = 0.0
    measured_seconds: float = 0.0

    def second(self, now: float) -> Second:
        index = max(int(now - self.origin), 0)
        bucket = self.seconds.get(index)
        if bucket is None:
            bucket = self.seconds[index] = Second()
        return bucket

    def on_sent(self, now: float, lag: float = 0.0) -> None:
        """A create went out at ``now``, ``lag`` seconds behind its scheduled time."""
        self.sent += 1
        bucket = self.second(now)
        bucket.sent += 1
        bucket.send_lag.record(lag)

    def on_ack(self, now: float, latency: float) -> None:
        self.acked += 1
        bucket = self.second(now)
        bucket.acked += 1
        bucket.ack.record(latency)

    def on_delivery(self, now: float, latency: float) -> None:
        self.delivered += 1
        bucket = self.second(now)
        bucket.delivered += 1
        bucket.delivery.record(latency)

    def on_error(self, code: str, n: int = 1) -> None:
        self.errors_by_code[code] = self.errors_by_code.get(code, 0) + n

    @property
    def errors(self) -> int:
        return sum(self.errors_by_code.values())

    def snapshot(self, now: float) -> Snapshot:
        """Totals so far, with the p99 latency of the current and previous second."""
        index = max(int(now - self.origin), 0)
        recent = LatencyHistogram()
        for i in (index - 1, index):
            bucket = self.seconds.get(i)
            if bucket is not None:
                recent.merge(bucket.delivery if bucket.delivery.count else bucket.ack)
        return Snapshot(
            connections_up=self.connections_up,
            connection_failures=self.connection_failures,
            sent=self.sent,
            acked=self.acked,
            delivered=self.delivered,
            errors=self.errors,
            recent_p99=recent.percentile(99),
        )

    def merge(self, other: WorkerStats) -> None:
        """Add another worker's results (its seconds are aligned by index)."""
        for index, bucket in other.seconds.items():
            mine = self.seconds.get(index)
            if mine is None:
                mine = self.seconds[index] = Second()
            mine.merge(bucket)
        self.connections_up += other.connections_up
        self.connections_opened += other.connections_opened
        self.connection_failures += other.connection_failures
        self.disconnects += other.disconnects
        self.sent += other.sent
        self.acked += other.acked
        self.delivered += other.delivered
        for code, n in other.errors_by_code.items():
            self.on_error(code, n)
        self.integrity.merge(other.integrity)
        self.cpu_seconds += other.cpu_seconds
        self.measured_seconds = max(self.measured_seconds, other.measured_seconds)

    def latency(self, kind: str) -> LatencyHistogram:
        """All ``"ack"``, ``"delivery"`` or ``"send_lag"`` times of the run, merged."""
        merged = LatencyHistogram()
        for bucket in self.seconds.values():
            merged.merge(getattr(bucket, kind))
        return merged
