"""Idle actors passivate and come back from the log; no request is lost in the race."""

from collections.abc import Sequence
from pathlib import Path

import trio
import trio.testing

from actors.conversation import core
from actors.conversation.messages import Envelope, Join, Leave, Outbound, Published, Subscriber
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from actors.registry import Registry
from actors.store.base import NewEvent
from actors.store.memory import MemoryEventStore
from actors.store.sqlite import open_sqlite_store

TIMEOUT = 10


def create(item_id: str) -> core.CreateItem:
    part = ContentPart(ContentKind.INPUT_TEXT, text=item_id)
    return core.CreateItem(Item(item_id, ItemType.MESSAGE, role=Role.USER, content=(part,)))


def subscriber(size: int = 100) -> tuple[Subscriber, trio.MemoryReceiveChannel[Outbound]]:
    send, receive = trio.open_memory_channel[Outbound](size)
    return Subscriber(send), receive


async def changes(receive: trio.MemoryReceiveChannel[Outbound], count: int) -> list[Published]:
    received = []
    with trio.fail_after(TIMEOUT):
        for _ in range(count):
            outbound = await receive.receive()
            assert isinstance(outbound, Published), outbound
            received.append(outbound)
    return received


async def wait_passivated(registry: Registry, conversation_id: str) -> None:
    """Poll: passivation is the absence of an event, so there is nothing to wait on."""
    for _ in range(TIMEOUT * 100):
        if conversation_id not in registry:
            return
        await trio.sleep(0.01)
    raise AssertionError(f"{conversation_id} did not passivate")


async def test_idle_actor_passivates_and_revives_from_sqlite(tmp_path: Path) -> None:
    async with open_sqlite_store(tmp_path / "log.sqlite3") as store, trio.open_nursery() as nursery:
        registry = Registry(store, nursery, idle_timeout=0.05)
        writer, received = subscriber()
        await registry.send("c", Envelope(Join(writer), writer))
        for item_id in ("a", "b", "c"):
            await registry.send("c", Envelope(create(item_id), writer))
        assert [change.version for change in await changes(received, 3)] == [1, 2, 3]
        await registry.send("c", Envelope(Leave(writer), writer))
        await wait_passivated(registry, "c")
        assert registry.counters.passivations == 1
        assert registry.counters.revivals == 0

        observer, history = subscriber()
        actor = await registry.send("c", Envelope(Join(observer), observer))
        replayed = await changes(history, 3)
        assert [change.version for change in replayed] == [1, 2, 3]
        assert [item.id for item in actor.state.items()] == ["a", "b", "c"]
        assert registry.counters.revivals == 1
        await registry.send("c", Envelope(create("d"), observer))
        assert [change.version for change in await changes(history, 1)] == [4]
        nursery.cancel_scope.cancel()


async def test_actor_with_subscribers_never_passivates(autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        registry = Registry(MemoryEventStore(), nursery, idle_timeout=1)
        watcher, _ = subscriber()
        await registry.send("c", Envelope(Join(watcher), watcher))
        await trio.sleep(10)
        assert "c" in registry
        assert registry.counters.passivations == 0
        nursery.cancel_scope.cancel()


async def test_a_request_racing_passivation_is_served(autojump_clock: trio.abc.Clock) -> None:
    """The stale actor refuses what it has not taken; the registry sends it to a fresh one."""
    store = MemoryEventStore()
    async with trio.open_nursery() as nursery:
        registry = Registry(store, nursery, idle_timeout=5)
        stale = registry.actor_for("c")
        await trio.sleep(6)
        assert registry.counters.passivations == 1
        origin, _ = subscriber()
        try:
            stale.inbox.send_nowait(Envelope(create("lost?"), origin))
        except trio.ClosedResourceError:
            pass
        else:
            raise AssertionError("a passivated actor must refuse requests")
        await registry.send("c", Envelope(create("kept"), origin))
        await trio.testing.wait_all_tasks_blocked()
        assert [record.version for record in await store.read("c")] == [1]
        nursery.cancel_scope.cancel()


async def test_a_request_arriving_as_the_idle_timer_fires_is_served(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryEventStore()
    async with trio.open_nursery() as nursery:
        registry = Registry(store, nursery, idle_timeout=5)
        actor = registry.actor_for("c")
        await trio.testing.wait_all_tasks_blocked()
        # The timer expires, but the actor does not run before the request is queued.
        autojump_clock.jump(5)
        origin, _ = subscriber()
        actor.inbox.send_nowait(Envelope(create("just in time"), origin))
        await trio.testing.wait_all_tasks_blocked()
        assert [record.version for record in await store.read("c")] == [1]
        nursery.cancel_scope.cancel()


async def test_overflowing_subscribers_are_counted(autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        registry = Registry(MemoryEventStore(), nursery)
        slow, _ = subscriber(size=1)
        await registry.send("c", Envelope(Join(slow), slow))
        writer, _ = subscriber()
        for item_id in ("a", "b"):
            await registry.send("c", Envelope(create(item_id), writer))
        await trio.testing.wait_all_tasks_blocked()
        assert slow.overflowed
        assert registry.counters.slow_consumers == 1
        nursery.cancel_scope.cancel()


async def test_a_connection_gone_without_its_leave_does_not_keep_the_actor(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with trio.open_nursery() as nursery:
        registry = Registry(MemoryEventStore(), nursery, idle_timeout=5)
        vanished, _ = subscriber()
        await registry.send("c", Envelope(Join(vanished), vanished))
        await trio.testing.wait_all_tasks_blocked()
        vanished.drop()  # what a connection does when the inbox had no room for its Leave
        await trio.sleep(11)
        assert "c" not in registry
        assert registry.counters.passivations == 1
        nursery.cancel_scope.cancel()


class SlowStore(MemoryEventStore):
    async def append(self, conversation_id: str, expected: int, events: Sequence[NewEvent]) -> int:
        await trio.sleep(20)  # longer than the idle timeout
        return await super().append(conversation_id, expected, events)


async def test_an_actor_waiting_on_its_log_is_not_idle(autojump_clock: trio.abc.Clock) -> None:
    store = SlowStore()
    async with trio.open_nursery() as nursery:
        registry = Registry(store, nursery, idle_timeout=5)
        origin, _ = subscriber()
        await registry.send("c", Envelope(create("slow"), origin))
        await trio.sleep(15)
        assert "c" in registry  # mid-append: a fresh actor would not see the item
        await trio.sleep(6)  # the append is durable at 20 s
        assert [record.version for record in await store.read("c")] == [1]
        assert "c" in registry  # idle since 20 s only
        await trio.sleep(6)
        assert "c" not in registry
        assert registry.counters.passivations == 1
        nursery.cancel_scope.cancel()
