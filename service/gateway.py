"""One WebSocket connection: the handshake, reading, writing, and routing to the actor.

Received messages are decoded in trio-websocket's own reader task (``fastsend.MessageSink``) and
sent to the conversation's actor. The actor writes straight to an idle socket, and queues in the
connection's bounded ``Outbox`` what the socket does not take; the connection's handler task
is its writer: it drains the queue and otherwise sleeps until the queue wakes it, so an idle
connection has no task of its own beyond trio-websocket's two. Bad input becomes an ``error``
event and never closes the connection.

A connection joins as a writer (the default) or an observer (``role=observer``, read-only), and
receives the conversation's changes after ``after`` (0: the whole history), then live ones; its
own commands are read only once it is live. ``log`` makes a resume check that positions refer to
this server's log. See docs/observers.md.
"""

import logging
import math
import re
from collections.abc import Coroutine, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from actors.conversation import core
from actors.conversation.actor import ConversationActor
from actors.conversation.messages import (
    Envelope,
    Join,
    Leave,
    Outbound,
    Published,
    Relayed,
    ResumeUnavailable,
    Retrieve,
    Subscriber,
)
from actors.conversation.outbox import Outbox
from actors.ids import random_id
from actors.registry import ConversationUnavailable, Registry
from service import fastsend
from service.auth import Denied
from service.config import Settings
from service.guard import Accepted, Gatekeeper, Guard
from service.protocol import codec, errors, outbound, session
from service.protocol.codec import ClientEvent, DecodeFailure, ItemCreateRequest
from service.protocol.dialects import Dialect, negotiate
from service.protocol.events import (
    Conversation,
    ConversationCreated,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    JsonObject,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    Unsupported,
)

log = logging.getLogger(__name__)

ENDPOINT = "/v1/realtime"
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
POSITION = re.compile(r"[0-9]{1,18}")
DEFAULT_MODEL = "chorus"

# Close codes (4000-4999 are the application's own).
CLOSE_SLOW_CONSUMER = 4008
CLOSE_RESUME_UNAVAILABLE = 4009
CLOSE_ACTOR_RESTARTED = 1011
# Outbound items written in one go: bounds the bytes a slow socket holds us on, while a busy
# conversation's frames still share a system call.
WRITE_BATCH = 256


class Role(StrEnum):
    WRITER = "writer"
    OBSERVER = "observer"


@attrs.frozen
class JoinRequest:
    """What the handshake asked for, once it has been checked.

    ``after`` is the last position the client has (0: none); ``log_id`` the log it came from.
    """

    conversation_id: str
    model: str
    role: Role = Role.WRITER
    after: int = 0
    log_id: str | None = None


# A bad path or query is refused like a bad key: HTTP status and a JSON error body.
HandshakeRejected = Denied


def parse_target(target: str) -> JoinRequest:
    """Check the request target (path and query); raises HandshakeRejected."""
    parts = urlsplit(target)
    if parts.path.rstrip("/") != ENDPOINT:
        raise HandshakeRejected(404, "not_found", f"No endpoint at {parts.path!r}; use {ENDPOINT}.")
    query = parse_qs(parts.query, keep_blank_values=True)
    conversation_id = query.get("conversation", [None])[-1]
    if conversation_id is None:
        conversation_id = random_id("conv_")
    elif not CONVERSATION_ID.fullmatch(conversation_id):
        raise HandshakeRejected(
            400,
            "invalid_conversation_id",
            "The 'conversation' query parameter must be 1-64 characters of A-Z, a-z, 0-9, '_' "
            "and '-'.",
        )
    model = query.get("model", [DEFAULT_MODEL])[-1] or DEFAULT_MODEL
    try:
        role = Role(query.get("role", [Role.WRITER.value])[-1])
    except ValueError:
        raise HandshakeRejected(
            400, "invalid_role", "The 'role' query parameter must be 'writer' or 'observer'."
        ) from None
    after = query.get("after", ["0"])[-1]
    if not POSITION.fullmatch(after):
        raise HandshakeRejected(
            400,
            "invalid_position",
            "The 'after' query parameter must be a position: a non-negative integer.",
        )
    log_id = query.get("log", [None])[-1] or None
    return JoinRequest(conversation_id, model, role, int(after), log_id)


