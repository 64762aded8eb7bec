"""The Trio shell around the conversation core: one task owns the state and is its only writer.

Requests arrive on a bounded inbox. The actor takes every request waiting (up to a batch), decides
each in order against the evolving state, appends the batch's events to the log in one call and
only once they are durable offers the results to subscribers: persist, then publish. Requests that
arrive during a commit wait in the inbox and form the next batch, so they share one append. It
never awaits a subscriber; a full subscriber queue drops that subscriber (the slow-consumer
policy). One task does all of it: no hand-over between tasks per batch, and an idle conversation
holds one task.

A joining subscriber first gets the history it asked for (see ``catchup`` for the seam). An actor
with no subscribers that receives nothing for ``idle_timeout`` seconds passivates: the registry's
passivation task closes its inbox (``passivate_if_idle``) and it returns, freeing its state; the
registry starts a new one from the log on next use. (No timer per actor: a cancel scope around
every receive was 7 % of a busy server's CPU.)
"""

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import islice

import attrs
import trio

from actors.conversation import core
from actors.conversation.catchup import catch_up
from actors.conversation.messages import (
    Envelope,
    Join,
    Leave,
    Outbound,
    Published,
    Refused,
    Relayed,
    ResumeUnavailable,
    Retrieve,
    Retrieved,
    Subscriber,
)
from actors.conversation.records import from_record, to_record
from actors.ids import new_item_id
from actors.stats import Counters
from actors.store.base import EventStore, NewEvent

log = logging.getLogger(__name__)

# Requests handled per log append: large enough to amortize a commit, small enough that one
# busy writer cannot hold a batch open for long.
MAX_BATCH = 256
READ_BATCH = 1000
# Recent changes kept to join (or resume) a subscriber that is only a little behind without
# reading the log: enough to close the seam after a catch-up under a busy writer.
RECENT_CHANGES = 256


Output = tuple[Subscriber | None, Outbound] | Join | Leave


def _broadcast_only(outputs: list[Output]) -> tuple[Published, ...] | None:
    """The batch's changes, if it produced nothing else (no join, leave, reply or refusal)."""
    changes: list[Published] = []
    for output in outputs:
        if type(output) is not tuple or output[0] is not None or type(output[1]) is not Published:
            return None
        changes.append(output[1])
    return tuple(changes)


@attrs.frozen
class _Decided:
    """A decided batch: the events to append after ``base_version``, then what to deliver."""

    base_version: int
    records: list[NewEvent]
    outputs: list[Output]


