"""Conversation id -> running actor: spawns actors on demand and is their supervision boundary."""

import logging
import math

import trio

from actors.conversation.actor import ConversationActor
from actors.conversation.messages import Envelope
from actors.stats import Counters
from actors.store.base import EventStore

log = logging.getLogger(__name__)

# A request races a passivating actor at most once per passivation; a few tries cover a
# conversation whose fresh actors keep stopping at once (an idle timeout of zero).
SEND_ATTEMPTS = 3


# How often, at most, idle actors are looked for (seconds).
MAX_PASSIVATION_INTERVAL = 5.0


class ConversationUnavailable(Exception):
    """No actor of the conversation accepted the request (it kept stopping or crashing)."""


class RegistryClosed(ConversationUnavailable):
    """The registry is shutting down and starts no new actors."""


class Registry:
    """Hands out the live actor of a conversation, starting it (from the log) on first use.

    Actors run in ``nursery``. An actor that crashes is logged and forgotten; the next request for
    its conversation starts a fresh one, which rebuilds the state from the log. An actor idle for
    ``idle_timeout`` seconds passivates the same way, without the log entry. ``close`` stops
    every actor once it has served what is queued (graceful shutdown).
    """

    def __init__(
        self,
        store: EventStore,
        nursery: trio.Nursery,
        *,
        inbox_size: int = 1024,
        idle_timeout: float = math.inf,
        max_items: int | None = None,
    ) -> None:
        self.store = store
        self._nursery = nursery
        self._inbox_size = inbox_size
        self._idle_timeout = idle_timeout
        self._max_items = max_items
        self._actors: dict[str, ConversationActor] = {}
        self._all_stopped = trio.Event()
        self._closed = trio.Event()
        self._passivating = False
        self.closing = False
        self.crashes = 0
        self.counters = Counters()

    def __len__(self) -> int:
        return len(self._actors)

    def __contains__(self, conversation_id: str) -> bool:
        return conversation_id in self._actors

    def live(self) -> list[ConversationActor]:
        """The running actors (a snapshot)."""
        return list(self._actors.values())

    def close(self) -> None:
        """Stop every actor once it has served what is queued; ``actor_for`` then refuses."""
        self.closing = True
        self._closed.set()
        for actor in self._actors.values():
            actor.inbox.close()
        if not self._actors:
            self._all_stopped.set()

    async def wait_stopped(self) -> None:
        """Return once ``close`` was called and every actor has stopped."""
        await self._all_stopped.wait()

    def actor_for(self, conversation_id: str) -> ConversationActor:
        """Return the conversation's actor, starting one if none runs.

        The actor's inbox accepts requests at once; they are served once the log is loaded. The
        actor may passivate before a request reaches it: prefer ``send``, which retries.
        Raises RegistryClosed after ``close``.
        """
        actor = self._actors.get(conversation_id)
        if actor is None:
            if self.closing:
                raise RegistryClosed("the server is shutting down")
            actor = ConversationActor(
                conversation_id,
                self.store,
                inbox_size=self._inbox_size,
                idle_timeout=self._idle_timeout,
                counters=self.counters,
                max_items=self._max_items,
            )
            self._actors[conversation_id] = actor
            self._nursery.start_soon(self._supervise, actor, name=f"actor:{conversation_id}")
            if not self._passivating and math.isfinite(self._idle_timeout):
                self._passivating = True
                self._nursery.start_soon(self._passivate_idle_actors, name="passivation")
        return actor

    async def send(self, conversation_id: str, envelope: Envelope) -> ConversationActor:
        """Deliver ``envelope`` to the conversation's actor and return that actor.

        An actor that passivated (or crashed) after it was looked up refuses the request without
        having seen it, so it is sent again to a fresh actor: no request is lost in that race.
        Raises ConversationUnavailable (RegistryClosed while shutting down) when no actor
        accepts it.
        """
        for _ in range(SEND_ATTEMPTS):
            actor = self.actor_for(conversation_id)
            try:
                await actor.inbox.send(envelope)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                self._forget(actor)
                continue
            return actor
        raise ConversationUnavailable(conversation_id)

    async def _passivate_idle_actors(self) -> None:
        """Stop idle actors until ``close``: each is idle for between 1 and 1.125 timeouts."""
        interval = min(self._idle_timeout / 8, MAX_PASSIVATION_INTERVAL)
        while True:
            with trio.move_on_after(interval):
                await self._closed.wait()
                return
            now = trio.current_time()
            for actor in self.live():
                if actor.passivate_if_idle(now):
                    self.counters.passivations += 1
                    # A request for the conversation now starts a fresh actor at once.
                    self._forget(actor)

    def _forget(self, actor: ConversationActor) -> None:
        if self._actors.get(actor.conversation_id) is actor:
            del self._actors[actor.conversation_id]
        if self.closing and not self._actors:
            self._all_stopped.set()

    async def _supervise(self, actor: ConversationActor) -> None:
        try:
            await actor.run()
        except Exception:
            self.crashes += 1
            log.exception(
                "conversation actor crashed; it is rebuilt from the log on next use",
                extra={"conversation_id": actor.conversation_id},
            )
        finally:
            self._forget(actor)
