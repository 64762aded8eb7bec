"""An in-process server together with its ServerControl (ops port, shutdown requests)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from prometheus_client.parser import text_string_to_metric_families

from service.app import serve
from service.config import Settings
from service.shutdown import ServerControl
from tests.http_client import request


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


def ops(control: ServerControl, path: str) -> str:
    """The URL of ``path`` on the server's operations listener."""
    return f"http://127.0.0.1:{control.http_port}{path}"


def samples(text: str) -> dict[str, float]:
    """Every sample of a /metrics text as ``name{label=value,...}`` -> value."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


async def passivations(control: ServerControl) -> float:
    """How many conversation actors the server has passivated, read from /metrics."""
    return samples((await request(ops(control, "/metrics")))[2].decode())["chorus_passivations{}"]
