"""The collector settings the server and the load generator run with (in a process of its own).

Tuning changes the collector of the whole process (thresholds, a callback, frozen objects), so
each test that tunes runs in a fresh interpreter.
"""

import json
import subprocess
import sys
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from service import gctune
from service.metrics import CollectorPauseMetric


def run_tuned(body: str) -> Any:
    """Run ``body`` after tuning, in a new interpreter; it prints JSON, which this returns."""
    script = "import gc, json\nfrom service import gctune\ngctune.tune_garbage_collector()\n" + body
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(output)


def test_tuning_freezes_what_exists_and_sets_the_thresholds() -> None:
    found = run_tuned("print(json.dumps([gc.get_threshold(), gc.get_freeze_count() > 0]))")
    assert found == [list(gctune.GC_THRESHOLDS), True]


def test_tuning_twice_registers_one_callback() -> None:
    body = (
        "gctune.tune_garbage_collector()\n"
        "print(json.dumps(gc.callbacks.count(gctune.PAUSES.after_collection)))"
    )
    assert run_tuned(body) == 1


def test_each_collection_freezes_its_survivors_and_counts_its_pause() -> None:
    body = """
# Fewer than the young threshold, so no collection runs before the one the test makes.
kept = [[index] for index in range(gctune.GC_THRESHOLDS[0] // 2)]
before = gc.get_freeze_count()
gc.collect(0)
print(json.dumps({
    "frozen": gc.get_freeze_count() - before,
    "young_left": len(gc.get_objects(0)),
    "older_left": len(gc.get_objects(1)) + len(gc.get_objects(2)),
    "pauses": [sum(counts) for counts in gctune.PAUSES.counts],
    "seconds": gctune.PAUSES.seconds[0],
}))
"""
    found = run_tuned(body)
    # The lists and the list holding them, moved out of every generation.
    assert found["frozen"] >= gctune.GC_THRESHOLDS[0] // 2 + 1
    assert found["older_left"] == 0
    assert found["young_left"] < 100
    assert found["pauses"] == [1, 0, 0]
    assert found["seconds"] > 0


def test_cycles_made_after_a_collection_are_still_freed_by_the_next() -> None:
    body = """
gc.collect(0)
for _ in range(100):
    cycle = []
    cycle.append(cycle)
del cycle
print(json.dumps(gc.collect(0)))
"""
    assert run_tuned(body) == 100


def test_the_pause_metric_is_a_cumulative_histogram_by_generation() -> None:
    pauses = gctune.CollectorPauses()
    bounds = gctune.PAUSE_BUCKETS
    pauses.counts[0][0] = 3  # three pauses up to the first bound
    pauses.counts[0][2] = 1  # one in the third bucket
    pauses.counts[1][len(bounds)] = 2  # two above the last bound
    pauses.seconds[0] = 0.25
    registry = CollectorRegistry()
    registry.register(CollectorPauseMetric(pauses))
    text = generate_latest(registry).decode()
    assert f'chorus_gc_pause_seconds_bucket{{generation="0",le="{bounds[0]}"}} 3.0' in text
    assert f'chorus_gc_pause_seconds_bucket{{generation="0",le="{bounds[1]}"}} 3.0' in text
    assert f'chorus_gc_pause_seconds_bucket{{generation="0",le="{bounds[2]}"}} 4.0' in text
    assert 'chorus_gc_pause_seconds_count{generation="0"} 4.0' in text
    assert 'chorus_gc_pause_seconds_sum{generation="0"} 0.25' in text
    assert f'chorus_gc_pause_seconds_bucket{{generation="1",le="{bounds[-1]}"}} 0.0' in text
    assert 'chorus_gc_pause_seconds_bucket{generation="1",le="+Inf"} 2.0' in text
    assert 'chorus_gc_pause_seconds_count{generation="2"} 0.0' in text
