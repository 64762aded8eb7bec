"""Golden frames: the spec's own example, sent over a real socket, answered as the spec shows."""

from pathlib import Path
from typing import Any

import orjson

from tests.helpers import connect, running_server

DATA = Path(__file__).parent.parent / "data"


def golden(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


async def test_the_spec_example_is_answered_with_the_golden_created_event() -> None:
    async with running_server() as url, connect(url + "?conversation=golden") as client:
        await client.send(golden("spec_item_create.json"))
        created = await client.receive_type("conversation.item.created")
    assert created.pop("event_id").startswith("event_")
    assert created == golden("spec_item_created_beta.json")
