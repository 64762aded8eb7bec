"""The Trio shell around the conversation core: one task owns the state and is its only writer.

Requests arrive on a bounded inbox. The actor takes every request waiting (up to a batch), decides
each in order against the evolving state, appends the batch's events to the log in one call, and
only once they are durable offers the results to subscribers: persist, then publish. It never
awaits a subscriber; a full subscriber queue drops that subscriber (the slow-consumer policy).
"""

import logging
from collections.abc import Callable

import trio

from actors.conversation import core
from actors.conversation.messages import (
    Envelope,
    Join,
    Leave,
    Outbound,
    Published,
    Refused,
    Relayed,
    Retrieve,
    Retrieved,
    Subscriber,
)
from actors.conversation.records import from_record, to_record
from actors.ids import new_item_id
from actors.store.base import EventStore

log = logging.getLogger(__name__)

# Requests handled per log append: large enough to amortize a commit, small enough that one
# busy writer cannot hold a batch open for long.
MAX_BATCH = 256
READ_BATCH = 1000


def item_limit_reached(max_items: int) -> core.Rejected:
    """The refusal of a create in a conversation that already holds ``max_items`` items."""
    return core.Rejected(
        "conversation_item_limit_reached",
        f"Error adding item: the conversation already has the maximum of {max_items} items.",
        None,
    )


class ConversationActor:
    """Owns one conversation; run it with ``nursery.start(actor.run)``."""

    def __init__(
        self,
        conversation_id: str,
        store: EventStore,
        *,
        inbox_size: int = 1024,
        max_items: int | None = None,
        generate_item_id: Callable[[], str] = new_item_id,
    ) -> None:
        self.conversation_id = conversation_id
        self.store = store
        self.inbox, self._requests = trio.open_memory_channel[Envelope](inbox_size)
        self.state = core.ConversationState()
        # A dict, not a set: broadcasts reach subscribers in the order they joined.
        self.subscribers: dict[Subscriber, None] = {}
        self._generate_item_id = generate_item_id
        self.max_items = max_items

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the conversation from the log, then serve requests until cancelled or crashed.

        Closing ``inbox`` stops the actor gracefully: it serves every request already queued,
        then returns. On any exit the inbox is closed (senders get BrokenResourceError) and every
        subscriber's queue is closed, so no connection waits on a dead actor.
        """
        with self._requests:
            try:
                await self._load()
                task_status.started()
                while True:
                    try:
                        batch = [await self._requests.receive()]
                    except trio.EndOfChannel:
                        return
                    while len(batch) < MAX_BATCH:
                        try:
                            batch.append(self._requests.receive_nowait())
                        except (trio.WouldBlock, trio.EndOfChannel):
                            break
                    await self._handle(batch)
            finally:
                self._drop_everyone()

    def _drop_everyone(self) -> None:
        """Close the queue of every subscriber, and of every sender still waiting in the inbox."""
        for subscriber in self.subscribers:
            subscriber.drop()
        self.subscribers.clear()
        while True:
            try:
                self._requests.receive_nowait().origin.drop()
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    async def _load(self) -> None:
        """Rebuild the state from the log, a bounded batch at a time."""
        while records := await self.store.read(
            self.conversation_id, self.state.version, READ_BATCH
        ):
            for record in records:
                core.evolve(self.state, from_record(record))

    async def _handle(self, batch: list[Envelope]) -> None:
        base_version = self.state.version
        new_events: list[core.Event] = []
        # What each request produced, in request order: sent only after the append is durable,
        # so a sender never sees a later reply overtake an earlier broadcast.
        outputs: list[tuple[Subscriber | None, Outbound] | Join | Leave] = []
        for envelope in batch:
            request, origin, correlation = envelope.request, envelope.origin, envelope.correlation
            match request:
                case Join() | Leave():
                    outputs.append(request)
                case Relayed():
                    outputs.append((origin, request))
                case Retrieve(item_id=item_id):
                    found = core.retrieve(self.state, item_id)
                    reply: Outbound = (
                        Refused(found, correlation)
                        if isinstance(found, core.Rejected)
                        else Retrieved(found, correlation)
                    )
                    outputs.append((origin, reply))
                case core.CreateItem() if (
                    self.max_items is not None and len(self.state) >= self.max_items
                ):
                    outputs.append(
                        (origin, Refused(item_limit_reached(self.max_items), correlation))
                    )
                case core.CreateItem() | core.DeleteItem() | core.TruncateItem():
                    decided = core.decide(
                        self.state, request, generated_item_id=self._generate_item_id()
                    )
                    if isinstance(decided, core.Rejected):
                        outputs.append((origin, Refused(decided, correlation)))
                        continue
                    for event in decided:
                        core.evolve(self.state, event)
                        new_events.append(event)
                        outputs.append((None, Published(event, self.state.version)))
        if new_events:
            # A failure here (I/O, or a version conflict with another writer of the log) leaves
            # the in-memory state ahead of the log: the actor must crash and be rebuilt from it.
            await self.store.append(
                self.conversation_id, base_version, [to_record(event) for event in new_events]
            )
        self._deliver(outputs)

    def _deliver(self, outputs: list[tuple[Subscriber | None, Outbound] | Join | Leave]) -> None:
        for output in outputs:
            match output:
                case Join(subscriber=subscriber):
                    self.subscribers[subscriber] = None
                case Leave(subscriber=subscriber):
                    self.subscribers.pop(subscriber, None)
                    subscriber.drop()
                case (None, message):
                    dropped = [sub for sub in self.subscribers if not sub.offer(message)]
                    for subscriber in dropped:
                        del self.subscribers[subscriber]
                case (Subscriber() as origin, message):
                    if not origin.offer(message):
                        self.subscribers.pop(origin, None)
