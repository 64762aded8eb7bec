"""InstrumentedStore: the in-flight gauge and the append counters, read from the registry."""

from collections.abc import Sequence

import pytest
import trio
import trio.testing

from actors.store.base import NewEvent, VersionConflict
from actors.store.memory import MemoryEventStore
from service.metrics import InstrumentedStore, Metrics


class HeldStore(MemoryEventStore):
    """A memory store whose appends wait for ``release`` before they happen."""

    def __init__(self) -> None:
        super().__init__()
        self.release = trio.Event()

    async def append(
        self, conversation_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> int:
        await self.release.wait()
        return await super().append(conversation_id, expected_version, events)


def sample(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


async def test_in_flight_counts_appends_until_they_return() -> None:
    metrics = Metrics()
    inner = HeldStore()
    store = InstrumentedStore(inner, metrics)
    event = NewEvent("item.created", b"{}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.append, "a", 0, [event])
        nursery.start_soon(store.append, "b", 0, [event, event])
        await trio.testing.wait_all_tasks_blocked()
        assert sample(metrics, "chorus_store_appends_in_flight") == 2
        inner.release.set()
    assert sample(metrics, "chorus_store_appends_in_flight") == 0
    assert sample(metrics, "chorus_events_appended_total") == 3
    assert sample(metrics, "chorus_append_latency_seconds_count") == 2


async def test_a_failed_append_is_no_longer_in_flight_and_counts_as_a_failure() -> None:
    metrics = Metrics()
    store = InstrumentedStore(MemoryEventStore(), metrics)
    with pytest.raises(VersionConflict):
        await store.append("a", 5, [NewEvent("item.created", b"{}")])
    assert sample(metrics, "chorus_store_appends_in_flight") == 0
    assert sample(metrics, "chorus_append_failures_total") == 1
    assert sample(metrics, "chorus_events_appended_total") == 0
