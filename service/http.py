"""The operations listener: a tiny HTTP/1.1 server (h11 on trio) for health checks and metrics.

``GET /healthz`` is 200 while the process runs; ``GET /readyz`` is 200 when the store answers and
the server accepts connections (503 while draining or when the store does not answer within a
second); ``GET /metrics`` is the Prometheus text exposition. One request per connection.
"""

import contextlib
import logging
from collections.abc import Awaitable, Callable

import h11
import orjson
import trio

from service.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024
REQUEST_TIMEOUT = 5.0
READY_TIMEOUT = 1.0

Response = tuple[int, bytes, bytes]
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class OpsEndpoints:
    """What the operations listener answers; ``ready`` probes the store."""

    def __init__(self, metrics: Metrics, ready: Callable[[], Awaitable[str | None]]) -> None:
        self.metrics = metrics
        self._ready = ready

    async def respond(self, method: str, path: str) -> Response:
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": "method not allowed"})
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        if path == "/readyz":
            with trio.move_on_after(READY_TIMEOUT):
                problem = await self._ready()
                if problem is None:
                    return _json(200, {"status": "ready"})
                return _json(503, {"status": "not ready", "reason": problem})
            return _json(503, {"status": "not ready", "reason": "store did not answer"})
        if path == "/metrics":
            return 200, CONTENT_TYPE.encode(), self.metrics.render()
        return _json(404, {"error": "not found"})


def _json(status: int, body: object) -> Response:
    return status, b"application/json", orjson.dumps(body)


async def serve_ops(
    endpoints: OpsEndpoints,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the operations endpoints on ``host:port`` until cancelled; ``started(port)``."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]

    async def handler(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.move_on_after(REQUEST_TIMEOUT):
                await _serve_one(stream, endpoints)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, listeners)
        task_status.started(bound)


async def _serve_one(stream: trio.SocketStream, endpoints: OpsEndpoints) -> None:
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive_some(MAX_REQUEST_BYTES))
                continue
            if isinstance(event, h11.Request):
                method, target = event.method.decode(), event.target.decode("latin-1")
                status, content_type, body = await endpoints.respond(method, target)
                break
            if isinstance(event, h11.ConnectionClosed):
                return
    except h11.RemoteProtocolError:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(BAD_REQUEST)
        return
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    try:
        await stream.send_all(connection.send(h11.Response(status_code=status, headers=headers)))
        if method != "HEAD":
            await stream.send_all(connection.send(h11.Data(data=body)))
        await stream.send_all(connection.send(h11.EndOfMessage()))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        log.debug("ops client went away")
