"""Garbage-collector settings for the server and the load generator: short, bounded pauses.

CPython's collector walks every object of a generation it collects. A server keeps what it has
accepted (items, recent changes) for as long as their conversation is live, so with the stock
policy every twentieth young collection walked again all that the last twenty had kept: a stall
of 0.92 and 1.26 s (two runs) about four and a half minutes into a load of 1,000 creates/s on
SQLite, and again every twenty young collections after. Chorus makes no reference cycles among
what it keeps (ended connections and passivated conversations are freed by reference counting;
tests/integration/test_connection_reclaim.py), so those walks free nothing: full collections
every 5 s under connection churn and passivation found nothing to free (nor, since the codec
drops the tracebacks of rejected events' error trees, under bad input). So every collection's
survivors are frozen (``gc.freeze``): each object is walked by one young collection, and the
older generations stay empty.

The cost: a cycle made of objects that had survived a collection would never be freed. None is
known; a new one would show as memory that grows with connections or conversations that have
ended.
"""

import bisect
import gc
import time

# Objects allocated (net) before a young collection runs, and the older generations' counts,
# which no longer matter: their collections find them empty. With survivors frozen, each
# object is walked once whatever the threshold, so a lower one trades the same work for more,
# shorter pauses (see ``tune_garbage_collector``).
GC_THRESHOLDS = (10_000, 20, 100)

# Upper bounds of the pause histogram, in seconds.
PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class CollectorPauses:
    """Every collection's pause since tuning, counted by generation into ``PAUSE_BUCKETS``.

    Plain integers, no lock: a collection can start inside any code at all, including code that
    holds a lock a metrics library would need (prometheus-client's). Read at scrape time.
    """

    def __init__(self) -> None:
        # Per generation: one count per bucket, then the count above the last bound.
        self.counts = [[0] * (len(PAUSE_BUCKETS) + 1) for _ in range(3)]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def after_collection(self, phase: str, info: dict[str, int]) -> None:
        """The gc callback: time each collection, then freeze what survived it."""
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info["generation"]
        self.counts[generation][bisect.bisect_left(PAUSE_BUCKETS, pause)] += 1
        self.seconds[generation] += pause
        gc.freeze()


PAUSES = CollectorPauses()


def tune_garbage_collector() -> None:
    """Freeze what exists, then after every collection; young collections every 10,000 objects.

    Against CPython's defaults (700, 10, 10), with a young threshold of 50,000 and no freezing
    then (bench, 1,000 creates/s, 250 x (1 + 3)): p99 create->delivery 322 -> 8 ms on memory://,
    717 -> 21 ms on SQLite; saturation +20 %. The young threshold sets the pause: each young
    collection walks what is young and alive, ~1 µs an object, and once conversations' rings
    of recent changes are full it walks about twice its threshold (CPython counts the frees of
    older objects against it). Side by side on one machine, 10,000 against 50,000: the longest
    pause in 90 s at 1,000/s 34-49 against 126-154 ms, p99.9 create->delivery on memory:// 43
    and 88 against 119 and 108 ms; saturation throughput unchanged, its p99 54-74 against
    72-102 ms; ~0.4 % of a core more in collections. The price: at that load a collection falls
    into most seconds, so a typical second's p99 is 2-4 ms higher (bench/RESULTS.md, "Young
    collections every 10,000 objects").

    The load generator keeps what it has learnt per delivery, so its own collections delayed the
    timestamps it takes: it is tuned the same way once its connections are open.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if PAUSES.after_collection not in gc.callbacks:
        gc.callbacks.append(PAUSES.after_collection)
