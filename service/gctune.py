"""Garbage-collector settings for the server and the load generator: short, bounded pauses.

A Chorus process keeps most of what it allocates for long (items, subscribers, the frames of
recent changes), and CPython's generations work against that: young collections found almost
nothing to free (``collected=0``) but walked tens of thousands of survivors each, more slowly as
the heap grew (15 ms after 10 s at 1,000 creates/s, 80 ms after two minutes, with a young
threshold of 50,000), and every 20th would have walked all their survivors again at once.

So survivors are frozen: after every collection ``gc.freeze()`` moves what survived out of the
collector's way, and an object is walked by one young collection only, whatever the size of
the heap. Frozen objects are still freed by reference counting (an ended connection's objects
form no cycle: see ``Connection._break_cycles``); only reference cycles that end up frozen
wait for a full collection, which ``collect_on_schedule`` runs once the frozen heap has
doubled, and grown by at least ``FULL_MINIMUM`` objects, since the last one: what such cycles
hold stays within the size of what is live, and full collections get rarer as the heap grows.
A full collection costs about a microsecond per object (0.2 s for 300,000 here): it is the
one long pause left, and it is logged.
"""

import gc
import logging
import time
from typing import Any

import trio

log = logging.getLogger(__name__)

# Net allocations of tracked objects before a young collection. CPython counts frees of older
# objects against it, so a young collection walks up to about three times this many: with
# 5,000, young collections took 6.6 ms at the median (17.6 ms at most) after four minutes at
# 1,000 creates/s; with 700, 1.3 ms (4.4 at most) after 40 s.
YOUNG_THRESHOLD = 1_000
# The older generations only ever hold what arrived since the last freeze, so their
# collections are no longer than a young one.
GC_THRESHOLDS = (YOUNG_THRESHOLD, 10, 10)
# A full collection once the frozen heap has grown by this factor and by FULL_MINIMUM objects.
FULL_GROWTH = 2.0
FULL_MINIMUM = 1_000_000
# How often ``collect_on_schedule`` looks; it also runs a young collection when none ran for
# that long, which bounds what one walks when frees keep the net count from rising.
CHECK_INTERVAL = 1.0


class _FreezeSurvivors:
    """The collector callback: freeze what a collection left, and count it.

    ``gc.get_freeze_count()`` walks every frozen object, so the frozen heap's growth is
    estimated here, in O(1): what each collection started with (the net allocations since the
    last freeze) less what it freed.
    """

    def __init__(self) -> None:
        self._examined = 0
        self.collections = 0
        self.frozen_since_full = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector once it has finished: freezing only relinks lists.
        if phase == "start":
            self._examined = gc.get_count()[0]
            return
        self.collections += 1
        self.frozen_since_full += max(0, self._examined - info["collected"])
        gc.freeze()


_survivors = _FreezeSurvivors()


def tune_garbage_collector() -> None:
    """Freeze what exists (the start-up, the open connections), then every collection's survivors.

    Call ``collect_on_schedule`` in the same process to free the reference cycles that end up
    frozen. Measured side by side: see bench/RESULTS.md ("Garbage collection").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if _survivors not in gc.callbacks:
        gc.callbacks.append(_survivors)


def collect_everything() -> tuple[int, float]:
    """A full collection over every object, frozen ones included: (objects freed, seconds)."""
    started = time.perf_counter()
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    return freed, time.perf_counter() - started


async def collect_on_schedule(
    *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Forever: a young collection when none ran for a while, a full one when the heap doubled."""
    frozen = gc.get_freeze_count()
    _survivors.frozen_since_full = 0
    task_status.started()
    seen = _survivors.collections
    while True:
        await trio.sleep(CHECK_INTERVAL)
        if _survivors.collections == seen:
            gc.collect(0)
        seen = _survivors.collections
        grown = _survivors.frozen_since_full
        if grown < max((FULL_GROWTH - 1) * frozen, FULL_MINIMUM):
            continue
        freed, seconds = collect_everything()
        before, frozen = frozen + grown, gc.get_freeze_count()
        _survivors.frozen_since_full = 0
        seen = _survivors.collections
        log.info(
            "full garbage collection",
            extra={
                "objects_before": before,
                "objects_after": frozen,
                "freed": freed,
                "pause_ms": round(seconds * 1000, 1),
            },
        )
