"""What flows between connections and a conversation actor: requests in, outbound items out.

Actors never know the wire format: they hand connections domain values, and a ``Published``
event carries a cache so each wire dialect encodes it once for all its connections.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

import attrs
import trio

from actors.conversation.core import Command, Event, Rejected
from actors.conversation.model import Item
from actors.flag import Flag


@attrs.define(eq=False)
class Published:
    """A change to the conversation at ``version``, shared by every subscriber.

    ``encoded`` caches, for the wire dialect ``encoded_for``, the frames as ready-made WebSocket
    bytes followed by each frame's JSON: the first connection of a dialect encodes the event,
    every other one sends the same bytes; ``other_encodings`` holds any further dialect's.
    Made on first use, and flat: a conversation keeps its recent changes, and every container
    in them is one more object for the garbage collector to walk. One tuple of bytes instead of
    a dict and two tuples: ~7 objects a young collection walks per create instead of ~9, so
    young collections came ~25 % less often at 1,000 creates/s, and ~216 bytes less per change.
    """

    event: Event
    version: int
    encoded_for: object = None
    encoded: tuple[bytes, ...] | None = None
    other_encodings: dict[object, tuple[bytes, ...]] | None = None


@attrs.frozen
class Retrieved:
    """The answer to a ``Retrieve``."""

    item: Item
    correlation: str | None


@attrs.frozen
class Refused:
    """A command the conversation refused, for its sender only."""

    rejection: Rejected
    correlation: str | None


@attrs.frozen
class Relayed:
    """A payload from the connection itself, passed through the inbox to keep its place in line."""

    payload: object


@attrs.frozen
class ResumeUnavailable:
    """The connection asked to resume from a position this log cannot serve; it is then dropped.

    ``param`` names what was wrong (``after`` or ``log``), ``message`` says why, for humans.
    """

    message: str
    param: str


Outbound = Published | Retrieved | Refused | Relayed | ResumeUnavailable


class QueueStatistics(Protocol):
    @property
    def current_buffer_used(self) -> int: ...
    @property
    def max_buffer_size(self) -> int | float: ...


class OutboundQueue(Protocol):
    """The sending side of a subscriber's queue: a trio memory channel, or an ``Outbox``."""

    def send_nowait(self, item: Outbound) -> None: ...
    async def send(self, item: Outbound) -> None: ...
    def close(self) -> None: ...
    def statistics(self) -> QueueStatistics: ...


@attrs.define(eq=False)
class Subscriber:
    """One connection's end of a conversation: a bounded queue the actor offers to, never awaits.

    ``overflowed`` is set when the queue was full: the actor closed the queue and dropped the
    subscriber, and the connection must tell its client where to resume. ``live`` is set once the
    history the subscriber asked for has been queued and live events follow; until then a
    catch-up task, not the actor, fills the queue.
    """

    queue: OutboundQueue
    overflowed: bool = False
    gone: bool = False
    live: Flag = attrs.field(factory=Flag)
    # The connection's way to take items at once (write them out) instead of queueing them. It
    # is asked only when nothing is ahead of the items, and returns what is left to queue, in
    # order: nothing when it wrote them all, else the items it did not take (or, for an item
    # written in part, the rest of its bytes).
    direct: Callable[[Sequence[Outbound]], Sequence[Outbound]] | None = None
    # Items put in the queue that the connection has not yet reported ``written``: those still
    # queued and those its writer holds. Zero means nothing is ahead of a new item.
    backlog: int = 0

    def room(self) -> int:
        """How many more items the queue takes without waiting."""
        stats = self.queue.statistics()
        return int(stats.max_buffer_size - stats.current_buffer_used)

    def offer(self, item: Outbound) -> bool:
        """Deliver ``item`` without waiting; return False (and close the queue) when it is full."""
        return self.offer_all([item])

    def offer_all(self, items: Sequence[Outbound]) -> bool:
        """Deliver ``items`` in order without waiting, through one write when the socket is idle.

        Returns False (and closes the queue) when they do not all fit in it.
        """
        if self.gone:
            return False
        if not self.backlog and self.direct is not None:
            items = self.direct(items)
        for item in items:
            try:
                self.queue.send_nowait(item)
            except trio.WouldBlock:
                self.overflowed = True
                self.drop()
                return False
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.drop()
                return False
            self.backlog += 1
        return True

    async def put(self, item: Outbound) -> None:
        """Queue ``item``, waiting for room (catch-up: a slow reader slows only its own replay).

        Raises BrokenResourceError or ClosedResourceError once the subscriber is gone.
        """
        # Counted before the wait: the writer may take and write it before this task resumes.
        self.backlog += 1
        try:
            await self.queue.send(item)
        except BaseException:
            self.backlog -= 1
            raise

    def written(self, count: int) -> None:
        """The connection wrote ``count`` items it took from the queue."""
        self.backlog -= count

    def drop(self) -> None:
        self.gone = True
        self.queue.close()


@attrs.frozen
class Join:
    """Subscribe: queue every change after position ``after`` in order, then live changes."""

    subscriber: Subscriber
    after: int = 0


@attrs.frozen
class Leave:
    subscriber: Subscriber


@attrs.frozen
class Retrieve:
    item_id: str


@attrs.frozen
class Envelope:
    """A request to the actor; replies go to ``origin``. ``correlation`` is echoed untouched."""

    request: Command | Retrieve | Join | Leave | Relayed
    origin: Subscriber
    correlation: str | None = None
