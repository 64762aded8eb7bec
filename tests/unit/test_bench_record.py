"""The benchmark suite's figures read from a load test's report."""

from typing import Any

from bench.disk import SyncProbe
from bench.run import METRICS, median_second_p99, record_disk
from bench.table import Results


def second(index: int, sent: int, p99: float | None) -> dict[str, Any]:
    return {"second": index, "sent": sent, "delivery_p99_ms": p99}


def test_the_median_second_ignores_one_pause_and_the_ragged_end() -> None:
    timeline = [second(i, 1000, 3.0 + i / 10) for i in range(10)]
    timeline[5] = second(5, 1000, 45.0)  # a collection's second
    timeline.append(second(10, 2, 80.0))  # the last instant's stragglers
    # Whole seconds, sorted: 3.0 3.1 3.2 3.3 3.4 3.6 3.7 3.8 3.9 45.0 -> median (3.4 + 3.6) / 2.
    assert abs(median_second_p99({"timeline": timeline}) - 3.5) < 1e-9


def test_seconds_without_deliveries_do_not_count() -> None:
    timeline = [second(0, 1000, 2.0), second(1, 1000, None), second(2, 1000, 4.0)]
    assert median_second_p99({"timeline": timeline}) == 3.0
    assert median_second_p99({"timeline": []}) == 0.0


def disk_results() -> Results:
    return Results(targets=["chorus-sqlite"], metrics=METRICS)


def test_a_calm_disk_probe_adds_its_figures_and_no_note() -> None:
    results = disk_results()
    record_disk(results, "chorus-sqlite", "r0-chorus-sqlite-fixed", SyncProbe(1500, 0.2, 0.6, 4.0))
    assert results.values["chorus-sqlite"] == {"disk_p99": [0.6], "disk_max": [4.0]}
    assert results.notes == []


def test_a_stall_in_the_probe_is_noted_under_the_table() -> None:
    results = disk_results()
    record_disk(
        results, "chorus-sqlite", "r1-chorus-sqlite-fixed", SyncProbe(1400, 0.2, 1.1, 130.9)
    )
    assert results.notes == [
        "r1-chorus-sqlite-fixed: the disk stalled for 131 ms in the probe before it"
        " (1400 syncs, p99 1.10 ms); its figures include such stalls"
    ]
