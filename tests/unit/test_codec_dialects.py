"""The codec per dialect: what each accepts, the error each gives, and the shapes it writes."""

from typing import Any

import orjson
import pytest

from actors.conversation import core
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from actors.conversation.records import from_record, to_record
from actors.store.base import StoredEvent
from service.protocol import codec
from service.protocol.codec import DecodeFailure, ItemCreateRequest
from service.protocol.dialects import Dialect
from service.protocol.events import ConversationItemTruncate, SessionUpdate, Unsupported

BETA = Dialect.BETA
GA = Dialect.GA


def _create(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def _message(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": list(parts)}


def _decode(dialect: Dialect, event: dict[str, Any]) -> object:
    return codec.decode_client_event(orjson.dumps(event).decode(), dialect)


ERRORS: list[tuple[Dialect, dict[str, Any], str, str | None]] = [
    (
        GA,
        _create(_message("assistant", {"type": "text", "text": "x"})),
        "invalid_value",
        "item.content[0].type",
    ),
    (
        BETA,
        _create(_message("assistant", {"type": "output_text", "text": "x"})),
        "invalid_value",
        "item.content[0].type",
    ),
    (
        GA,
        _create(_message("assistant", {"type": "output_audio", "audio": "AAAA"})),
        "invalid_value",
        "item.content[0].type",
    ),
    (
        GA,
        _create(_message("user", {"type": "input_image"})),
        "missing_required_parameter",
        "item.content[0].image_url",
    ),
    (
        GA,
        _create(_message("user", {"type": "input_image", "image_url": "u", "detail": "max"})),
        "invalid_value",
        "item.content[0].detail",
    ),
    (
        BETA,
        _create(_message("user", {"type": "input_image", "image_url": "u"})),
        "unknown_parameter",
        "item.content[0].image_url",
    ),
    (
        GA,
        _create(_message("system", {"type": "input_text", "text": "x", "audio": "AAAA"})),
        "unknown_parameter",
        "item.content[0].audio",
    ),
    (
        GA,
        _create({"type": "message", "role": "user"}),
        "missing_required_parameter",
        "item.content",
    ),
    (GA, _create({"type": "message", "content": []}), "missing_required_parameter", "item.role"),
    (GA, _create({"type": "message", "role": "tool", "content": []}), "invalid_value", "item.role"),
    (GA, _create({"type": "message", "role": 3, "content": []}), "invalid_type", "item.role"),
    (
        GA,
        _create({"type": "function_call", "arguments": "{}"}),
        "missing_required_parameter",
        "item.name",
    ),
    (
        GA,
        _create({"type": "function_call_output", "output": "1"}),
        "missing_required_parameter",
        "item.call_id",
    ),
    (
        GA,
        _create({"type": "function_call", "name": "f", "arguments": "{}", "role": "user"}),
        "unknown_parameter",
        "item.role",
    ),
    (GA, _create({"type": "call"}), "invalid_value", "item.type"),
    (GA, _create({}), "missing_required_parameter", "item.type"),
    (GA, {"type": "conversation.item.create", "item": []}, "invalid_type", "item"),
    (GA, _create({**_message("user"), "status": "done"}), "invalid_value", "item.status"),
    (
        BETA,
        {
            "type": "conversation.item.truncate",
            "item_id": "a",
            "content_index": "0",
            "audio_end_ms": 0,
        },
        "invalid_type",
        "content_index",
    ),
    (
        BETA,
        {
            "type": "conversation.item.truncate",
            "item_id": "a",
            "content_index": 0,
            "audio_end_ms": -1,
        },
        "integer_below_min_value",
        "audio_end_ms",
    ),
    (
        GA,
        {"type": "conversation.item.truncate", "item_id": "a", "content_index": 0},
        "missing_required_parameter",
        "audio_end_ms",
    ),
    (
        GA,
        {"type": "session.update", "session": {"instructions": "x"}},
        "missing_required_parameter",
        "session.type",
    ),
    (
        GA,
        {"type": "session.update", "session": {"type": "transcription"}},
        "invalid_value",
        "session.type",
    ),
    (
        GA,
        {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}},
        "unknown_parameter",
        "session.modalities",
    ),
    (
        BETA,
        {"type": "session.update", "session": {"output_modalities": ["text"]}},
        "unknown_parameter",
        "session.output_modalities",
    ),
    (BETA, {"type": "session.update", "session": "x"}, "invalid_type", "session"),
    (BETA, {"type": "session.update"}, "missing_required_parameter", "session"),
    (GA, {"type": "response.creat"}, "invalid_value", "type"),
]


@pytest.mark.parametrize(("dialect", "event", "code", "param"), ERRORS)
def test_decode_errors(
    dialect: Dialect, event: dict[str, Any], code: str, param: str | None
) -> None:
    decoded = _decode(dialect, event)
    assert isinstance(decoded, DecodeFailure), decoded
    assert (decoded.error.code, decoded.error.param) == (code, param), decoded.error.message


def test_ga_assistant_wording() -> None:
    decoded = _decode(GA, _create(_message("assistant", {"type": "text", "text": "x"})))
    assert isinstance(decoded, DecodeFailure)
    assert decoded.error.message == "Invalid value: 'text'. Supported values are: 'output_text'."


@pytest.mark.parametrize("dialect", [BETA, GA])
@pytest.mark.parametrize(
    "type_name",
    ["input_audio_buffer.append", "response.create", "transcription_session.update"],
)
def test_unsupported_events_decode_without_validation(dialect: Dialect, type_name: str) -> None:
    assert _decode(dialect, {"type": type_name, "event_id": "e", "x": 1}) == Unsupported(
        type_name, "e"
    )


def test_truncate_and_session_update_decode() -> None:
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": "a",
        "content_index": 1,
        "audio_end_ms": 5,
    }
    assert _decode(GA, truncate) == ConversationItemTruncate(
        "conversation.item.truncate", "a", 1, 5
    )
    update = {"type": "session.update", "session": {"type": "realtime", "audio": {"output": {}}}}
    decoded = _decode(GA, update)
    assert isinstance(decoded, SessionUpdate)
    assert decoded.session == update["session"]


