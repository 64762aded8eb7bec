"""Real sockets: every limit answers with its documented error code or close code."""

import orjson
import trio

from tests.helpers import close_code, connect, message, read_forever, running_server
from tests.http_client import handshake


async def test_a_frame_above_the_maximum_closes_with_1009() -> None:
    async with running_server(max_message_bytes=1000) as url, connect(url) as client:
        await client.send({"type": "conversation.item.create", "item": message(text="x" * 2000)})
        assert await close_code(client) == 1009


async def test_an_item_above_the_item_limit_is_an_error_and_the_connection_stays() -> None:
    async with running_server(max_item_bytes=500) as url, connect(url) as client:
        await client.send(
            {"type": "conversation.item.create", "event_id": "big", "item": message(text="x" * 600)}
        )
        error = (await client.receive_type("error"))["error"]
        assert (error["code"], error["param"], error["event_id"]) == (
            "item_too_large",
            "item",
            "big",
        )
        await client.send({"type": "conversation.item.create", "item": message("small")})
        assert (await client.receive_type("conversation.item.created"))["item"]["id"] == "small"


async def test_a_full_conversation_refuses_more_items() -> None:
    async with running_server(max_items=2) as url, connect(url) as client:
        for item_id in ("a", "b", "c"):
            await client.send({"type": "conversation.item.create", "item": message(item_id)})
        await client.receive_type("conversation.item.created")
        await client.receive_type("conversation.item.created")
        error = (await client.receive_type("error"))["error"]
        assert error["code"] == "conversation_item_limit_reached"
        await client.send({"type": "conversation.item.delete", "item_id": "a"})
        await client.receive_type("conversation.item.deleted")
        await client.send({"type": "conversation.item.create", "item": message("c")})
        assert (await client.receive_type("conversation.item.created"))["item"]["id"] == "c"


async def test_connections_above_the_maximum_get_503() -> None:
    async with running_server(max_connections=1) as url, connect(url):
        status, _, body = await handshake(url)
        assert status == 503
        assert orjson.loads(body)["error"]["code"] == "too_many_connections"


async def test_conversations_above_the_live_maximum_get_503_but_live_ones_admit() -> None:
    async with running_server(max_conversations=1) as url, connect(url + "?conversation=one"):
        status, _, body = await handshake(url + "?conversation=two")
        assert (status, orjson.loads(body)["error"]["code"]) == (503, "too_many_conversations")
        async with connect(url + "?conversation=one"):
            pass


async def test_rate_limit_answers_rate_limit_exceeded_and_keeps_the_connection() -> None:
    async with running_server(rate_limit=0.5, rate_burst=2) as url, connect(url) as client:
        for n in range(3):
            await client.send(
                {"type": "conversation.item.create", "event_id": f"e{n}", "item": message(f"i{n}")}
            )
        events = [await client.receive() for _ in range(3)]
        errors = [e for e in events if e["type"] == "error"]
        assert [e["error"]["code"] for e in errors] == ["rate_limit_exceeded"]
        assert errors[0]["error"]["event_id"] == "e2"
        created = [e["item"]["id"] for e in events if e["type"] == "conversation.item.created"]
        assert created == ["i0", "i1"]
        await client.send({"type": "conversation.item.retrieve", "item_id": "i0"})
        assert (await client.receive())["type"] == "error"  # still limited, still connected


async def test_an_idle_connection_is_closed_with_4001() -> None:
    async with running_server(idle_timeout=0.2) as url, connect(url) as client:
        assert await close_code(client) == 4001


async def test_keepalive_pings_are_answered_and_the_connection_lives() -> None:
    async with (
        running_server(ping_interval=0.02, ping_timeout=2) as url,
        connect(url) as client,
    ):
        # The client library answers pings while it reads; nothing closes the connection.
        with trio.move_on_after(0.3):
            await read_forever(client)
        await client.send({"type": "conversation.item.create", "item": message("alive")})
        assert (await client.receive_type("conversation.item.created"))["item"]["id"] == "alive"


async def test_a_silent_tcp_client_is_dropped_after_the_handshake_timeout() -> None:
    async with running_server(handshake_timeout=0.2) as url:
        port = int(url.split(":")[2].split("/")[0])
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                assert await stream.receive_some(100) == b""


async def test_a_client_that_never_answers_pings_is_closed_with_1011() -> None:
    async with running_server(ping_interval=0.05, ping_timeout=0.1, handshake_timeout=0.3) as url:
        port = int(url.split(":")[2].split("/")[0])
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                # A client by hand that reads everything and answers nothing.
                await stream.send_all(
                    b"GET /v1/realtime?conversation=silent HTTP/1.1\r\nHost: x\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n"
                )
                received = b""
                close_frame = b"\x88"  # opcode 8, then the length and code 1011
                # It never answers the close either: the server must still let the connection go.
                while chunk := await stream.receive_some():
                    received += chunk
                after_close = received.split(close_frame)[-1]
    assert b"\x89" in received  # a ping came first
    assert after_close[1:3] == (1011).to_bytes(2, "big")
    assert after_close[3:].startswith(b"keepalive ping timeout")
