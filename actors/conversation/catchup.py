"""History on join: replay a conversation's log to one subscriber without stalling its actor.

A subscriber joins with ``Join(subscriber, after=A)``: it wants every change after position A, in
order, then live changes. Positions are log versions, so a fresh join is ``after=0`` and a resume
is the same request with the last position the client applied. The actor handles the join when it
has delivered every change up to its version V (the seam):

- ``A > V``: the position does not exist in this log; the subscriber gets ``ResumeUnavailable``
  and is dropped. Never a silent gap.
- ``A == V``, or the missing changes ``(A, V]`` are still in the actor's short ring of recent
  changes and fit in the subscriber's free queue space: the actor offers them at once and the
  subscriber is live. This is the common case for a resume after a brief disconnect.
- Otherwise the subscriber is parked as "catching up" (it gets no live offers) and ``catch_up``
  below runs beside the actor. It reads the log in bounded batches from A to at least V and sends
  each change into the subscriber's queue, *awaiting* room: a slow reader paces only its own
  catch-up, never the actor, and memory stays at one read batch plus one queue, however long the
  log. Then it sends ``Join(subscriber, after=L)`` again, L being the last position it queued,
  and the actor decides once more from the three cases (usually the ring covers the few changes
  made meanwhile).

No gap and no duplicate at the seam: the actor is the only writer of the log and handles requests
one at a time, so when it handles a join every change up to V has been delivered to the live
subscribers and none after V has; the new subscriber gets exactly (A, V] from the ring or the log
and then exactly the changes after V as they are published. While catching up the queue has a
single producer (the catch-up task); once live, a single producer again (the actor).

The connection holds back its client's commands until the subscriber is live, so replies to them
never interleave with (or overflow the queue during) the replay.
"""

import trio

from actors.conversation.messages import Envelope, Join, Published, Subscriber
from actors.conversation.records import from_record
from actors.store.base import EventStore

READ_BATCH = 1000


class LogShorterThanState(Exception):
    """The log ended before the version the actor had already published: the store lost events."""


async def catch_up(
    store: EventStore,
    conversation_id: str,
    subscriber: Subscriber,
    after: int,
    until: int,
    rejoin: trio.MemorySendChannel[Envelope],
    *,
    batch: int = READ_BATCH,
) -> None:
    """Queue the changes ``(after, until]`` (and maybe a few more) to ``subscriber``, then rejoin.

    Returns quietly when the subscriber leaves (its queue is closed) or the actor is gone.
    Raises LogShorterThanState when the log ends before ``until``.
    """
    position = after
    try:
        while position < until:
            records = await store.read(conversation_id, position, batch)
            if not records:
                raise LogShorterThanState(
                    f"log of {conversation_id!r} ends at {position}, but {until} was published"
                )
            for record in records:
                await subscriber.put(Published(from_record(record), record.version))
                position = record.version
        await rejoin.send(Envelope(Join(subscriber, position), subscriber))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