class ConversationActor:
    """Owns one conversation; run it with ``nursery.start(actor.run)``."""

    def __init__(
        self,
        conversation_id: str,
        store: EventStore,
        *,
        inbox_size: int = 1024,
        idle_timeout: float = math.inf,
        counters: Counters | None = None,
        recent_changes: int = RECENT_CHANGES,
        max_items: int | None = None,
        generate_item_id: Callable[[], str] = new_item_id,
    ) -> None:
        self.conversation_id = conversation_id
        self.store = store
        self.inbox, self._requests = trio.open_memory_channel[Envelope](inbox_size)
        self.state = core.ConversationState()
        # A dict, not a set: broadcasts reach subscribers in the order they joined.
        self.subscribers: dict[Subscriber, None] = {}
        # Subscribers whose history a catch-up task is queueing; they get no live offers yet.
        self.catching_up: set[Subscriber] = set()
        self.idle_timeout = idle_timeout
        self.counters = counters if counters is not None else Counters()
        self._generate_item_id = generate_item_id
        self.max_items = max_items
        # Made with the first change: an empty deque is ~0.8 KiB, for every idle conversation.
        self._recent: deque[Published] | None = None
        self._recent_changes = recent_changes
        # The position of the last change offered to subscribers: the seam for a join.
        self._published_version = 0
        # The batch taken from the inbox and not yet delivered (its append is in progress).
        self._in_hand: _Decided | None = None
        # For passivation: when the last request was handled.
        self.last_active = trio.current_time()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the conversation from the log, then serve requests until cancelled or crashed.

        Returns (normally) when it passivated (idle, with its inbox closed, so a sender still
        holding this actor gets ClosedResourceError and must ask the registry again) or when the
        registry closed its inbox to shut down (after serving every request already queued).
        On any exit the inbox's receive side is closed (senders get BrokenResourceError) and the
        queue of every subscriber, and of every sender still waiting in the inbox, is closed, so
        no connection waits on a dead actor.
        """
        try:
            with self._requests:
                try:
                    # The catch-up tasks: they end (or fail) with the actor.
                    async with trio.open_nursery() as self._tasks:
                        await self._load()
                        task_status.started()
                        await self._decide_requests()
                finally:
                    self._drop_waiting_senders()
        finally:
            for subscriber in [*self.subscribers, *self.catching_up, *self._waiting()]:
                subscriber.drop()
            self.subscribers.clear()
            self.catching_up.clear()
            self._in_hand = None

    def _waiting(self) -> list[Subscriber]:
        """Who waits on a batch never delivered (the log failed): joiners and senders."""
        waiting: list[Subscriber] = []
        for output in self._in_hand.outputs if self._in_hand is not None else ():
            match output:
                case Join(subscriber=subscriber) | Leave(subscriber=subscriber):
                    waiting.append(subscriber)
                case (Subscriber() as origin, _):
                    waiting.append(origin)
        return waiting

    async def _decide_requests(self) -> None:
        """Take batches of requests, decide them, append, then deliver; until the inbox closes.

        One task does it all, in order: requests that arrive while a batch commits wait in the
        inbox and form the next batch, so they share its successor's append.
        """
        checkpointed = False
        while True:
            try:
                # Straight from the inbox when the last batch awaited its append (a checkpoint
                # already): a task step less per batch when requests keep coming.
                first = self._requests.receive_nowait() if checkpointed else None
            except trio.WouldBlock:
                first = None
            except trio.EndOfChannel:
                return
            if first is None:
                try:
                    first = await self._requests.receive()
                except trio.EndOfChannel:
                    return  # passivated, or the registry is shutting down
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._requests.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            decided = self._in_hand = self._decide(batch)
            checkpointed = bool(decided.records)
            if checkpointed:
                # A failure here (I/O, or a version conflict with another writer of the log)
                # leaves the in-memory state ahead of the log: the actor must crash (this raises
                # through its nursery) and be rebuilt from the log.
                await self.store.append(self.conversation_id, decided.base_version, decided.records)
            self._deliver(decided.outputs)
            self._in_hand = None
            self.last_active = trio.current_time()

    def _drop_waiting_senders(self) -> None:
        """Close the queue of every sender whose request is still in the inbox (none is served)."""
        while True:
            try:
                self._requests.receive_nowait().origin.drop()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return

    async def _load(self) -> None:
        """Rebuild the state from the log, a bounded batch at a time."""
        while records := await self.store.read(
            self.conversation_id, self.state.version, READ_BATCH
        ):
            for record in records:
                core.evolve(self.state, from_record(record))
        self._published_version = self.state.version
        if self.state.version:
            self.counters.revivals += 1

    def passivate_if_idle(self, now: float) -> bool:
        """Stop if idle: no subscribers, nothing queued or in hand, no request for the timeout.

        Called by the registry's passivation task, never by the actor: it runs without an await,
        so nothing can be sent between the checks and the close. A request is then either
        already in the inbox (and the actor is not idle) or refused unread, and the sender asks
        the registry again. The actor serves nothing more and returns. True if it stopped.
        """
        if self._in_hand is not None or now - self.last_active < self.idle_timeout:
            return False
        # Forget subscribers whose connection went away without its Leave reaching us (a full
        # inbox): they must not keep the actor alive.
        for gone in [sub for sub in self.subscribers if sub.gone]:
            del self.subscribers[gone]
        self.catching_up = {sub for sub in self.catching_up if not sub.gone}
        if self.subscribers or self.catching_up:
            return False
        if self._requests.statistics().current_buffer_used:
            return False
        self.inbox.close()
        return True

    def _decide(self, batch: list[Envelope]) -> _Decided:
        """Decide ``batch`` against the state (evolving it); what to append and then deliver."""
        base_version = self.state.version
        new_events: list[core.Event] = []
        # What each request produced, in request order: sent only after the append is durable,
        # so a sender never sees a later reply overtake an earlier broadcast.
        outputs: list[Output] = []
        for envelope in batch:
            request, origin, correlation = envelope.request, envelope.origin, envelope.correlation
            match request:
                # Commands first: nearly every request is one (each case is a type test).
                case core.CreateItem() | core.DeleteItem() | core.TruncateItem():
                    # An id is generated only for a create that has none (most clients send one).
                    needs_id = isinstance(request, core.CreateItem) and not request.item.id
                    decided = core.decide(
                        self.state,
                        request,
                        generated_item_id=self._generate_item_id() if needs_id else "",
                        max_items=self.max_items,
                    )
                    if isinstance(decided, core.Rejected):
                        outputs.append((origin, Refused(decided, correlation)))
                        continue
                    for event in decided:
                        core.evolve(self.state, event)
                        new_events.append(event)
                        outputs.append((None, Published(event, self.state.version)))
                case Join() | Leave():
                    # Handled in delivery order: a join's seam is the version delivered before it.
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
        return _Decided(base_version, [to_record(event) for event in new_events], outputs)

    def _deliver(self, outputs: list[Output]) -> None:
        # Each subscriber's share of the batch is gathered in order and offered at the end in one
        # go: a busy conversation's changes reach each socket in one write, not one per change.
        broadcast = _broadcast_only(outputs)
        if broadcast is not None:
            # The usual batch (changes only): every subscriber gets the same tuple, which lets a
            # connection reuse the frames the one before it joined (see ``outbound``).
            for change in broadcast:
                self._remember(change)
            self._offer(dict.fromkeys(self.subscribers, broadcast))
            return
        shares: dict[Subscriber, list[Outbound]] = {}
        for output in outputs:
            match output:
                case Join(subscriber=subscriber, after=after):
                    self._join(subscriber, after, shares)
                case Leave(subscriber=subscriber):
                    self.subscribers.pop(subscriber, None)
                    self.catching_up.discard(subscriber)
                    shares.pop(subscriber, None)
                    subscriber.drop()
                case (None, Published() as message):
                    self._remember(message)
                    for subscriber in self.subscribers:
                        if (share := shares.get(subscriber)) is None:
                            shares[subscriber] = [message]
                        else:
                            share.append(message)
                case (None, message):
                    raise AssertionError(f"only changes are broadcast, not {message!r}")
                case (Subscriber() as origin, message):
                    shares.setdefault(origin, []).append(message)
        self._offer(shares)

    def _remember(self, message: Published) -> None:
        """Note a change as published: the seam for joins, and the recent ones for catch-ups."""
        if self._recent is None:
            self._recent = deque(maxlen=self._recent_changes)
        self._recent.append(message)
        self._published_version = message.version

    def _offer(self, shares: Mapping[Subscriber, Sequence[Outbound]]) -> None:
        for subscriber, share in shares.items():
            if not share or subscriber.offer_all(share):
                continue
            self.subscribers.pop(subscriber, None)
            if subscriber.overflowed:
                self.counters.slow_consumers += 1

    def _join(
        self, subscriber: Subscriber, after: int, shares: dict[Subscriber, list[Outbound]]
    ) -> None:
        """Make ``subscriber`` live after the changes ``(after, now]``; see ``catchup``.

        The changes from the ring go into ``shares``, ahead of the batch's later broadcasts.
        """
        self.catching_up.discard(subscriber)
        if subscriber.gone:
            return
        version = self._published_version
        if after > version:
            subscriber.offer(
                ResumeUnavailable(
                    f"Cannot resume after position {after}: this conversation's log ends at "
                    f"position {version}.",
                    "after",
                )
            )
            subscriber.drop()
            return
        missing = version - after
        recent = self._recent if self._recent is not None else ()
        if missing > min(len(recent), subscriber.room()):
            self.catching_up.add(subscriber)
            self.counters.catch_ups += 1
            self._tasks.start_soon(
                catch_up,
                self.store,
                self.conversation_id,
                subscriber,
                after,
                version,
                self.inbox,
                name=f"catch-up:{self.conversation_id}",
            )
            return
        shares.setdefault(subscriber, []).extend(islice(recent, len(recent) - missing, None))
        self.subscribers[subscriber] = None
        subscriber.live.set()
