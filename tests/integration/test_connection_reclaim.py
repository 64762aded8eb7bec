"""Real sockets: an ended connection is freed by reference counting, not by the cycle collector.

A connection whose objects formed a reference cycle would be freed only by a collection of the
generation it reached, and with the server's thresholds (``service/gctune.py``) the older ones
are collected rarely: its memory would stay taken long after it closed.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from service.gateway import Connection
from service.guard import Guard
from tests.helpers import connect, message, running_server


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """Collect nothing automatically in the block; then the objects only a collection frees."""
    gc.collect()
    gc.disable()
    found: list[object] = []
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


async def test_ended_connections_leave_no_reference_cycles() -> None:
    with cyclic_garbage() as garbage:
        async with running_server() as url:
            for index in range(3):
                async with (
                    connect(f"{url}?conversation=reclaim") as writer,
                    connect(f"{url}?conversation=reclaim") as observer,
                ):
                    create = {"type": "conversation.item.create", "item": message(f"m{index}")}
                    await writer.send(create)
                    await writer.receive_type("conversation.item.created")
                    await observer.receive_type("conversation.item.created")
    # The collector does find the test's own cycles (the client library's): only ours count.
    assert [o for o in garbage if isinstance(o, Connection | Guard)] == []
