"""Real sockets: an ended connection is freed by reference counting, not by the cycle collector.

A connection whose objects formed a reference cycle would be freed only by a collection, and the
server freezes whatever survives one (``service/gctune.py``): once the connection had lived
through a collection, its memory would stay taken for good.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from actors.conversation.actor import ConversationActor
from actors.conversation.core import ConversationState
from actors.conversation.model import Item
from service.gateway import Connection
from service.guard import Guard
from tests.helpers import connect, message, running_server
from tests.servers import controlled_server, passivations


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


async def test_a_passivated_conversation_leaves_no_reference_cycles() -> None:
    """Its actor, state and items go with reference counting, and so does the connection.

    The connection sends rejected events too: cattrs' error tree for an invalid one made a cycle
    through the decoder's frames, which held the connection, until the codec dropped its
    tracebacks.
    """
    with cyclic_garbage() as garbage:
        async with controlled_server(passivate_after=0.05) as (url, control):
            async with connect(f"{url}?conversation=reclaim-idle") as writer:
                await writer.send({"type": "conversation.item.create", "item": message("kept")})
                await writer.receive_type("conversation.item.created")
                await writer.send({"type": "conversation.item.create", "item": {"type": 5}})
                await writer.receive_type("error")
                unknown = {"type": "conversation.item.create", "previous_item_id": "nope"}
                await writer.send({**unknown, "item": message("refused")})
                await writer.receive_type("error")
            with trio.fail_after(5):
                while await passivations(control) < 1:  # noqa: ASYNC110 - polling, as a scraper does
                    await trio.sleep(0.05)
    long_lived = ConversationActor | ConversationState | Item | Connection | Guard
    assert [o for o in garbage if isinstance(o, long_lived)] == []
