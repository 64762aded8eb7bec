"""Structured logs: one JSON object per line, extras as fields."""

import io
import logging

import orjson
import pytest

from service.logs import configure_logging


def test_json_lines_carry_ids_as_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        log = logging.getLogger("chorus.test")
        log.info("connection opened", extra={"connection_id": "sess_1", "conversation_id": "c"})
        log.debug("not shown")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("crashed", extra={"conversation_id": "c"})
    finally:
        logging.getLogger().handlers.clear()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0]["message"] == "connection opened"
    assert lines[0]["connection_id"] == "sess_1"
    assert lines[0]["level"] == "info"
    assert "boom" in lines[1]["exception"]


def test_unknown_format_or_level_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="--log-format"):
        configure_logging("INFO", "xml")
    with pytest.raises(ValueError, match="--log-level"):
        configure_logging("LOUD", "text")
