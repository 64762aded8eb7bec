"""The latency histogram: exact for small values, within 1% above, mergeable."""

import math

from hypothesis import given
from hypothesis import strategies as st

from service.loadtest.histogram import LatencyHistogram, bucket_bounds, bucket_of


def nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_empty_histogram_has_no_percentiles() -> None:
    hist = LatencyHistogram()
    assert hist.percentile(50) is None
    assert hist.max is None
    assert hist.mean is None


def test_small_values_are_exact() -> None:
    hist = LatencyHistogram()
    for micros in range(1, 101):
        hist.record(micros / 1_000_000)
    assert hist.percentile(50) == 50 / 1_000_000
    assert hist.percentile(99) == 99 / 1_000_000
    assert hist.percentile(100) == 100 / 1_000_000
    assert hist.max == 100 / 1_000_000


@given(st.integers(min_value=0, max_value=10**9))
def test_every_value_falls_inside_its_bucket(micros: int) -> None:
    low, high = bucket_bounds(bucket_of(micros))
    assert low <= micros < high
    assert high - low <= max(1, low // 128)


@given(
    st.lists(st.integers(min_value=0, max_value=10**8), min_size=1, max_size=300),
    st.sampled_from([50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_percentile_is_within_one_percent_and_never_below(values: list[int], q: float) -> None:
    hist = LatencyHistogram()
    for micros in values:
        hist.record(micros / 1_000_000)
    exact = nearest_rank(values, q)
    got = hist.percentile(q)
    assert got is not None
    got_us = round(got * 1_000_000)
    assert exact <= got_us <= exact + max(1, exact // 100)


@given(st.lists(st.integers(0, 10**7)), st.lists(st.integers(0, 10**7)))
def test_merge_equals_recording_everything_in_one(left: list[int], right: list[int]) -> None:
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for micros in left:
        a.record(micros / 1e6)
        both.record(micros / 1e6)
    for micros in right:
        b.record(micros / 1e6)
        both.record(micros / 1e6)
    a.merge(b)
    assert a == both