async def handle_request(
    request: WebSocketRequest,
    registry: Registry,
    settings: Settings,
    gatekeeper: Gatekeeper | None = None,
) -> None:
    """Serve one WebSocket handshake and, if accepted, the connection until it closes.

    ``gatekeeper`` checks keys and capacity before the upgrade; without one, all are let in.
    """
    serving = await open_connection(request, registry, settings, gatekeeper)
    if serving is not None:
        await serving


async def open_connection(
    request: WebSocketRequest,
    registry: Registry,
    settings: Settings,
    gatekeeper: Gatekeeper | None = None,
) -> Coroutine[Any, Any, None] | None:
    """``handle_request``'s handshake; returns what serves the accepted connection (to await at
    once, in the same task), or None when the request was refused.

    ``leanrecv.serve_websocket`` awaits the two in turn, so an open connection does not also keep
    this coroutine's frame (~0.3 KiB).
    """
    try:
        join = parse_target(request.path)
        guard = (
            Guard.unguarded(settings)
            if gatekeeper is None
            else gatekeeper.admit(
                request.headers, request.proposed_subprotocols, join.conversation_id
            )
        )
    except Denied as rejected:
        await request.reject(
            rejected.status,
            extra_headers=[(b"content-type", b"application/json")],
            body=rejected.body(),
        )
        return None
    negotiated = negotiate(request.headers, request.proposed_subprotocols)
    guard.subprotocol = negotiated.subprotocol
    guard.dialect = negotiated.dialect.value
    if join.role is Role.OBSERVER:
        # Read-only by request; a key's own role can only make a connection more restricted.
        guard.principal = attrs.evolve(guard.principal, role=Role.OBSERVER.value)
    # Received messages go straight from trio-websocket's reader task to the connection, and the
    # usual frames are parsed by service/wsframes.py rather than by wsproto.
    sink = fastsend.install_sink(request)
    fastsend.install_fast_frames(request, sink)
    accepted = guard.accepted(request)
    websocket = await accepted.open()
    try:
        fastsend.release_request(request)
        fastsend.release_handshake(websocket)
        fastsend.lighten(websocket)
        connection = Connection(
            websocket,
            registry,
            join,
            settings,
            guard,
            dialect=negotiated.dialect,
            sink=sink,
            accepted=accepted,
        )
    except BaseException:
        accepted.ended()
        raise
    return connection.run()


