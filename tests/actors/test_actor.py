"""The actor shell: persist then publish, replies in order, slow consumers, crashes."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from actors.conversation import core
from actors.conversation.actor import ConversationActor
from actors.conversation.messages import (
    Envelope,
    Join,
    Outbound,
    Published,
    Refused,
    Relayed,
    Retrieve,
    Retrieved,
    Subscriber,
)
from actors.conversation.model import Item, ItemType, Role
from actors.registry import Registry
from actors.store import NewEvent, StoredEvent
from actors.store.memory import MemoryEventStore


def msg(item_id: str) -> Item:
    return Item(item_id, ItemType.MESSAGE, role=Role.USER)


def subscriber(size: int = 100) -> tuple[Subscriber, trio.MemoryReceiveChannel[Outbound]]:
    send, receive = trio.open_memory_channel[Outbound](size)
    return Subscriber(send), receive


@asynccontextmanager
async def running(actor: ConversationActor) -> AsyncIterator[ConversationActor]:
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        yield actor
        nursery.cancel_scope.cancel()


async def join(actor: ConversationActor, sub: Subscriber) -> None:
    await actor.inbox.send(Envelope(Join(sub), sub))


async def receive(channel: trio.MemoryReceiveChannel[Outbound]) -> Outbound:
    with trio.fail_after(5):
        return await channel.receive()


async def test_every_subscriber_gets_the_same_published_object_in_order() -> None:
    async with running(ConversationActor("c", MemoryEventStore())) as actor:
        (a, a_queue), (b, b_queue) = subscriber(), subscriber()
        await join(actor, a)
        await join(actor, b)
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), a))
        await actor.inbox.send(Envelope(core.CreateItem(msg("y"), core.Anchor.ROOT), b))
        got_a = [await receive(a_queue), await receive(a_queue)]
        got_b = [await receive(b_queue), await receive(b_queue)]
        assert [id(x) for x in got_a] == [id(x) for x in got_b]
        assert all(isinstance(x, Published) for x in got_a)
        assert [x.version for x in got_a if isinstance(x, Published)] == [1, 2]


class RecordingStore(MemoryEventStore):
    """Notes what was durable at the moment each append returned."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[int] = []

    async def append(self, conversation_id: str, expected: int, events: Sequence[NewEvent]) -> int:
        await trio.sleep(1)  # a slow disk: nothing may be published before this returns
        version = await super().append(conversation_id, expected, events)
        self.appends.append(version)
        return version


async def test_persist_then_publish(autojump_clock: trio.testing.MockClock) -> None:
    store = RecordingStore()
    async with running(ConversationActor("c", store)) as actor:
        sub, queue = subscriber()
        await join(actor, sub)
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), sub))
        with pytest.raises(trio.WouldBlock):
            queue.receive_nowait()
        published = await receive(queue)
        assert isinstance(published, Published)
        assert store.appends == [1]
        assert [e.version for e in await store.read("c")] == [1]


async def test_a_refusal_reaches_only_its_sender_after_earlier_broadcasts() -> None:
    async with running(ConversationActor("c", MemoryEventStore())) as actor:
        (a, a_queue), (b, b_queue) = subscriber(), subscriber()
        await join(actor, a)
        await join(actor, b)
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), a, "e1"))
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), a, "e2"))
        assert isinstance(await receive(a_queue), Published)
        refused = await receive(a_queue)
        assert isinstance(refused, Refused)
        assert refused.rejection.code == "item_create_duplicate_item_id"
        assert refused.correlation == "e2"
        assert isinstance(await receive(b_queue), Published)
        with pytest.raises(trio.WouldBlock):
            b_queue.receive_nowait()
        assert actor.state.version == 1


async def test_retrieve_and_relay_go_to_the_sender() -> None:
    async with running(ConversationActor("c", MemoryEventStore())) as actor:
        sub, queue = subscriber()
        await join(actor, sub)
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), sub))
        await actor.inbox.send(Envelope(Retrieve("x"), sub, "r1"))
        await actor.inbox.send(Envelope(Relayed("frame"), sub))
        assert isinstance(await receive(queue), Published)
        assert await receive(queue) == Retrieved(msg("x"), "r1")
        assert await receive(queue) == Relayed("frame")


async def test_a_full_subscriber_is_dropped_and_others_keep_going() -> None:
    async with running(ConversationActor("c", MemoryEventStore())) as actor:
        slow, _slow_queue = subscriber(size=2)
        fast, fast_queue = subscriber()
        await join(actor, slow)
        await join(actor, fast)
        for n in range(5):
            await actor.inbox.send(Envelope(core.CreateItem(msg(f"i{n}")), fast))
        for _ in range(5):
            assert isinstance(await receive(fast_queue), Published)
        assert slow.overflowed
        assert slow not in actor.subscribers
        assert fast in actor.subscribers


async def test_the_actor_rebuilds_its_state_from_the_log() -> None:
    store = MemoryEventStore()
    async with running(ConversationActor("c", store)) as actor:
        sub, queue = subscriber()
        await join(actor, sub)
        for item_id in ("a", "b"):
            await actor.inbox.send(Envelope(core.CreateItem(msg(item_id)), sub))
            await receive(queue)
    async with running(ConversationActor("c", store)) as revived:
        assert [item.id for item in revived.state.items()] == ["a", "b"]
        assert revived.state.version == 2


