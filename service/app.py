"""The composition root: open the store, start the registry and the WebSocket listener."""

import functools
import logging

import trio
from trio_websocket import WebSocketRequest, serve_websocket

from actors.registry import Registry
from actors.store import open_store
from service.config import Settings
from service.gateway import ENDPOINT, handle_request

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve Chorus until cancelled; ``task_status.started(port)`` once listening.

    Raises StoreURLError or StoreUnavailable (before listening) when the store cannot be opened.
    """
    async with (
        open_store(settings.store_url, create_dirs=settings.store_is_default) as store,
        trio.open_nursery() as nursery,
    ):
        registry = Registry(
            store, nursery, inbox_size=settings.actor_inbox, idle_timeout=settings.idle_timeout
        )
        handler = functools.partial(_handle, registry=registry, settings=settings)
        server = await nursery.start(
            functools.partial(
                serve_websocket,
                handler,
                settings.host,
                settings.port,
                None,
                handler_nursery=nursery,
                max_message_size=settings.max_message_bytes,
            )
        )
        port = server.port
        log.info("listening", extra={"url": listening_url(settings.host, port)})
        task_status.started(port)


async def _handle(request: WebSocketRequest, *, registry: Registry, settings: Settings) -> None:
    await handle_request(request, registry, settings)


def listening_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"ws://{shown}:{port}{ENDPOINT}"