class Connection:
    """A client connected to one conversation."""

    # Slots: one of these per connection, and a dict of its fields is twice the size.
    __slots__ = (
        "_accepted",
        "_ended",
        "_fast",
        "_held",
        "_outbox",
        "_reading_stopped",
        "_session",
        "_sink",
        "_write_scope",
        "_write_stall",
        "actor",
        "dialect",
        "guard",
        "join",
        "last_version",
        "registry",
        "session_id",
        "subscriber",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocketConnection,
        registry: Registry,
        join: JoinRequest,
        settings: Settings,
        guard: Guard | None = None,
        *,
        dialect: Dialect = Dialect.BETA,
        sink: fastsend.MessageSink | None = None,
        accepted: Accepted | None = None,
    ) -> None:
        self.websocket = websocket
        # The upgrade's bookkeeping, given back when ``run`` ends (see ``open_connection``).
        self._accepted = accepted
        # Where the connection's reader task hands received messages (None: get_message).
        self._sink = sink
        # Set once no more messages may reach the conversation (the actor is gone, or we are).
        self._reading_stopped = False
        self.guard = guard if guard is not None else Guard.unguarded(settings)
        self.registry = registry
        self.actor: ConversationActor | None = None
        self.join = join
        self.dialect = dialect
        self.session_id = random_id("sess_")
        # Per connection, never shared: what this client set with session.update (None: nothing,
        # the initial session, built when needed rather than held by every idle connection).
        self._session: dict[str, Any] | None = None
        self._outbox = Outbox(settings.subscriber_queue)
        self.subscriber = Subscriber(self._outbox)
        if sink is not None:
            # The writer learns of the end from the sink (no task waits in get_message).
            sink.on_close = self._connection_ended
        # The scope of a write in progress, cancelled when the connection ends meanwhile.
        self._write_scope: trio.CancelScope | None = None
        self._ended = False
        # Broadcast frames are built once and written beneath trio-websocket (service/fastsend.py)
        # when its internals are the ones we know.
        self._fast = fastsend.supported(websocket)
        self._write_stall = settings.write_stall_timeout or math.inf
        # A request decoded without waiting that found the inbox full, for ``_received``.
        self._held: Envelope | None = None
        # The position of the last change sent: where the client resumes after a close.
        self.last_version = join.after

    @property
    def session(self) -> dict[str, Any]:
        """The connection's session object, as ``session.created``/``updated`` show it."""
        if self._session is None:
            return session.initial_session(self.dialect, self.session_id, self.join.model)
        return self._session

    def run(self) -> Coroutine[Any, Any, None]:
        """Join the conversation, serve it until either side closes, then leave (awaitable).

        Returns once the connection is closed: by the client, or here, with the close code that
        tells why the outbound queue ended. A plain function: an idle connection's handler task
        waits in ``_serve``'s frame only, not in one more coroutine per layer (each frame is a few
        hundred bytes per connection).
        """
        return self._serve() if self._sink is not None else self._serve_reading()

    async def _serve_reading(self) -> None:
        """Without a sink: a task of our own reads with ``get_message`` while ``_serve`` runs."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, nursery.cancel_scope)
            await self._serve()
            nursery.cancel_scope.cancel()

    async def _serve(self) -> None:
        try:
            if not await self._join():
                return
            log.info("connection opened", extra=self._log_extra(role=self.guard.role))
            refused = False
            try:
                if self._sink is not None:
                    # The connection's reader task hands us each message; this task writes.
                    self._sink.attach(self._received, self._received_now)
                await self._greet()
                if self._fast and fastsend.can_try_send(self.websocket):
                    # From now on the actor may write straight to the socket when we are idle.
                    self.subscriber.direct = self._write_now
                while True:
                    await self._outbox.wait()
                    if self._ended:
                        return
                    batch = self._outbox.take(WRITE_BATCH)
                    if not batch:
                        break
                    self.guard.sent_all(batch, self._outbox)
                    await self._send_batch(batch)
                    self.subscriber.written(len(batch))
                    for item in batch:
                        if isinstance(item, Published):
                            self.last_version = item.version
                        refused = refused or isinstance(item, ResumeUnavailable)
                # Our queue was closed: we cannot resume, we were too slow, or the actor stopped.
                # Nothing more reaches the conversation, and a message waiting in trio-websocket's
                # reader task for a history that never comes must not hold up the closing handshake.
                self._stop_reading()
                await self._close_for(refused)
            except ConnectionClosed:
                pass
            finally:
                self._outbox.close_receiver()
                self._stop_reading()
                self._leave()
                log.info(
                    "connection closed", extra=self._log_extra(close_code=self.guard.close_code)
                )
        finally:
            if self._accepted is not None:
                # Last, so that the close code set above is the one counted.
                self._accepted.ended()
            self._break_cycles()

    def _break_cycles(self) -> None:
        """Drop the references back to this connection that make its objects a cycle.

        The sink's ``on_close`` (sink -> connection -> guard -> websocket -> sink) and the
        subscriber's ``direct`` (subscriber -> connection -> subscriber): without them an ended
        connection is freed by reference counting at once. A cycle would never be freed: the
        server freezes what survives each collection (see ``service/gctune.py``). Neither is of
        use once ``_serve`` ends.
        """
        self.subscriber.direct = None
        if self._sink is not None:
            self._sink.on_close = None

    async def _close_for(self, refused: bool) -> None:
        """Close the connection with the code that tells why its queue ended."""
        if refused:
            reason = "cannot resume; rejoin"
            await self.guard.close(self.websocket, CLOSE_RESUME_UNAVAILABLE, reason)
        elif self.subscriber.overflowed:
            reason = f"slow consumer; last_position={self.last_version}"
            await self.guard.close(self.websocket, CLOSE_SLOW_CONSUMER, reason)
        else:
            reason = "conversation restarted; retry"
            await self.guard.close(self.websocket, CLOSE_ACTOR_RESTARTED, reason)

    async def _join(self) -> bool:
        """Ask to join the conversation; False when it is unavailable (the connection closed)."""
        log_id = self.registry.store.log_id
        if self.join.log_id not in (None, log_id):
            # The writer sends the greeting, this error and the close; nothing joins.
            message = (
                f"Cannot resume in log '{self.join.log_id}': this server's log is '{log_id}' "
                "(the log was reset)."
            )
            self.subscriber.offer(ResumeUnavailable(message, "log"))
            self.subscriber.drop()
            return True
        envelope = Envelope(Join(self.subscriber, self.join.after), self.subscriber)
        try:
            self.actor = await self.registry.send(self.join.conversation_id, envelope)
        except ConversationUnavailable:
            self._stop_reading()
            reason = "conversation unavailable; retry"
            await self.guard.close(self.websocket, CLOSE_ACTOR_RESTARTED, reason)
            return False
        return True

    def _log_extra(self, **extra: object) -> dict[str, object]:
        return {
            "connection_id": self.session_id,
            "conversation_id": self.join.conversation_id,
            **extra,
        }

    def _leave(self) -> None:
        if self.actor is None:
            return
        try:
            self.actor.inbox.send_nowait(Envelope(Leave(self.subscriber), self.subscriber))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            # The actor drops a gone subscriber at its next broadcast.
            self.subscriber.drop()

    def _stop_reading(self) -> None:
        """Drop messages from now on, including one waiting for the history to be queued."""
        self._reading_stopped = True
        if self._sink is not None:
            self._sink.discard()
        # Wakes a message waiting to go live (this subscriber never will); it is then dropped.
        self.subscriber.live.set()

    async def _read(self, cancel_scope: trio.CancelScope) -> None:
        """Without a sink: handle received messages until the connection closes, then stop."""
        while True:
            try:
                frame = await self.websocket.get_message()
            except ConnectionClosed:
                break
            await self._received(frame)
            if self._reading_stopped:
                break
        cancel_scope.cancel()

    def _connection_ended(self) -> None:
        """trio-websocket marked the connection closed: the writer stops, even mid-write."""
        self._ended = True
        if self._write_scope is not None:
            self._write_scope.cancel()
        self._outbox.wake()

    async def _received(self, frame: str | bytes) -> None:
        """Decode one client event and pass it to the conversation (or refuse it)."""
        if self._held is None:  # else ``_received_now`` decoded it already and found no room
            # Commands wait for the history to be queued, so replies never interleave with it.
            if not self.subscriber.live.is_set():
                await self.subscriber.live.wait()
            if self._received_now(frame):
                return
        # The inbox is full: this reader waits for room, which holds its client back.
        envelope, self._held = self._held, None
        if envelope is None or self.actor is None:
            return
        try:
            await self.actor.inbox.send(envelope)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The actor is gone: it closed our queue, so the writer closes the connection.
            self._reading_stopped = True

    def _received_now(self, frame: str | bytes) -> bool:
        """``_received`` without waiting, when it needs no wait; False: ``_received`` must run.

        Called by trio-websocket's reader task straight from the frame parser (see
        ``fastsend.FastWsproto``). When the inbox is full the decoded request is held for the
        ``_received`` that follows (the parser passes every later message that way too).
        """
        if not self.subscriber.live.is_set():
            return False
        envelope = self._decoded(frame)
        if envelope is None or self.actor is None:
            return True
        try:
            # Without a wait: the events of one read all reach the inbox before the actor runs,
            # so it decides them as one batch (one append, one write per subscriber).
            self.actor.inbox.send_nowait(envelope)
        except trio.WouldBlock:
            self._held = envelope
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._reading_stopped = True
        return True

    def _decoded(self, frame: str | bytes) -> Envelope | None:
        """The request ``frame`` makes; None when it needs none (refused, or reading stopped).

        The supervision boundary of one client event: it runs in trio-websocket's reader task,
        where an exception would end the whole server's handler nursery. A bug here answers the
        event with ``server_error`` (and is logged); the connection and the conversation go on.
        """
        if self._reading_stopped:
            return None
        assert self.actor is not None, "only a joined subscriber goes live"
        try:
            decoded = codec.decode_client_event(frame, self.dialect)
            refusal = self.guard.check(frame, decoded)
            if refusal is None:
                return self._envelope_for(decoded)
            echo = event_id_of(decoded)
        except Exception:
            log.exception("could not handle a client event", extra=self._log_extra())
            refusal, echo = errors.server_error(), None
        # Straight to our own queue: a refused event never reaches the conversation.
        self.guard.metrics.error(refusal.code)
        self.subscriber.offer(Relayed(outbound.error_frame(refusal, echo)))
        return None

    def _envelope_for(self, decoded: ClientEvent | DecodeFailure) -> Envelope:
        origin = self.subscriber
        match decoded:
            case DecodeFailure(error=error, client_event_id=echo):
                self.guard.metrics.error(error.code)
                return Envelope(Relayed(outbound.error_frame(error, echo)), origin)
            case ItemCreateRequest(command=create, event_id=echo):
                return Envelope(create, origin, echo)
            case ConversationItemRetrieve(item_id=item_id, event_id=echo):
                return Envelope(Retrieve(item_id), origin, echo)
            case ConversationItemDelete(item_id=item_id, event_id=echo):
                return Envelope(core.DeleteItem(item_id), origin, echo)
            case ConversationItemTruncate(event_id=echo):
                command = core.TruncateItem(
                    decoded.item_id, decoded.content_index, decoded.audio_end_ms
                )
                return Envelope(command, origin, echo)
            case SessionUpdate(session=update):
                # Relayed through the inbox so the answer keeps its place among the others.
                self._session = session.merged(self.session, update)
                frame = outbound.session_updated_frame(JsonObject(self._session))
                return Envelope(Relayed(frame), origin)
            case Unsupported(type=type_name, event_id=echo):
                return Envelope(
                    Relayed(outbound.unsupported_frame(type_name, echo, self.dialect)), origin
                )

    async def _greet(self) -> None:
        """Send ``session.created`` and ``conversation.created`` (raises ConnectionClosed)."""
        hello: list[ServerEvent] = [
            SessionCreated(outbound.new_event_id(), JsonObject(self.session)),
            ConversationCreated(
                outbound.new_event_id(),
                Conversation(self.join.conversation_id),
                self.registry.store.log_id,
            ),
        ]
        for frame in codec.encode_many(hello):
            await self.websocket.send_message(frame)

    def _write_now(self, items: Sequence[Outbound]) -> Sequence[Outbound]:
        """Write ``items`` to the socket at once; return what is left to queue, in order.

        Called by the actor (same thread, no await) only when nothing is queued ahead of the
        items: it saves a writer-task wake-up, a queue round trip and a lock per recipient of
        every broadcast, and a batch of changes shares one system call. What the socket does
        not take at once is queued: the rest of a partly written item as raw bytes.
        """
        sendable = items
        if type(items) is not tuple:  # a tuple is a broadcast: changes only
            for index, item in enumerate(items):
                if isinstance(item, ResumeUnavailable):  # the writer must see it, to close
                    sendable = items[:index]
                    break
            if not sendable:
                return items
        data = outbound.joined_frames(sendable, self.dialect)
        written = fastsend.try_send(self.websocket, data)
        if written is None:
            return items
        rest: list[Outbound] = []
        if written == len(data):  # the usual case: the socket took it all
            sent = sendable
        else:
            wires = [outbound.wire_frames(item, self.dialect) for item in sendable]
            sent, rest = outbound.split_written(sendable, wires, written)
        self.guard.sent_all(sent, self._outbox)
        for item in reversed(sent):
            if isinstance(item, Published):
                self.last_version = item.version
                break
        if sendable is not items:
            rest.extend(items[len(sendable) :])
        return rest

    async def _send_batch(self, batch: list[Outbound]) -> None:
        """Write ``batch`` in order: one ``send_all`` of pre-built frames where possible.

        Raises ConnectionClosed, also after cutting a connection whose peer stopped reading.
        """
        # A write blocked this long on a full socket means the peer stopped reading: the
        # connection is cut (1006), since not even a close frame would get through to it.
        with trio.move_on_after(self._write_stall) as stall:
            self._write_scope = stall
            try:
                if self._fast:
                    wire = b"".join(outbound.wire_frames(item, self.dialect) for item in batch)
                    await fastsend.send_frames(self.websocket, wire)
                    return
                for item in batch:
                    for frame in outbound.frames(item, self.dialect):
                        await self.websocket.send_message(frame)
            finally:
                self._write_scope = None
        if self._ended:
            raise ConnectionClosed(self.websocket.closed)
        if stall.cancelled_caught:
            self.guard.metrics.slow_consumer_closes.inc()
            await fastsend.abort(self.websocket)
            raise ConnectionClosed(self.websocket.closed)


def event_id_of(decoded: ClientEvent | DecodeFailure) -> str | None:
    """The client's ``event_id``, to echo in an error about the event."""
    if isinstance(decoded, DecodeFailure):
        return decoded.client_event_id
    return decoded.event_id
