"""Test helpers: a Chorus server in-process on port 0 and a small JSON client."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from service.app import serve
from service.config import Settings
from service.loadtest.config import LoadConfig

TIMEOUT = 10


@asynccontextmanager
async def running_server(store_url: str = "memory://", **overrides: Any) -> AsyncIterator[str]:
    """Run Chorus in a nursery for the block; yield its ws:// base URL."""
    settings = Settings(host="127.0.0.1", port=0, store_url=store_url, **overrides)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve, settings)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
        nursery.cancel_scope.cancel()


class Client:
    """A JSON-speaking WebSocket client with bounded waits."""

    def __init__(self, websocket: WebSocketConnection) -> None:
        self.websocket = websocket
        self.frames: list[str] = []
        self.conversation = ""
        self.log_id = ""

    async def send(self, event: dict[str, Any]) -> None:
        await self.websocket.send_message(orjson.dumps(event).decode())

    async def send_raw(self, frame: str | bytes) -> None:
        await self.websocket.send_message(frame)

    async def receive(self) -> dict[str, Any]:
        with trio.fail_after(TIMEOUT):
            frame = await self.websocket.get_message()
        assert isinstance(frame, str), "Chorus sends text frames"
        self.frames.append(frame)
        event: dict[str, Any] = orjson.loads(frame)
        return event

    async def receive_type(self, type_name: str) -> dict[str, Any]:
        event = await self.receive()
        assert event["type"] == type_name, event
        return event


@asynccontextmanager
async def connect(
    url: str, *, dialect: str = "beta", subprotocols: Sequence[str] = (), **headers: str
) -> AsyncIterator[Client]:
    """Connect and consume ``session.created`` and ``conversation.created``.

    ``dialect="beta"`` (the default, the shape of the spec documents) sends
    ``OpenAI-Beta: realtime=v1``; ``dialect="ga"`` sends no such header.
    """
    if dialect == "beta":
        headers.setdefault("OpenAI_Beta", "realtime=v1")
    extra = [(key.replace("_", "-").encode(), value.encode()) for key, value in headers.items()]
    with trio.fail_after(TIMEOUT):
        async with open_websocket_url(
            url, extra_headers=extra, subprotocols=list(subprotocols) or None
        ) as websocket:
            try:
                client = Client(websocket)
                await client.receive_type("session.created")
                created = await client.receive_type("conversation.created")
                client.conversation = created["conversation"]["id"]
                client.log_id = created["log_id"]
                client.frames.clear()
                yield client
            finally:
                # trio-websocket 0.12 leaves the TCP stream open when the server closed first
                # or the connection broke (aclose() returns early once a close reason is set).
                if websocket.closed is not None:
                    await trio.aclose_forcefully(websocket._stream)


async def handshake_status(url: str) -> tuple[int, bytes]:
    """Attempt a WebSocket upgrade of ``url`` by hand; return the HTTP status and body."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return await raw_handshake(f"ws://{parts.netloc}/", target)


def message(item_id: str | None = None, text: str = "hello", role: str = "user") -> dict[str, Any]:
    kind = "text" if role == "assistant" else "input_text"
    item: dict[str, Any] = {
        "type": "message",
        "role": role,
        "content": [{"type": kind, "text": text}],
    }
    if item_id is not None:
        item["id"] = item_id
    return item


async def raw_handshake(url: str, target: str) -> tuple[int, bytes]:
    """Send a WebSocket upgrade request by hand; return the HTTP status and body.

    By hand because trio-websocket's client leaks its socket when the server rejects.
    """
    host, port = url.removeprefix("ws://").split("/")[0].rsplit(":", 1)
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(request.encode())
            response = b""
            while chunk := await stream.receive_some():
                response += chunk
                head, _, body = response.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= length[0]:
                    break
    status = int(response.split(b" ", 2)[1])
    return status, response.partition(b"\r\n\r\n")[2]


async def close_code(client: Client) -> int | None:
    """Read until the server closes the connection; return its close code (None: none given)."""
    with pytest.raises(ConnectionClosed) as closed, trio.fail_after(10):
        await read_forever(client)
    return closed.value.reason.code if closed.value.reason else None


async def read_forever(client: Client) -> None:
    while True:
        await client.websocket.get_message()


def load_config(**overrides: object) -> LoadConfig:
    """A small valid ``chorus loadtest`` configuration (closed loop), with ``overrides``."""
    fields: dict[str, object] = {
        "url": "ws://127.0.0.1:1/v1/realtime",
        "conversations": 2,
        "observers": 3,
        "duration": 2.0,
        "window": 1,
    }
    fields.update(overrides)
    return LoadConfig(**fields)  # type: ignore[arg-type]
