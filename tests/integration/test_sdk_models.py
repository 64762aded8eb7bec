"""The official openai SDK's typed models still parse every event Chorus extends."""

from typing import Any

import orjson
import pydantic
import pytest
import trio
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GaServerEvent
from trio_websocket import open_websocket_url

from tests.helpers import TIMEOUT, connect, message, running_server

BETA = pydantic.TypeAdapter[Any](BetaServerEvent)
GA = pydantic.TypeAdapter[Any](GaServerEvent)


@pytest.mark.parametrize("strict", [False, True])
async def test_extended_events_parse_with_the_sdk_models(strict: bool) -> None:
    async with running_server() as url, connect(url + "?conversation=sdk") as writer:
        await writer.send({"type": "conversation.item.create", "item": message("a")})
        await writer.send({"type": "conversation.item.delete", "item_id": "a"})
        await writer.receive()
        await writer.receive()
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(
                url + "?conversation=sdk&role=observer",
                extra_headers=[(b"OpenAI-Beta", b"realtime=v1")],
            ) as observer:
                frames = [str(await observer.get_message()) for _ in range(4)]
                await observer.send_message(
                    orjson.dumps(
                        {"type": "conversation.item.create", "item": message("b")}
                    ).decode()
                )
                frames.append(str(await observer.get_message()))

    types = [orjson.loads(frame)["type"] for frame in frames]
    assert types == [
        "session.created",
        "conversation.created",
        "conversation.item.created",
        "conversation.item.deleted",
        "error",
    ]
    # session.created is not ours to check here: its model 'chorus' is no SDK model literal.
    parsed = [BETA.validate_json(frame, strict=strict) for frame in frames[1:]]
    assert [event.type for event in parsed] == types[1:]
    for frame in frames[1:]:
        GA.validate_json(frame, strict=strict)
    assert parsed[0].model_extra == {"log_id": writer.log_id}
    assert parsed[1].model_extra == {"position": 1}
    assert parsed[2].model_extra == {"position": 2}
    assert parsed[3].error.code == "observer_cannot_write"