GA_ITEMS: list[dict[str, Any]] = [
    _message(
        "user",
        {"type": "input_text", "text": "a"},
        {"type": "input_audio", "audio": "AAAA", "transcript": "t"},
        {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"},
    ),
    _message("assistant", {"type": "output_text", "text": "b"}),
    _message("system", {"type": "input_text", "text": "c"}),
    {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "1"},
]


@pytest.mark.parametrize("item", GA_ITEMS)
def test_ga_items_round_trip(item: dict[str, Any]) -> None:
    decoded = _decode(GA, _create({**item, "id": "it"}))
    assert isinstance(decoded, ItemCreateRequest), decoded
    command = decoded.command
    written = orjson.loads(
        orjson.dumps(codec._converter.unstructure(codec.item_to_wire(command.item, GA)))
    )
    assert written == {**item, "id": "it", "object": "realtime.item", "status": "completed"}


def test_beta_names_map_to_canonical_kinds_and_back() -> None:
    decoded = _decode(BETA, _create(_message("assistant", {"type": "text", "text": "x"})))
    assert isinstance(decoded, ItemCreateRequest)
    item = decoded.command.item
    assert item.content[0].kind is ContentKind.OUTPUT_TEXT
    assert codec.item_to_wire(item, BETA).content[0].type == "text"  # type: ignore[index]
    assert codec.item_to_wire(item, GA).content[0].type == "output_text"  # type: ignore[index]


def test_truncated_events_are_logged() -> None:
    event = core.ItemTruncated("a", 1, 40)
    record = to_record(event)
    assert from_record(StoredEvent("c", 1, 1, record.kind, record.data)) == event
    created = core.ItemCreated(
        Item(
            "x",
            ItemType.MESSAGE,
            role=Role.USER,
            content=(ContentPart(ContentKind.INPUT_IMAGE, image_url="u", detail="low"),),
        ),
        None,
    )
    record = to_record(created)
    assert from_record(StoredEvent("c", 1, 1, record.kind, record.data)) == created
