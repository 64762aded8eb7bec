"""One load-generating trio loop: runs a share of the conversations and returns its stats."""

from __future__ import annotations

import resource
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import trio

from service import gctune
from service.loadtest.config import LoadConfig
from service.loadtest.rawws import Reactor
from service.loadtest.session import ConversationRunner, Schedule
from service.loadtest.stats import Snapshot, WorkerStats

PUBLISH_INTERVAL = 0.25


class ProgressSink(Protocol):
    """Where a worker publishes its live totals (a local variable or shared memory)."""

    def publish(self, snapshot: Snapshot) -> None: ...


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def hard_deadline(cfg: LoadConfig) -> float:
    """Seconds after which a worker gives up, whatever the server does."""
    return cfg.ramp + 3 * cfg.connect_timeout + cfg.duration + cfg.drain_timeout + 10.0


async def _publish(stats: WorkerStats, schedule: Schedule, sink: ProgressSink) -> None:
    while True:
        now = trio.current_time()
        snapshot = stats.snapshot(now)
        if schedule.go.is_set():
            snapshot = snapshot.started(now - schedule.origin)
        sink.publish(snapshot)
        await trio.sleep(PUBLISH_INTERVAL)


async def run_worker(
    cfg: LoadConfig,
    indices: Sequence[int],
    sink: ProgressSink,
    gate: Callable[[], Awaitable[None]] | None = None,
    *,
    tune_gc: bool = False,
) -> WorkerStats:
    """Connect the conversations ``indices``, pass ``gate`` (all workers connected), then run.

    Opens connections spread over ``cfg.ramp`` seconds and at most ``cfg.connect_concurrency``
    handshakes at a time. Returns after every conversation has drained and closed, or at the
    hard deadline. ``tune_gc`` (for a process of its own: it changes the whole process) sets
    the collector as the server does once the connections are open.
    """
    stats = WorkerStats()
    schedule = Schedule()
    limiter = trio.CapacityLimiter(cfg.connect_concurrency)
    began = trio.current_time()
    cpu_before = cpu_seconds()
    with trio.move_on_after(hard_deadline(cfg)):
        async with trio.open_nursery() as outer:
            outer.start_soon(_publish, stats, schedule, sink)
            reactor: Reactor | None = None
            if cfg.client == "raw" and Reactor.available():
                reactor = Reactor()
                await outer.start(reactor.run)
            async with trio.open_nursery() as conversations:
                async with trio.open_nursery() as starters:
                    for index in indices:
                        if cfg.ramp:
                            await trio.sleep_until(began + cfg.ramp * index / cfg.conversations)
                        runner = ConversationRunner(cfg, index, stats, schedule, limiter, reactor)
                        starters.start_soon(conversations.start, runner.run)
                if gate is not None:
                    await gate()
                if tune_gc:  # its collections would delay the timestamps it takes
                    gctune.tune_garbage_collector()
                cpu_before = cpu_seconds()
                schedule.origin = stats.origin = trio.current_time()
                schedule.stop_at = schedule.origin + cfg.duration
                schedule.go.set()
            stats.cpu_seconds = cpu_seconds() - cpu_before
            stats.measured_seconds = trio.current_time() - schedule.origin
            outer.cancel_scope.cancel()
    sink.publish(stats.snapshot(trio.current_time()).started(cfg.duration))
    return stats
