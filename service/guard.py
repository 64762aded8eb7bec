"""Admission and per-connection policy: who may connect, how many, and what each may send.

``Gatekeeper.admit`` runs before the WebSocket upgrade (so every refusal is an HTTP status with a
JSON body) and returns a ``Guard`` for the connection: its principal and role, its rate limit
bucket, its activity clock and place in the server's keepalive, and the metrics it feeds. The
gateway consults the guard; all the policy lives here so the gateway's own edits stay small.
"""

import logging
from collections.abc import Iterable, Sequence

import attrs
from prometheus_client import Gauge
from trio_websocket import WebSocketConnection, WebSocketRequest

from actors.conversation.messages import Outbound, Published, Refused
from actors.conversation.outbox import Outbox
from actors.registry import Registry
from service import limits
from service.auth import ANONYMOUS, Denied, Principal, authenticate
from service.config import Settings
from service.keepalive import Keepalive, Watched
from service.limits import Activity, TokenBucket
from service.metrics import Metrics
from service.protocol.codec import ClientEvent, DecodeFailure, ItemCreateRequest
from service.protocol.errors import ProtocolError
from service.protocol.events import ConversationItemDelete, ConversationItemTruncate
from service.shutdown import CLOSE_GOING_AWAY, GOING_AWAY_REASON, ServerControl

log = logging.getLogger(__name__)

DEFAULT_DIALECT = "beta"
# Client events that change the conversation, in either dialect.
WRITES = (ItemCreateRequest, ConversationItemDelete, ConversationItemTruncate)
# The gateway's close code for a connection whose outbound queue overflowed.
CLOSE_SLOW_CONSUMER = 4008
# One broadcast in this many per connection feeds the broadcast lag histogram.
BROADCAST_LAG_SAMPLE = 16


@attrs.define(eq=False)
class Guard:
    """The policy of one connection; ``Guard.unguarded`` allows everything (direct tests)."""

    settings: Settings
    principal: Principal = ANONYMOUS
    subprotocol: str | None = None
    metrics: Metrics = attrs.field(factory=Metrics)
    control: ServerControl | None = None
    activity: Activity = attrs.field(factory=Activity)
    bucket: TokenBucket | None = None
    dialect: str = DEFAULT_DIALECT
    keepalive: Keepalive | None = None
    _websocket: WebSocketConnection | None = attrs.field(default=None, init=False)
    # The close code when the server closed the connection (None: the client closed it).
    close_code: int | None = None
    _broadcasts_sent: int = 0
    # Whose connection slot this guard holds until its ``accepted`` block ends.
    _gatekeeper: "Gatekeeper | None" = None
    # What the ``accepted`` block undoes: the connection's gauge and its place in the keepalive.
    _gauge: Gauge | None = attrs.field(default=None, init=False)
    _watched: Watched | None = attrs.field(default=None, init=False)

    @classmethod
    def unguarded(cls, settings: Settings) -> "Guard":
        return cls(settings)

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def may_write(self) -> bool:
        return self.principal.role == "writer"

    def check(
        self, frame: str | bytes, decoded: ClientEvent | DecodeFailure
    ) -> ProtocolError | None:
        """Why a received event must not be processed (rate, role, item size), or None.

        Every frame counts against the rate limit, undecodable ones included.
        """
        self.activity.touch()
        if self.bucket is not None and not self.bucket.take():
            return limits.rate_limit_exceeded(self.bucket.rate, self.bucket.burst)
        if isinstance(decoded, WRITES):
            if not self.may_write:
                return limits.observer_cannot_write()
            maximum = self.settings.max_item_bytes
            if isinstance(decoded, ItemCreateRequest) and maximum and len(frame) > maximum:
                return limits.item_too_large(len(frame), maximum)
        return None

    def sent_all(self, items: Sequence[Outbound], outbox: Outbox) -> None:
        """Account for ``items`` leaving the connection in one write (activity, lag, errors)."""
        self.activity.touch()
        if type(items) is tuple:  # the actor's shared broadcast: changes only
            self._count_broadcasts(len(items), outbox)
            return
        for item in items:
            if type(item) is Published:
                self._count_broadcasts(1, outbox)
            elif type(item) is Refused:
                self.metrics.error(item.rejection.code)

    def _count_broadcasts(self, count: int, outbox: Outbox) -> None:
        # Sampled: a histogram observation takes a lock, and this runs per recipient.
        before = self._broadcasts_sent
        self._broadcasts_sent = before + count
        for _ in range(
            self._broadcasts_sent // BROADCAST_LAG_SAMPLE - before // BROADCAST_LAG_SAMPLE
        ):
            self.metrics.broadcast_lag.observe(len(outbox))

    def accepted(self, request: WebSocketRequest) -> "Accepted":
        """Complete the upgrade; ``async with`` yields the connection, counted and tracked.

        The connection slot taken by ``Gatekeeper.admit`` is given back on every exit path.
        """
        return Accepted(self, request)

    async def close(self, websocket: WebSocketConnection, code: int, reason: str) -> None:
        """Close ``websocket`` with ``code`` (counted in the metrics)."""
        self.close_code = code
        await websocket.aclose(code, reason)

    def _count_close(self, websocket: WebSocketConnection | None) -> None:
        code = self.close_code
        if code is None and self.control is not None and self.control.draining:
            code = CLOSE_GOING_AWAY
        if code is None and websocket is not None and websocket.closed is not None:
            code = websocket.closed.code  # the client's code, or 1009 for an oversized frame
        if code is None:
            return
        self.metrics.closed(code)
        if code == CLOSE_SLOW_CONSUMER:
            self.metrics.slow_consumer_closes.inc()

    async def _opened(self, websocket: WebSocketConnection) -> None:
        """Count, track and watch the upgraded ``websocket`` (undone by ``_ended``)."""
        self._gauge = self.metrics.connection_opened(dialect=self.dialect, role=self.role)
        if self.keepalive is not None:
            self._watched = self.keepalive.watch(websocket, self.activity, self._close_watched)
        self._websocket = websocket
        if self.control is not None:
            self.control.track(websocket)
            if self.control.draining:
                # Admitted just before the shutdown began, accepted just after.
                await self.close(websocket, CLOSE_GOING_AWAY, GOING_AWAY_REASON)

    def _ended(self, websocket: WebSocketConnection | None) -> None:
        if websocket is not None:
            if self.control is not None:
                self.control.untrack(websocket)
            if self._watched is not None and self.keepalive is not None:
                self.keepalive.unwatch(self._watched)
                self._watched = None
            if self._gauge is not None:
                self._gauge.dec()
                self._gauge = None
        self._count_close(websocket)
        if self._gatekeeper is not None:
            self._gatekeeper.release()
            self._gatekeeper = None

    async def _close_watched(self, code: int, reason: str) -> None:
        """The keepalive's way to close this guard's connection."""
        assert self._websocket is not None, "only an accepted connection is watched"
        await self.close(self._websocket, code, reason)


