"""The codec turns every kind of bad frame into the protocol's error, naming the field."""

import gc
import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.conversation import core
from service.protocol import codec
from service.protocol.codec import DecodeFailure, ItemCreateRequest
from service.protocol.dialects import Dialect


def create(item: dict[str, Any], **extra: Any) -> str:
    return orjson.dumps({"type": "conversation.item.create", "item": item, **extra}).decode()


USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


@pytest.mark.parametrize(
    ("frame", "code", "param", "message"),
    [
        ("{not json", "invalid_json", None, None),
        (b'{"type": "conversation.item.create"}', "invalid_event", None, None),
        ("[1, 2]", "invalid_event", None, "Expected an event object, but got an array."),
        ('"hello"', "invalid_event", None, None),
        ('{"event_id": "e"}', "invalid_event", None, "The 'type' field is missing."),
        ('{"type": 7}', "invalid_type", "type", None),
        (
            '{"type": "conversation.item.explode"}',
            "invalid_value",
            "type",
            None,
        ),
        ('{"type": "conversation.item.create"}', "missing_required_parameter", "item", None),
        (
            create({"role": "user"}),
            "missing_required_parameter",
            "item.type",
            "Missing required parameter: 'item.type'.",
        ),
        (
            create({"type": "message", "content": [{"text": "x"}]}),
            "missing_required_parameter",
            "item.content[0].type",
            None,
        ),
        (create({"type": "message"}), "missing_required_parameter", "item.role", None),
        (
            create({"type": "message", "role": "user", "content": [{"type": "input_text"}]}),
            "missing_required_parameter",
            "item.content[0].text",
            None,
        ),
        (
            create({**USER, "colour": "red"}),
            "unknown_parameter",
            "item.colour",
            "Unknown parameter: 'item.colour'.",
        ),
        (create(USER, colour="red"), "unknown_parameter", "colour", None),
        (
            create({**USER, "content": [{"type": "input_text", "text": "x", "font": 1}]}),
            "unknown_parameter",
            "item.content[0].font",
            None,
        ),
        (
            create({**USER, "id": 5}),
            "invalid_type",
            "item.id",
            "Invalid type for 'item.id': expected a string, but got an integer instead.",
        ),
        (create({**USER, "content": "hi"}), "invalid_type", "item.content", None),
        (create({**USER, "content": ["hi"]}), "invalid_type", "item.content[0]", None),
        (create(USER, previous_item_id=True), "invalid_type", "previous_item_id", None),
        (create("not an item"), "invalid_type", "item", None),  # type: ignore[arg-type]
        (
            create({**USER, "content": [{"type": 1, "text": "x"}]}),
            "invalid_type",
            "item.content[0].type",
            None,
        ),
        (
            create({**USER, "type": "note"}),
            "invalid_value",
            "item.type",
            "Invalid value: 'note'. Supported values are: 'message', 'function_call', and "
            "'function_call_output'.",
        ),
        (create({**USER, "role": "robot"}), "invalid_value", "item.role", None),
        (create({**USER, "status": "done"}), "invalid_value", "item.status", None),
        (create({**USER, "object": "thing"}), "invalid_value", "item.object", None),
        (
            create({**USER, "content": [{"type": "text", "text": "x"}]}),
            "invalid_value",
            "item.content[0].type",
            "Invalid value: 'text'. Supported values are: 'input_text' and 'input_audio'.",
        ),
        (
            create({"type": "message", "role": "system", "content": [{"type": "input_audio"}]}),
            "invalid_value",
            "item.content[0].type",
            "Invalid value: 'input_audio'. Supported values are: 'input_text'.",
        ),
        (
            create({"type": "message", "role": "assistant", "content": [{"type": "input_text"}]}),
            "invalid_value",
            "item.content[0].type",
            "Invalid value: 'input_text'. Supported values are: 'text'.",
        ),
        (
            create({**USER, "content": [{"type": "input_audio", "audio": "***"}]}),
            "invalid_value",
            "item.content[0].audio",
            None,
        ),
        (
            create({**USER, "id": "x" * 33}),
            "string_above_max_length",
            "item.id",
            "Invalid 'item.id': string too long. Expected a string with maximum length 32, "
            "but got a string with length 33 instead.",
        ),
    ],
)
def test_bad_frames_become_precise_errors(
    frame: str | bytes, code: str, param: str | None, message: str | None
) -> None:
    result = codec.decode_client_event(frame)
    assert isinstance(result, DecodeFailure)
    assert (result.error.code, result.error.param) == (code, param)
    if message is not None:
        assert result.error.message == message


