"""The operations listener: health, readiness (also while draining) and Prometheus metrics."""

import logging

import orjson
import pytest
import trio

from tests.helpers import connect, message
from tests.http_client import request
from tests.servers import controlled_server, ops, passivations, samples


async def test_healthz_readyz_and_unknown_paths() -> None:
    async with controlled_server() as (_, control):
        status, _, body = await request(ops(control, "/healthz"))
        assert (status, orjson.loads(body)) == (200, {"status": "ok"})
        status, _, body = await request(ops(control, "/readyz"))
        assert (status, orjson.loads(body)["status"]) == (200, "ready")
        assert (await request(ops(control, "/nope")))[0] == 404
        assert (await request(ops(control, "/healthz"), method="POST"))[0] == 405


async def test_readyz_is_503_once_draining_while_healthz_stays_200() -> None:
    async with controlled_server(grace=5) as (url, control), connect(url):
        control.request_stop()
        status, _, body = await request(ops(control, "/readyz"))
        assert status == 503
        assert orjson.loads(body)["reason"] == "shutting down"
        assert (await request(ops(control, "/healthz")))[0] == 200


async def test_metrics_count_connections_appends_errors_and_conversations(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        controlled_server() as (url, control),
        connect(url + "?conversation=m1") as alice,
        connect(url + "?conversation=m1"),
    ):
        await alice.send({"type": "conversation.item.create", "item": message("x")})
        await alice.receive_type("conversation.item.created")
        await alice.send({"type": "conversation.item.create", "item": message("x")})
        await alice.receive_type("error")
        await alice.send_raw("{not json")
        await alice.receive_type("error")
        status, headers, body = await request(ops(control, "/metrics"))
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        found = samples(body.decode())
        assert found["chorus_connections{dialect=beta,role=writer}"] == 2
        assert found["chorus_live_conversations{}"] == 1
        assert found["chorus_events_appended_total{}"] == 1
        assert found["chorus_append_latency_seconds_count{}"] == 1
        assert found["chorus_errors_total{code=item_create_duplicate_item_id}"] == 1
        assert found["chorus_errors_total{code=invalid_json}"] == 1
        assert found["chorus_actor_crashes{}"] == 0
        assert found["chorus_passivations{}"] == 0
        assert "chorus_broadcast_lag_events_count{}" in found
        assert "chorus_gc_pause_seconds_count{generation=0}" in found
    # Logs carry ids, never item contents.
    opened = [r for r in caplog.records if r.getMessage() == "connection opened"]
    assert len(opened) == 2
    assert all(getattr(r, "conversation_id", None) == "m1" for r in opened)
    assert all(getattr(r, "connection_id", "").startswith("sess_") for r in opened)
    assert "hello" not in caplog.text


async def test_metrics_count_passivations_revivals_and_catch_ups() -> None:
    async with controlled_server(passivate_after=0.05) as (url, control):
        async with connect(url + "?conversation=p1") as writer:
            await writer.send({"type": "conversation.item.create", "item": message("x")})
            await writer.receive_type("conversation.item.created")
        with trio.fail_after(5):
            while await passivations(control) < 1:  # noqa: ASYNC110 - polling, as a scraper does
                await trio.sleep(0.05)
        async with connect(url + "?conversation=p1") as again:
            await again.receive_type("conversation.item.created")  # the history, from the log
            found = samples((await request(ops(control, "/metrics")))[2].decode())
        assert found["chorus_revivals{}"] == 1
        assert found["chorus_live_conversations{}"] == 1
