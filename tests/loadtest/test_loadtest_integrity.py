"""Integrity checking: gaps, duplicates, out-of-order deliveries and final-list mismatches."""

import pytest

from service.loadtest.integrity import IntegrityCounts, check_conversation


@pytest.mark.parametrize(
    ("sent", "rejected", "writer", "observers", "expected"),
    [
        pytest.param(3, [], [0, 1, 2], [[0, 1, 2], [0, 1, 2]], IntegrityCounts(), id="clean"),
        pytest.param(3, [1], [0, 2], [[0, 2]], IntegrityCounts(), id="rejected-is-no-gap"),
        pytest.param(
            3, [], [0, 1, 2], [[0, 2]], IntegrityCounts(gaps=1, final_list_mismatches=1), id="gap"
        ),
        pytest.param(
            3,
            [],
            [0, 1, 2],
            [[0, 1, 1, 2]],
            IntegrityCounts(duplicates=1),
            id="duplicate-keeps-the-list",
        ),
        pytest.param(
            3,
            [],
            [0, 1, 2],
            [[0, 2, 1]],
            IntegrityCounts(out_of_order=1, final_list_mismatches=1),
            id="out-of-order",
        ),
        pytest.param(
            3,
            [],
            [0, 1, 2],
            [[0, 1]],
            IntegrityCounts(final_list_mismatches=1),
            id="missing-tail-is-a-mismatch-not-a-gap",
        ),
        pytest.param(
            4, [], [0, 1], [[0, 1]], IntegrityCounts(unacknowledged=2), id="unacknowledged-tail"
        ),
        pytest.param(
            3,
            [],
            [0, 2],
            [[0, 2]],
            IntegrityCounts(gaps=1, final_list_mismatches=0),
            id="writer-missing-ack-in-the-middle",
        ),
        pytest.param(
            2, [], [1, 0], [[1, 0]], IntegrityCounts(out_of_order=2), id="reordered-by-server"
        ),
    ],
)
def test_check_conversation(
    sent: int,
    rejected: list[int],
    writer: list[int],
    observers: list[list[int]],
    expected: IntegrityCounts,
) -> None:
    assert check_conversation(sent, rejected, writer, observers) == expected


def test_total_and_merge() -> None:
    counts = IntegrityCounts(gaps=1, duplicates=2)
    counts.merge(IntegrityCounts(out_of_order=3, final_list_mismatches=4, unacknowledged=5))
    assert counts == IntegrityCounts(1, 2, 3, 4, 5)
    assert counts.total == 15
