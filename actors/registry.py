"""Conversation id -> running actor: spawns actors on demand and is their supervision boundary."""

import logging

import trio

from actors.conversation.actor import ConversationActor
from actors.store.base import EventStore

log = logging.getLogger(__name__)


class RegistryClosed(Exception):
    """The registry is shutting down and starts no new actors."""


class Registry:
    """Hands out the live actor of a conversation, starting it (from the log) on first use.

    Actors run in ``nursery``. An actor that crashes is logged and forgotten; the next request for
    its conversation starts a fresh one, which rebuilds the state from the log.
    """

    def __init__(
        self,
        store: EventStore,
        nursery: trio.Nursery,
        *,
        inbox_size: int = 1024,
        max_items: int | None = None,
    ) -> None:
        self.store = store
        self._nursery = nursery
        self._inbox_size = inbox_size
        self._max_items = max_items
        self._actors: dict[str, ConversationActor] = {}
        self._all_stopped = trio.Event()
        self.closing = False
        self.crashes = 0

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
        for actor in self._actors.values():
            actor.inbox.close()
        if not self._actors:
            self._all_stopped.set()

    async def wait_stopped(self) -> None:
        """Return once ``close`` was called and every actor has stopped."""
        await self._all_stopped.wait()

    def actor_for(self, conversation_id: str) -> ConversationActor:
        """Return the conversation's actor, starting one if none runs.

        The actor's inbox accepts requests at once; they are served once the log is loaded.
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
                max_items=self._max_items,
            )
            self._actors[conversation_id] = actor
            self._nursery.start_soon(self._supervise, actor, name=f"actor:{conversation_id}")
        return actor

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
            if self._actors.get(actor.conversation_id) is actor:
                del self._actors[actor.conversation_id]
            if self.closing and not self._actors:
                self._all_stopped.set()
