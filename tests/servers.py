"""An in-process server together with its ServerControl (ops port, shutdown requests)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from service.app import serve
from service.config import Settings
from service.shutdown import ServerControl


@asynccontextmanager
async def controlled_server(
    store_url: str = "memory://", **overrides: Any
) -> AsyncIterator[tuple[str, ServerControl]]:
    """Run Chorus with the ops listener on a free port; yield its ws:// URL and its control.

    Leaving the block stops the server gracefully (within its grace period).
    """
    settings = Settings(host="127.0.0.1", port=0, store_url=store_url, http_port=0, **overrides)
    control = ServerControl(settings.grace)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve, settings, control)
        yield f"ws://127.0.0.1:{port}/v1/realtime", control
        control.request_stop()