class BrokenStore(MemoryEventStore):
    async def read(
        self, conversation_id: str, after: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        if conversation_id == "cursed":
            raise OSError("disk on fire")
        return await super().read(conversation_id, after, limit)


async def test_a_crashed_actor_closes_its_queues_and_the_registry_forgets_it() -> None:
    async with trio.open_nursery() as nursery:
        registry = Registry(BrokenStore(), nursery)
        actor = registry.actor_for("cursed")
        sub, queue = subscriber()
        with trio.fail_after(5):
            await join(actor, sub)
            while len(registry):  # noqa: ASYNC110 - the registry offers no event to wait on
                await trio.sleep(0.01)
            with pytest.raises(trio.EndOfChannel):
                await queue.receive()
        assert registry.crashes == 1
        assert registry.actor_for("cursed") is not actor
        healthy = registry.actor_for("fine")
        sub2, queue2 = subscriber()
        await join(healthy, sub2)
        await healthy.inbox.send(Envelope(core.CreateItem(msg("x")), sub2))
        assert isinstance(await receive(queue2), Published)
        nursery.cancel_scope.cancel()


async def test_a_batch_reaches_each_subscriber_in_one_direct_write_with_replies_in_place() -> None:
    store = RecordingStore()
    async with running(ConversationActor("c", store)) as actor:
        (watcher, _), (writer, _) = subscriber(), subscriber()
        writes: dict[str, list[list[Outbound]]] = {"watcher": [], "writer": []}

        def direct(name: str) -> Callable[[Sequence[Outbound]], Sequence[Outbound]]:
            def write(items: Sequence[Outbound]) -> Sequence[Outbound]:
                writes[name].append(list(items))
                return []

            return write

        watcher.direct, writer.direct = direct("watcher"), direct("writer")
        await join(actor, watcher)
        await join(actor, writer)
        # Queued together, so the actor takes them as one batch while the first append waits.
        actor.inbox.send_nowait(Envelope(core.CreateItem(msg("x")), writer))
        actor.inbox.send_nowait(Envelope(core.CreateItem(msg("x")), writer))  # a duplicate id
        actor.inbox.send_nowait(Envelope(core.CreateItem(msg("y")), writer))
        await trio.sleep(1.5)  # the store's append takes a second
        await trio.testing.wait_all_tasks_blocked()
        assert store.appends == [2]  # one append for the batch
        [to_watcher] = writes["watcher"]
        assert [x.version for x in to_watcher if isinstance(x, Published)] == [1, 2]
        [to_writer] = writes["writer"]
        assert [type(x) for x in to_writer] == [Published, Refused, Published]


class GatedStore(MemoryEventStore):
    """Appends wait until the test opens their gate (or make them fail)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []
        self.gates: list[trio.Event] = []
        # Events in each append, by its number (from 1).
        self.appended_events: dict[int, int] = {}
        self.fail = False

    async def append(self, conversation_id: str, expected: int, events: Sequence[NewEvent]) -> int:
        self.started.append(expected)
        self.appended_events[len(self.started)] = len(events)
        gate = trio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail:
            raise OSError("disk gone")
        return await super().append(conversation_id, expected, events)


async def test_requests_that_arrive_during_a_commit_share_the_next_append() -> None:
    store = GatedStore()
    async with running(ConversationActor("c", store)) as actor:
        watcher, queue = subscriber()
        await join(actor, watcher)
        await actor.inbox.send(Envelope(core.CreateItem(msg("x")), watcher))
        await trio.testing.wait_all_tasks_blocked()
        await actor.inbox.send(Envelope(core.CreateItem(msg("y")), watcher))
        await actor.inbox.send(Envelope(core.CreateItem(msg("z")), watcher))
        await trio.testing.wait_all_tasks_blocked()
        assert len(store.gates) == 1  # "y" and "z" wait in the inbox for "x" to be durable...
        assert actor.state.version == 1
        assert queue.statistics().current_buffer_used == 0  # ...and nothing is published yet
        store.gates[0].set()
        first = await receive(queue)
        await trio.testing.wait_all_tasks_blocked()
        assert store.started == [0, 1]  # one append for both, on top of "x"
        store.gates[1].set()
        later = [await receive(queue), await receive(queue)]
        published = [p for p in (first, *later) if isinstance(p, Published)]
        assert [p.version for p in published] == [1, 2, 3]
        assert [store.appended_events[1], store.appended_events[2]] == [1, 2]


async def test_a_failed_append_publishes_nothing_decided_after_it() -> None:
    store = GatedStore()
    watcher, queue = subscriber()

    async def fail_the_first_of_two_batches() -> None:
        async with running(ConversationActor("c", store)) as actor:
            await join(actor, watcher)
            await actor.inbox.send(Envelope(core.CreateItem(msg("x")), watcher))
            await trio.testing.wait_all_tasks_blocked()
            await actor.inbox.send(Envelope(core.CreateItem(msg("y")), watcher))
            await trio.testing.wait_all_tasks_blocked()
            store.fail = True
            store.gates[0].set()
            await trio.sleep_forever()

    with pytest.raises(BaseExceptionGroup) as raised:
        await fail_the_first_of_two_batches()
    assert raised.group_contains(OSError)
    assert store.started == [0]  # the batch behind the failed one never reached the log
    with pytest.raises(trio.EndOfChannel):  # the watcher's queue was closed, with nothing in it
        queue.receive_nowait()
