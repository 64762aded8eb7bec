"""Property: whatever the interleaving of writes, slow reads, disconnects and resumes, every
observer ends with the writer's list and has seen every position exactly once."""

from typing import Literal

import attrs
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.conversation import core
from actors.conversation.actor import ConversationActor
from actors.conversation.messages import (
    Envelope,
    Join,
    Leave,
    Outbound,
    Published,
    Subscriber,
)
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from actors.store.memory import MemoryEventStore

Write = tuple[Literal["create"], int] | tuple[Literal["delete"], int]
Read = tuple[Literal["read"], int, int]
Other = tuple[Literal["disconnect", "resume", "settle"], int]

OBSERVERS = 3

operations = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["create", "delete"]), st.integers(0, 20)),
        st.tuples(st.just("read"), st.integers(0, OBSERVERS - 1), st.integers(1, 8)),
        st.tuples(st.sampled_from(["disconnect", "resume", "settle"]), st.integers(0, 2)),
    ),
    max_size=60,
)


def text_item(item_id: str) -> Item:
    part = ContentPart(ContentKind.INPUT_TEXT, text=item_id)
    return Item(item_id, ItemType.MESSAGE, role=Role.USER, content=(part,))


@attrs.define
class Observer:
    """A client of the actor: what it received, and its current connection (if any)."""

    queue_size: int
    seen: list[Published] = attrs.field(factory=list)
    subscriber: Subscriber | None = None
    receive: trio.MemoryReceiveChannel[Outbound] | None = None

    @property
    def position(self) -> int:
        return self.seen[-1].version if self.seen else 0

    async def connect(self, actor: ConversationActor) -> None:
        send, self.receive = trio.open_memory_channel[Outbound](self.queue_size)
        self.subscriber = Subscriber(send)
        await actor.inbox.send(Envelope(Join(self.subscriber, self.position), self.subscriber))

    async def disconnect(self, actor: ConversationActor) -> None:
        if self.subscriber is not None and self.receive is not None:
            await actor.inbox.send(Envelope(Leave(self.subscriber), self.subscriber))
            self.receive.close()
        self.subscriber = self.receive = None

    def read(self, count: int) -> None:
        """Take up to ``count`` queued changes; forget a connection the actor closed."""
        if self.receive is None:
            return
        for _ in range(count):
            try:
                outbound = self.receive.receive_nowait()
            except trio.WouldBlock:
                return
            except trio.EndOfChannel:
                self.receive.close()
                self.subscriber = self.receive = None
                return
            assert isinstance(outbound, Published), outbound
            self.seen.append(outbound)


async def run_script(
    script: list[Write | Read | Other], queue_sizes: list[int], recent: int
) -> None:
    store = MemoryEventStore()
    counter = iter(range(1_000_000))
    actor = ConversationActor(
        "c", store, recent_changes=recent, generate_item_id=lambda: f"gen{next(counter)}"
    )
    observers = [Observer(size) for size in queue_sizes]
    writer_send, writer_receive = trio.open_memory_channel[Outbound](100_000)
    writer = Subscriber(writer_send)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        await actor.inbox.send(Envelope(Join(writer), writer))
        for observer in observers:
            await observer.connect(actor)
        for created, operation in enumerate(script):
            match operation:
                case ("create", anchor):
                    items = [item.id for item in actor.state.items()]
                    placement: core.Placement = core.Anchor.APPEND
                    if anchor == 0:
                        placement = core.Anchor.ROOT
                    elif items and anchor % 3 == 0:
                        placement = core.AfterItem(items[anchor % len(items)])
                    command = core.CreateItem(text_item(f"i{created}"), placement)
                    await actor.inbox.send(Envelope(command, writer))
                case ("delete", index):
                    items = [item.id for item in actor.state.items()]
                    target = items[index % len(items)] if items else "missing"
                    await actor.inbox.send(Envelope(core.DeleteItem(target), writer))
                case ("read", which, count):
                    observers[which].read(count)
                case ("disconnect", which):
                    await observers[which].disconnect(actor)
                case ("resume", which):
                    if observers[which].subscriber is None:
                        await observers[which].connect(actor)
                case ("settle", _):
                    await trio.testing.wait_all_tasks_blocked()
        # Everyone reconnects if needed and reads until they have everything.
        await trio.testing.wait_all_tasks_blocked()
        final = actor.state.version
        for observer in observers:
            with trio.fail_after(60):
                while observer.position < final:
                    if observer.subscriber is None:
                        await observer.connect(actor)
                    observer.read(1000)
                    # A real sleep, so the mock clock advances and fail_after can fire.
                    await trio.sleep(0.001)
        nursery.cancel_scope.cancel()

    expected = [item.id for item in actor.state.items()]
    writer_events = []
    while True:
        try:
            outbound = writer_receive.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            break
        if isinstance(outbound, Published):
            writer_events.append(outbound.version)
    assert writer_events == list(range(1, final + 1))
    for observer in observers:
        assert [change.version for change in observer.seen] == list(range(1, final + 1))
        rebuilt = core.replay([change.event for change in observer.seen])
        assert [item.id for item in rebuilt.items()] == expected


@settings(max_examples=150, deadline=None)
@given(
    script=operations,
    queue_sizes=st.lists(st.integers(1, 6), min_size=OBSERVERS, max_size=OBSERVERS),
    recent=st.integers(0, 5),
)
def test_observers_converge_and_see_every_position_once(
    script: list[Write | Read | Other], queue_sizes: list[int], recent: int
) -> None:
    trio.run(
        run_script,
        script,
        queue_sizes,
        recent,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