class Accepted:
    """``Guard.accepted``'s block: a plain class, since a generator's frame, its context manager
    and its per-connection bookkeeping cost more than half a KiB of every idle connection."""

    __slots__ = ("_guard", "_request", "_websocket")

    def __init__(self, guard: Guard, request: WebSocketRequest) -> None:
        self._guard = guard
        self._request = request
        self._websocket: WebSocketConnection | None = None

    async def __aenter__(self) -> WebSocketConnection:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        self.ended()

    async def open(self) -> WebSocketConnection:
        """Accept the upgrade (``async with``, or this and then ``ended`` on every path)."""
        guard = self._guard
        try:
            websocket = await self._request.accept(subprotocol=guard.subprotocol)
            self._websocket = websocket
            await guard._opened(websocket)
        except BaseException:
            guard._ended(self._websocket)
            raise
        return websocket

    def ended(self) -> None:
        """The connection is over: give back what ``open`` took."""
        self._guard._ended(self._websocket)


class Gatekeeper:
    """Admits connections to one server: shutdown, keys, connection and conversation limits."""

    def __init__(
        self,
        settings: Settings,
        control: ServerControl,
        metrics: Metrics,
        registry: Registry,
        keepalive: Keepalive | None = None,
    ) -> None:
        self.keepalive = keepalive
        self.settings = settings
        self.control = control
        self.metrics = metrics
        self.registry = registry
        self.admitted = 0

    def admit(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        subprotocols: Sequence[str],
        conversation_id: str,
    ) -> Guard:
        """Return the new connection's guard; raises Denied (401, 403 or 503).

        The guard holds a connection slot until its ``accepted`` block ends.
        """
        try:
            return self._admit(headers, subprotocols, conversation_id)
        except Denied as denied:
            self.metrics.handshake_rejected(denied.status, denied.code)
            log.info(
                "handshake refused",
                extra={
                    "status": denied.status,
                    "code": denied.code,
                    "conversation_id": conversation_id,
                },
            )
            raise

    def _admit(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        subprotocols: Sequence[str],
        conversation_id: str,
    ) -> Guard:
        settings = self.settings
        if self.control.draining:
            raise Denied(503, "server_shutting_down", "The server is shutting down; retry.")
        principal = authenticate(settings.api_keys, headers, subprotocols, conversation_id)
        if settings.max_connections and self.admitted >= settings.max_connections:
            raise Denied(
                503,
                "too_many_connections",
                f"The server has reached its limit of {settings.max_connections} connections.",
            )
        if (
            settings.max_conversations
            and conversation_id not in self.registry
            and len(self.registry) >= settings.max_conversations
        ):
            raise Denied(
                503,
                "too_many_conversations",
                f"The server holds its limit of {settings.max_conversations} live conversations.",
            )
        bucket = (
            TokenBucket(settings.rate_limit, settings.rate_burst)
            if settings.rate_limit > 0
            else None
        )
        self.admitted += 1
        return Guard(
            settings,
            principal,
            None,  # the gateway sets the subprotocol once it has negotiated the dialect
            self.metrics,
            self.control,
            Activity(),
            bucket,
            keepalive=self.keepalive,
            gatekeeper=self,
        )

    def release(self) -> None:
        self.admitted -= 1
