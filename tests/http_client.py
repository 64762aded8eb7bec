"""A minimal HTTP/1.1 client (h11) for the ops endpoints and for refused WebSocket handshakes."""

import base64
import os
from collections.abc import Sequence
from urllib.parse import urlsplit

import h11
import trio

TIMEOUT = 10


async def request(
    url: str, headers: Sequence[tuple[str, str]] = (), method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """Send one request to ``url`` (http:// or ws://); return status, headers and body."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = h11.Connection(h11.CLIENT)
    all_headers = [("host", f"{parts.hostname}:{parts.port}"), *headers]
    with trio.fail_after(TIMEOUT):
        stream = await trio.open_tcp_stream(parts.hostname, parts.port)
        async with stream:
            await stream.send_all(
                connection.send(h11.Request(method=method, target=target, headers=all_headers))
            )
            await stream.send_all(connection.send(h11.EndOfMessage()))
            status, response_headers, body = 0, {}, b""
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    response_headers = {k.decode(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.InformationalResponse):  # 101: the upgrade happened
                    return (
                        event.status_code,
                        {k.decode(): v.decode() for k, v in event.headers},
                        b"",
                    )
                else:  # EndOfMessage, ConnectionClosed, PAUSED
                    return status, response_headers, body


async def handshake(
    url: str, headers: Sequence[tuple[str, str]] = (), subprotocols: Sequence[str] = ()
) -> tuple[int, dict[str, str], bytes]:
    """Attempt a WebSocket upgrade by hand; return the status, headers and body of the answer."""
    upgrade = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", base64.b64encode(os.urandom(16)).decode()),
    ]
    if subprotocols:
        upgrade.append(("sec-websocket-protocol", ", ".join(subprotocols)))
    return await request(url, [*upgrade, *headers])
