"""Checks that every connection saw a writer's items exactly once and in the order sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs


@attrs.define
class IntegrityCounts:
    """Integrity violations; every field is zero in a correct run.

    - ``gaps``: items a connection is missing although it saw a later item of the same writer.
    - ``duplicates``: deliveries of an item the connection had already received.
    - ``out_of_order``: deliveries of an item older than one already received.
    - ``final_list_mismatches``: observers whose final item list differs from the writer's.
    - ``unacknowledged``: creates that got neither an acknowledgement nor an error.
    """

    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    final_list_mismatches: int = 0
    unacknowledged: int = 0

    @property
    def total(self) -> int:
        return (
            self.gaps
            + self.duplicates
            + self.out_of_order
            + self.final_list_mismatches
            + self.unacknowledged
        )

    def merge(self, other: IntegrityCounts) -> None:
        self.gaps += other.gaps
        self.duplicates += other.duplicates
        self.out_of_order += other.out_of_order
        self.final_list_mismatches += other.final_list_mismatches
        self.unacknowledged += other.unacknowledged


def _scan(received: Sequence[int], expected: set[int], counts: IntegrityCounts) -> list[int]:
    """Count duplicates, out-of-order deliveries and gaps in one connection's received seqs.

    Returns the received seqs with duplicates removed, in arrival order.
    """
    seen: set[int] = set()
    unique: list[int] = []
    highest = -1
    for seq in received:
        if seq in seen:
            counts.duplicates += 1
            continue
        seen.add(seq)
        unique.append(seq)
        if seq < highest:
            counts.out_of_order += 1
        else:
            highest = seq
    counts.gaps += sum(1 for seq in expected if seq < highest and seq not in seen)
    return unique


def check_conversation(
    sent: int,
    rejected: Iterable[int],
    writer_received: Sequence[int],
    observers_received: Iterable[Sequence[int]],
) -> IntegrityCounts:
    """Check one conversation whose writer sent seqs ``0 .. sent-1``.

    ``rejected`` are the seqs the server answered with an error; ``writer_received`` and each of
    ``observers_received`` are the seqs each connection received, in arrival order.
    """
    counts = IntegrityCounts()
    accepted = set(range(sent)).difference(rejected)
    gaps_before = counts.gaps
    writer_list = _scan(writer_received, accepted, counts)
    # A missing acknowledgement before the writer's last one is already counted as a gap.
    writer_gaps = counts.gaps - gaps_before
    counts.unacknowledged = len(accepted.difference(writer_list)) - writer_gaps
    committed = set(writer_list)
    for received in observers_received:
        if _scan(received, committed, counts) != writer_list:
            counts.final_list_mismatches += 1
    return counts
