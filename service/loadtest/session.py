"""One conversation under load: its observers and its writer, each a WebSocket client."""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from contextlib import AsyncExitStack
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs
import orjson
import trio

from service.loadtest.client import (
    ClientConnection,
    ConnectFailed,
    Disconnected,
    Message,
    open_client,
)
from service.loadtest.config import LoadConfig
from service.loadtest.integrity import check_conversation
from service.loadtest.rawws import Reactor
from service.loadtest.stats import WorkerStats

_DISCONNECT_TIMEOUT = 2.0
_DRAIN_POLL = 0.02
# At most this many creates go out in one write.
_MAX_BATCH = 256


@attrs.define
class Schedule:
    """When the measured run starts and stops; ``go`` is set once both are known."""

    go: trio.Event = attrs.field(factory=trio.Event)
    origin: float = 0.0
    stop_at: float = 0.0


@attrs.define
class Conversation:
    """The bookkeeping of one conversation: what the writer sent and what each connection got.

    Item ids map to a sequence number; ``sent_at[seq]`` is when the generator began to send it,
    from which latencies are measured. A write the server holds back (a full socket) counts in
    the latency; the generator's own lateness behind its schedule (a timer wakes up to a
    millisecond late; a busy generator falls behind) is reported apart, as send lag.
    """

    conversation_id: str
    item_prefix: str
    sent_at: list[float] = attrs.field(factory=list)
    index: dict[str, int] = attrs.field(factory=dict)
    pending: set[int] = attrs.field(factory=set)
    rejected: set[int] = attrs.field(factory=set)
    writer_received: list[int] = attrs.field(factory=list)
    observers_received: list[list[int]] = attrs.field(factory=list)
    closing: bool = False

    def drained(self) -> bool:
        done = len(self.writer_received)
        return not self.pending and all(len(r) >= done for r in self.observers_received)


@attrs.define
class _Link:
    """One connection and the list of item seqs it received."""

    conn: ClientConnection
    received: list[int]
    is_writer: bool
    ready: trio.Event = attrs.field(factory=trio.Event)
    up: bool = False


def connection_url(base: str, conversation_id: str, *, observer: bool) -> str:
    """``base`` with ``conversation=ID`` (and ``role=observer``) added to its query."""
    parts = urlsplit(base)
    params = [("conversation", conversation_id)]
    if observer:
        params.append(("role", "observer"))
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def request_headers(cfg: LoadConfig) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if cfg.dialect == "beta":
        headers.append((b"OpenAI-Beta", b"realtime=v1"))
    if cfg.api_key:
        headers.append((b"Authorization", b"Bearer " + cfg.api_key.encode()))
    return headers


