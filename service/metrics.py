"""Prometheus metrics of one server: what is defined, the small API that feeds it, and rendering.

Each server owns a ``Metrics`` with its own ``CollectorRegistry`` (several servers can run in one
test process). Counters are fed where things happen (connections, errors, closes); gauges that
mirror live state (conversations, queue depths) are read from the registry at scrape time. Hooks
for features built elsewhere (dialects, observer role, passivation) take their label or are
plain calls, so wiring them is one line at the place where the thing happens.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from actors.registry import Registry
from actors.store.base import EventStore, NewEvent, StoredEvent
from service.gctune import PAUSE_BUCKETS, PAUSES, CollectorPauses

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Append latency is dominated by fsync: sub-millisecond on tmpfs, a few ms on SSDs, more on disks.
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Broadcast lag in events: how many events were queued ahead of each one a connection sent.
LAG_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Every metric Chorus exports; create one per server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge(
            "chorus_connections", "Open WebSocket connections.", ["dialect", "role"], registry=r
        )
        self.connections_opened = Counter(
            "chorus_connections_opened",
            "WebSocket connections accepted.",
            ["dialect", "role"],
            registry=r,
        )
        self.handshake_rejections = Counter(
            "chorus_handshake_rejections",
            "WebSocket handshakes refused before the upgrade, by HTTP status and error code.",
            ["status", "code"],
            registry=r,
        )
        self.connection_closes = Counter(
            "chorus_connection_closes",
            "WebSocket connections closed by the server, by close code.",
            ["code"],
            registry=r,
        )
        self.slow_consumer_closes = Counter(
            "chorus_slow_consumer_closes",
            "Connections closed because their outbound queue was full.",
            registry=r,
        )
        self.errors = Counter(
            "chorus_errors", "error events sent to clients, by error code.", ["code"], registry=r
        )
        self.events_appended = Counter(
            "chorus_events_appended", "Events durably appended to the log.", registry=r
        )
        self.append_failures = Counter(
            "chorus_append_failures", "Appends that raised (conflicts, I/O).", registry=r
        )
        self.append_latency = Histogram(
            "chorus_append_latency_seconds",
            "Time from an actor's append call to the events being durable.",
            buckets=APPEND_BUCKETS,
            registry=r,
        )
        self.appends_in_flight = Gauge(
            "chorus_store_appends_in_flight",
            "Appends waiting for or inside a commit (the store's queue depth).",
            registry=r,
        )
        self.broadcast_lag = Histogram(
            "chorus_broadcast_lag_events",
            "Events already queued for a connection when it sends one (how far behind it is);"
            " sampled: every 16th broadcast of each connection.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.live_conversations = Gauge(
            "chorus_live_conversations", "Conversation actors in memory.", registry=r
        )
        self.actor_inbox_depth = Gauge(
            "chorus_actor_inbox_depth",
            "Requests waiting in conversation actors' inboxes, summed over all actors.",
            registry=r,
        )
        self.actor_inbox_depth_max = Gauge(
            "chorus_actor_inbox_depth_max",
            "The fullest conversation actor's inbox.",
            registry=r,
        )
        self.actor_crashes = Gauge(
            "chorus_actor_crashes", "Conversation actors that crashed since start.", registry=r
        )
        # Read from the registry's counters at every scrape (gauges, since prometheus-client's
        # counters cannot read a value; they only ever grow all the same).
        self.passivations = Gauge(
            "chorus_passivations",
            "Idle conversation actors stopped to free memory, since start.",
            registry=r,
        )
        self.revivals = Gauge(
            "chorus_revivals",
            "Conversations started again from the log (after passivation or restart), since start.",
            registry=r,
        )
        self.catch_ups = Gauge(
            "chorus_catch_ups",
            "History replays from the log to joining connections, since start.",
            registry=r,
        )
        r.register(CollectorPauseMetric(PAUSES))

    def watch(self, registry: Registry) -> None:
        """Read the live-state gauges from ``registry`` at every scrape."""
        self.live_conversations.set_function(lambda: len(registry))
        self.actor_crashes.set_function(lambda: registry.crashes)
        self.passivations.set_function(lambda: registry.counters.passivations)
        self.revivals.set_function(lambda: registry.counters.revivals)
        self.catch_ups.set_function(lambda: registry.counters.catch_ups)

        def depths() -> list[int]:
            return [a.inbox.statistics().current_buffer_used for a in registry.live()]

        self.actor_inbox_depth.set_function(lambda: sum(depths()))
        self.actor_inbox_depth_max.set_function(lambda: max(depths(), default=0))

    def connection_opened(self, *, dialect: str, role: str) -> Gauge:
        """Count one open connection of ``dialect`` and ``role``; ``dec()`` the returned gauge
        when it closes (a plain call: a context manager per connection cost ~0.4 KiB each)."""
        self.connections_opened.labels(dialect, role).inc()
        gauge = self.connections.labels(dialect, role)
        gauge.inc()
        return gauge

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def closed(self, code: int) -> None:
        self.connection_closes.labels(str(code)).inc()

    def handshake_rejected(self, status: int, code: str) -> None:
        self.handshake_rejections.labels(str(status), code).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class CollectorPauseMetric(Collector):
    """``chorus_gc_pause_seconds{generation}``: the garbage collector's pauses, read at scrape.

    Every connection and conversation waits while a collection runs, so its pauses are part of
    every latency the server has (see ``service/gctune.py``). Empty until the collector is tuned.
    """

    def __init__(self, pauses: CollectorPauses) -> None:
        self._pauses = pauses

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "chorus_gc_pause_seconds",
            "Garbage collections and how long each held the interpreter, by generation.",
            labels=["generation"],
        )
        bounds = [str(bound) for bound in PAUSE_BUCKETS] + ["+Inf"]
        for generation, counts in enumerate(self._pauses.counts):
            family.add_metric(
                [str(generation)],
                list(zip(bounds, accumulate(counts), strict=True)),
                self._pauses.seconds[generation],
            )
        yield family


class InstrumentedStore:
    """An EventStore that times and counts appends, delegating everything to ``inner``."""

    def __init__(
        self, inner: EventStore, metrics: Metrics, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.inner = inner
        self._metrics = metrics
        self._clock = clock
        # A plain count, read at each scrape: a gauge's inc() and dec() take a lock each, twice
        # per append on the hot path.
        self.in_flight = 0
        metrics.appends_in_flight.set_function(lambda: self.in_flight)

    @property
    def log_id(self) -> str:
        return self.inner.log_id

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        metrics = self._metrics
        self.in_flight += 1
        started = self._clock()
        try:
            version = await self.inner.append(conversation_id, expected_version, events)
        except BaseException:
            metrics.append_failures.inc()
            raise
        finally:
            self.in_flight -= 1
        metrics.append_latency.observe(self._clock() - started)
        metrics.events_appended.inc(len(events))
        return version

    async def read(
        self, conversation_id: str, after_version: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        return await self.inner.read(conversation_id, after_version, limit)

    async def current_version(self, conversation_id: str) -> int:
        return await self.inner.current_version(conversation_id)
