"""A mergeable log-bucketed latency histogram (HDR-style, under 1% relative error)."""

from __future__ import annotations

import math

import attrs

# Values below 2**_SUB_BITS microseconds are stored exactly; above, each power-of-two range is
# split into 2**(_SUB_BITS - 1) buckets, so a bucket is never wider than 1/128 of its value.
_SUB_BITS = 8
_HALF = 1 << (_SUB_BITS - 1)
_EXACT = 1 << _SUB_BITS


def bucket_of(micros: int) -> int:
    """The bucket key of a non-negative latency in whole microseconds (monotonic in the value)."""
    if micros < _EXACT:
        return max(micros, 0)
    shift = micros.bit_length() - _SUB_BITS
    return shift * _HALF + (micros >> shift)


def bucket_bounds(key: int) -> tuple[int, int]:
    """The half-open range ``[low, high)`` of microsecond values that fall into bucket ``key``."""
    if key < _EXACT:
        return key, key + 1
    shift = key // _HALF - 1
    mantissa = key - shift * _HALF
    return mantissa << shift, (mantissa + 1) << shift


@attrs.define
class LatencyHistogram:
    """Counts of latencies by bucket; record in seconds, read percentiles in seconds."""

    counts: dict[int, int] = attrs.field(factory=dict)
    count: int = 0
    total_us: int = 0
    max_us: int = 0

    def record(self, seconds: float) -> None:
        micros = max(int(seconds * 1_000_000 + 0.5), 0)  # rounded: 3931e-6 * 1e6 < 3931
        key = bucket_of(micros)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.count += 1
        self.total_us += micros
        self.max_us = max(self.max_us, micros)

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s samples to this histogram."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)

    def percentile(self, q: float) -> float | None:
        """The nearest-rank ``q``-th percentile (0 < q <= 100) in seconds; None when empty.

        The value returned is the upper edge of the sample's bucket, clamped to the maximum seen,
        so it never understates a latency and is exact below 256 microseconds.
        """
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                low, high = bucket_bounds(key)
                value = low if key < _EXACT else min(high - 1, self.max_us)
                return value / 1_000_000
        return self.max_us / 1_000_000

    @property
    def mean(self) -> float | None:
        return None if self.count == 0 else self.total_us / self.count / 1_000_000

    @property
    def max(self) -> float | None:
        return None if self.count == 0 else self.max_us / 1_000_000