class ConversationRunner:
    """Runs one conversation: connect, wait for ``go``, write until ``stop_at``, drain, check."""

    def __init__(
        self,
        cfg: LoadConfig,
        index: int,
        stats: WorkerStats,
        schedule: Schedule,
        limiter: trio.CapacityLimiter,
        reactor: Reactor | None = None,
    ) -> None:
        self._cfg = cfg
        self._reactor = reactor
        self._stats = stats
        self._schedule = schedule
        self._limiter = limiter
        self._delivered_type = (
            "conversation.item.created" if cfg.dialect == "beta" else "conversation.item.added"
        )
        self.conversation = Conversation(
            conversation_id=cfg.conversation_id(index),
            item_prefix=f"i{cfg.run_id}{index:x}_",
        )
        self._window = trio.Semaphore(cfg.window or 1)
        self._payload = "x" * cfg.payload_bytes

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect every connection (started once all have succeeded or failed), then run."""
        conv = self.conversation
        async with trio.open_nursery() as readers, AsyncExitStack() as stack:
            for _ in range(self._cfg.observers):
                link = await self._connect(stack, readers, is_writer=False)
                if link is not None:
                    conv.observers_received.append(link.received)
            writer = await self._connect(stack, readers, is_writer=True)
            task_status.started()
            await self._schedule.go.wait()
            if writer is not None:
                await self._write(writer.conn)
                await self._drain()
            else:
                await trio.sleep_until(self._schedule.stop_at)
            conv.closing = True
        if writer is not None:
            self._stats.integrity.merge(
                check_conversation(
                    len(conv.sent_at), conv.rejected, conv.writer_received, conv.observers_received
                )
            )

    async def _connect(
        self, stack: AsyncExitStack, readers: trio.Nursery, *, is_writer: bool
    ) -> _Link | None:
        """Open one connection and wait for ``conversation.created``; None if that failed."""
        cfg = self._cfg
        url = connection_url(cfg.url, self.conversation.conversation_id, observer=not is_writer)
        async with self._limiter:
            opener = open_client(
                cfg.client,
                url,
                request_headers(cfg),
                connect_timeout=cfg.connect_timeout,
                close_timeout=_DISCONNECT_TIMEOUT,
                reactor=self._reactor,
            )
            try:
                conn = await stack.enter_async_context(opener)
            except ConnectFailed as exc:
                self._stats.connection_failures += 1
                if exc.status is not None:
                    self._stats.on_error(f"loadtest_handshake_http_{exc.status}")
                return None
            received = self.conversation.writer_received if is_writer else []
            link = _Link(conn=conn, received=received, is_writer=is_writer)
            conn.start_receiving(
                readers,
                functools.partial(self._on_messages, link),
                functools.partial(self._on_closed, link),
            )
            with trio.move_on_after(cfg.connect_timeout):
                await link.ready.wait()
        if not link.ready.is_set():
            self._stats.connection_failures += 1
            return None
        return link

    def _on_messages(self, link: _Link, messages: Sequence[Message], now: float) -> None:
        """Account for what one read brought; the hot path of the generator.

        Every message of one read gets the same arrival time: they arrived together.
        """
        stats = self._stats
        conv = self.conversation
        delivered_type = self._delivered_type
        index, sent_at, pending = conv.index, conv.sent_at, conv.pending
        received, is_writer, loads = link.received, link.is_writer, orjson.loads
        for message in messages:
            try:
                event = loads(message)
                kind = event.get("type")
            except (orjson.JSONDecodeError, AttributeError):
                stats.on_error("loadtest_unparsable_event")
                continue
            if kind == delivered_type:
                item = event.get("item")
                seq = index.get(item.get("id", "")) if isinstance(item, dict) else None
                if seq is None:
                    continue  # history from before this run, or not ours
                received.append(seq)
                if not is_writer:
                    stats.on_delivery(now, now - sent_at[seq])
                elif seq in pending:
                    pending.discard(seq)
                    stats.on_ack(now, now - sent_at[seq])
                    self._window.release()
            elif kind == "error":
                self._on_error(event.get("error"), is_writer)
            elif kind == "conversation.created" and not link.up:
                link.up = True
                stats.connections_up += 1
                stats.connections_opened += 1
                link.ready.set()

    def _on_closed(self, link: _Link, _error: Disconnected) -> None:
        if link.up:
            link.up = False
            self._stats.connections_up -= 1
            if not self.conversation.closing:
                self._stats.disconnects += 1

    def _on_error(self, error: object, is_writer: bool) -> None:
        detail = error if isinstance(error, dict) else {}
        self._stats.on_error(str(detail.get("code") or detail.get("type") or "unknown"))
        event_id = detail.get("event_id")
        if not is_writer or not isinstance(event_id, str):
            return
        seq = self.conversation.index.get(event_id.removeprefix("evt_"))
        if seq is not None and seq in self.conversation.pending:
            self.conversation.pending.discard(seq)
            self.conversation.rejected.add(seq)
            self._window.release()

    async def _write(self, conn: ClientConnection) -> None:
        """Send creates until ``stop_at``: on a fixed schedule (open loop) or window-limited.

        Whatever is due at once goes out in one batch: every free window slot (closed loop), or
        every create whose scheduled time has passed (open loop, when the generator fell behind).
        """
        cfg, schedule = self._cfg, self._schedule
        if cfg.rate == 0:
            await trio.sleep_until(schedule.stop_at)
            return
        interval = cfg.conversations / cfg.rate if cfg.rate else 0.0
        first = schedule.origin + random.random() * interval
        seq = 0
        try:
            while True:
                # Only the wait is cancellable: cancelling a send midway would break the stream.
                with trio.move_on_at(schedule.stop_at) as waiting:
                    if cfg.rate:
                        await trio.sleep_until(first + seq * interval)
                    else:
                        await self._window.acquire()
                if waiting.cancelled_caught:
                    return
                now = trio.current_time()
                if cfg.rate:
                    last = max(seq, min(int((now - first) / interval), seq + _MAX_BATCH - 1))
                    due = [first + s * interval for s in range(seq, last + 1)]
                    due = [at for at in due if at < schedule.stop_at]
                    if not due:
                        return
                else:
                    if now >= schedule.stop_at:
                        return
                    due = [now]
                    while len(due) < _MAX_BATCH and self._window_take():
                        due.append(now)
                await self._send(conn, seq, due)
                seq += len(due)
        except Disconnected:
            return

    def _window_take(self) -> bool:
        try:
            self._window.acquire_nowait()
        except trio.WouldBlock:
            return False
        return True

    async def _send(self, conn: ClientConnection, seq: int, intended: list[float]) -> None:
        """Send creates ``seq, seq + 1, ...``, one per intended send time, in one batch.

        Latencies count from the moment the batch goes out; how late that was behind each
        create's intended time is recorded apart, as send lag.
        """
        conv = self.conversation
        payloads: list[bytes] = []
        began = trio.current_time()
        for _ in intended:
            item_id = conv.item_prefix + str(seq)
            conv.index[item_id] = seq
            conv.sent_at.append(began)
            conv.pending.add(seq)
            seq += 1
            message = {
                "type": "conversation.item.create",
                "event_id": "evt_" + item_id,
                "item": {
                    "id": item_id,
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": self._payload}],
                },
            }
            payloads.append(orjson.dumps(message))
        await conn.send_texts(payloads)
        now = trio.current_time()
        for at in intended:
            self._stats.on_sent(now, began - at)

    async def _drain(self) -> None:
        """Wait, at most ``drain_timeout``, for outstanding acks and deliveries."""
        with trio.move_on_after(self._cfg.drain_timeout):
            # Polled: signalling from the receive hot path would cost more than this loop.
            while not self.conversation.drained():  # noqa: ASYNC110
                await trio.sleep(_DRAIN_POLL)
