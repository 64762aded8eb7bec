"""Garbage-collector settings for the server and the load generator: fewer, cheaper pauses."""

import gc

# Objects allocated before a young collection runs, and young collections per older one.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    """Collect garbage less often than CPython's default (700, 10, 10), after freezing.

    A server allocates many short-lived objects per event; with the defaults, full collections
    over every connection's and conversation's objects stalled the event loop often enough to
    dominate tail latency. Measured side by side (bench, 1,000 creates/s, 250 x (1 + 3)):
    p99 create->delivery 322 -> 8 ms on memory://, 717 -> 21 ms on SQLite; saturation +20 %.
    The load generator keeps what it has learnt per delivery, so its own collections delayed the
    timestamps it takes: tuned the same way once its connections are open, its p99 at 1,000/s
    against Chorus went from 3.8 to 2.8 ms. ``freeze`` moves everything allocated so far (the
    start-up, the open connections) out of the collector's way for good.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
