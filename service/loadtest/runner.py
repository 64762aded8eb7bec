"""Runs a load test in this process or spread over worker processes, and merges the results."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import resource
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

import attrs
import trio

from service.loadtest.config import LoadConfig
from service.loadtest.progress import ProgressDisplay
from service.loadtest.report import LoadReport, build_report
from service.loadtest.stats import SNAPSHOT_FLOATS, Snapshot, WorkerStats
from service.loadtest.worker import cpu_seconds, hard_deadline, run_worker

# Beyond the workers' own deadline: time for spawning, importing and returning results.
_PROCESS_GRACE = 30.0


class LoadTestError(RuntimeError):
    """A worker process failed or did not report back."""


@attrs.define
class LocalSink:
    """Keeps the latest snapshot of a worker running in this process."""

    latest: Snapshot = attrs.field(factory=Snapshot)

    def publish(self, snapshot: Snapshot) -> None:
        self.latest = snapshot

    def read(self) -> Snapshot:
        return self.latest


@attrs.define
class SharedSink:
    """Writes a worker's snapshot into its slot of an array shared with the parent."""

    array: Any
    slot: int

    def publish(self, snapshot: Snapshot) -> None:
        start = self.slot * SNAPSHOT_FLOATS
        self.array[start : start + SNAPSHOT_FLOATS] = snapshot.to_floats()


def raise_open_file_limit(needed: int) -> None:
    """Raise the soft descriptor limit towards the hard one when ``needed`` would exceed it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed + 64:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, needed + 1024)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def shares(conversations: int, processes: int) -> list[list[int]]:
    """Conversation indices for each worker, dealt round-robin."""
    return [list(range(w, conversations, processes)) for w in range(processes)]


def run_load(cfg: LoadConfig, out: TextIO, *, own_process: bool = False) -> LoadReport:
    """Run the whole load test, showing progress on ``out``; returns the report.

    ``own_process``: the caller is a process of its own (the command), whose garbage collector
    a single worker may tune; worker processes always do.

    Raises LoadTestError if a worker process fails.
    """
    raise_open_file_limit(cfg.connections)
    wall_before = time.monotonic()
    cpu_before = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN)
    if cfg.processes == 1:
        stats = trio.run(_run_here, cfg, out, own_process)
    else:
        stats = trio.run(_run_processes, cfg, out)
    cpu = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    return build_report(cfg, stats, cpu, time.monotonic() - wall_before)


async def _run_here(cfg: LoadConfig, out: TextIO, tune_gc: bool) -> WorkerStats:
    sink = LocalSink()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ProgressDisplay(cfg, sink.read, out).run)
        stats = await run_worker(cfg, range(cfg.conversations), sink, tune_gc=tune_gc)
        nursery.cancel_scope.cancel()
    return stats


def _worker_main(
    cfg: LoadConfig,
    indices: Sequence[int],
    slot: int,
    array: Any,
    barrier: Any,
    results: Any,
) -> None:
    """Entry point of a worker process: run its share and put ``(slot, stats, error)``.

    The worker connects, then meets the parent and the other workers at ``barrier`` so that
    every worker's measured run starts together.
    """

    async def gate() -> None:
        await trio.to_thread.run_sync(barrier.wait, abandon_on_cancel=True)

    try:
        raise_open_file_limit(len(indices) * (1 + cfg.observers))
        stats = trio.run(
            functools.partial(run_worker, tune_gc=True), cfg, indices, SharedSink(array, slot), gate
        )
        results.put((slot, stats, None))
    except BaseException as exc:  # the parent must hear about any failure, then we exit
        results.put((slot, None, f"{type(exc).__name__}: {exc}"))


async def _run_processes(cfg: LoadConfig, out: TextIO) -> WorkerStats:
    ctx = multiprocessing.get_context("spawn")
    array = ctx.Array("d", cfg.processes * SNAPSHOT_FLOATS, lock=False)
    barrier = ctx.Barrier(cfg.processes + 1, timeout=hard_deadline(cfg))
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(cfg, indices, slot, array, barrier, results),
            daemon=True,
        )
        for slot, indices in enumerate(shares(cfg.conversations, cfg.processes))
    ]
    for proc in procs:
        proc.start()

    def read() -> Snapshot:
        values = list(array)
        return Snapshot.combine(
            [
                Snapshot.from_floats(values[s * SNAPSHOT_FLOATS : (s + 1) * SNAPSHOT_FLOATS])
                for s in range(cfg.processes)
            ]
        )

    async def open_gate() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            await trio.to_thread.run_sync(barrier.wait, abandon_on_cancel=True)

    merged = WorkerStats()
    failures: list[str] = []
    try:
        with trio.move_on_after(hard_deadline(cfg) + _PROCESS_GRACE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ProgressDisplay(cfg, read, out).run)
                nursery.start_soon(open_gate)
                for _ in procs:
                    slot, stats, error = await trio.to_thread.run_sync(
                        results.get, abandon_on_cancel=True
                    )
                    if error is not None:
                        failures.append(f"worker {slot}: {error}")
                        barrier.abort()  # a dead worker never arrives: fail the others fast
                    else:
                        merged.merge(stats)
                nursery.cancel_scope.cancel()
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
    if failures:
        raise LoadTestError("; ".join(failures))
    return merged