def test_unknown_type_lists_the_supported_types() -> None:
    result = codec.decode_client_event('{"type": "conversation.item.explode"}')
    assert isinstance(result, DecodeFailure)
    assert result.error.message.startswith(
        "Invalid value: 'conversation.item.explode'. Supported values are: "
    )
    for supported in codec.CLIENT_EVENT_TYPES[Dialect.BETA]:
        assert f"'{supported}'" in result.error.message


def test_client_event_id_is_echoed_even_when_the_event_is_invalid() -> None:
    result = codec.decode_client_event(create({"type": "bogus"}, event_id="evt_7"))
    assert isinstance(result, DecodeFailure)
    assert result.client_event_id == "evt_7"


@pytest.mark.parametrize(
    ("previous", "placement"),
    [
        (None, core.Anchor.APPEND),
        ("", core.Anchor.APPEND),
        ("root", core.Anchor.ROOT),
        ("item_1", core.AfterItem("item_1")),
    ],
)
def test_previous_item_id_forms(previous: str | None, placement: core.Placement) -> None:
    frame = create(USER, previous_item_id=previous)
    event = codec.decode_client_event(frame)
    assert isinstance(event, ItemCreateRequest)
    assert event.command.placement == placement


def test_absent_previous_item_id_appends() -> None:
    event = codec.decode_client_event(create(USER))
    assert isinstance(event, ItemCreateRequest)
    assert event.command.placement == core.Anchor.APPEND


def test_every_field_of_the_spec_is_accepted() -> None:
    frame = create(
        {
            "id": "msg_001",
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Hello"},
                {"type": "input_audio", "audio": "AAAA", "transcript": "hi"},
            ],
        },
        event_id="event_345",
        previous_item_id=None,
    )
    event = codec.decode_client_event(frame)
    assert isinstance(event, ItemCreateRequest)
    assert event.event_id == "event_345"
    item = event.command.item
    wire = codec.item_to_wire(item)
    assert wire.content is not None
    assert [part.type for part in wire.content] == ["input_text", "input_audio"]
    assert wire.content[1].transcript == "hi"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(["type", "item", "event_id", "previous_item_id", "x"]), json_values
    )
)
def test_decode_never_raises(raw: dict[str, Any]) -> None:
    if "type" in raw and isinstance(raw["type"], str) and raw.get("x") is None:
        raw["type"] = "conversation.item.create"
    result = codec.decode_client_event(json.dumps(raw))
    assert isinstance(result, DecodeFailure | ItemCreateRequest)


def test_a_non_message_item_with_an_unknown_content_kind_is_refused_not_crashed() -> None:
    # Once an uncaught KeyError in the gateway: the conversion knows only the beta kinds.
    frame = json.dumps(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call", "content": [{"type": "colour"}]},
        }
    )
    result = codec.decode_client_event(frame)
    assert isinstance(result, DecodeFailure)
    assert (result.error.code, result.error.param) == ("invalid_value", "item.content[0].type")


@pytest.mark.parametrize("dialect", list(Dialect))
def test_a_rejected_event_leaves_no_reference_cycle(dialect: Dialect) -> None:
    # cattrs' error tree is a cycle through its frames while it has tracebacks; the server
    # freezes what survives a collection, so such a cycle could outlive its connection.
    frame = json.dumps(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": 5},
        }
    )
    gc.collect()
    gc.disable()
    try:
        result = codec.decode_client_event(frame, dialect)
        assert isinstance(result, DecodeFailure)
        del result
        assert gc.collect() == 0
    finally:
        gc.enable()
