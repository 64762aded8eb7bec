"""Which dialect and subprotocol a handshake gets."""

import pytest
import trio
from trio_websocket import open_websocket_url

from service.protocol.dialects import Dialect, Negotiated, negotiate
from tests.helpers import TIMEOUT, connect, message, running_server

BETA = Dialect.BETA
GA = Dialect.GA
KEY = "openai-insecure-api-key.sk-test"


@pytest.mark.parametrize(
    ("headers", "offered", "expected"),
    [
        ([], [], Negotiated(GA, None)),
        ([(b"OpenAI-Beta", b"realtime=v1")], [], Negotiated(BETA, None)),
        ([(b"openai-beta", b"assistants=v2, Realtime=V1")], [], Negotiated(BETA, None)),
        ([(b"openai-beta", b"assistants=v2")], [], Negotiated(GA, None)),
        ([(b"x-other", b"realtime=v1")], [], Negotiated(GA, None)),
        # Browser clients (the GA JavaScript SDK): a key in a subprotocol, never selected.
        ([], ["realtime", KEY], Negotiated(GA, "realtime")),
        ([], [KEY, "realtime"], Negotiated(GA, "realtime")),
        # The beta browser client offers all three: beta, and `realtime` is selected.
        ([], ["realtime", KEY, "openai-beta.realtime-v1"], Negotiated(BETA, "realtime")),
        ([], ["openai-beta.realtime-v1"], Negotiated(BETA, "openai-beta.realtime-v1")),
        ([], [KEY], Negotiated(GA, None)),
        ([(b"OpenAI-Beta", b"realtime=v1")], ["realtime"], Negotiated(BETA, "realtime")),
    ],
)
def test_negotiate(
    headers: list[tuple[bytes, bytes]], offered: list[str], expected: Negotiated
) -> None:
    assert negotiate(headers, offered) == expected


async def test_handshake_selects_the_subprotocol_and_serves_the_dialect() -> None:
    async with running_server() as url:
        with trio.fail_after(TIMEOUT):
            async with open_websocket_url(
                url + "?conversation=sub", subprotocols=["realtime", KEY]
            ) as websocket:
                assert websocket.subprotocol == "realtime"
        async with (
            connect(url + "?conversation=mix", dialect="ga") as ga,
            connect(url + "?conversation=mix", subprotocols=["openai-beta.realtime-v1"]) as beta,
        ):
            assert beta.websocket.subprotocol == "openai-beta.realtime-v1"
            assert ga.websocket.subprotocol is None
            await ga.send({"type": "conversation.item.create", "item": message("a")})
            added = await ga.receive_type("conversation.item.added")
            done = await ga.receive_type("conversation.item.done")
            created = await beta.receive_type("conversation.item.created")
            assert added["item"] == done["item"] == created["item"]


async def test_one_encoding_per_dialect_shared_by_its_connections() -> None:
    async with (
        running_server() as url,
        connect(url + "?conversation=enc", dialect="ga") as ga1,
        connect(url + "?conversation=enc", dialect="ga") as ga2,
        connect(url + "?conversation=enc") as beta1,
        connect(url + "?conversation=enc") as beta2,
    ):
        await beta1.send({"type": "conversation.item.create", "item": message("a")})
        for client in (ga1, ga2):
            await client.receive_type("conversation.item.added")
            await client.receive_type("conversation.item.done")
        for client in (beta1, beta2):
            await client.receive_type("conversation.item.created")
        # Same bytes (event ids included) within a dialect.
        assert ga1.frames == ga2.frames
        assert beta1.frames == beta2.frames
