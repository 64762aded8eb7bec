"""The codec's fast paths give exactly what its general (cattrs) paths give, for any input."""

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.conversation.model import Item
from service.protocol import codec
from service.protocol.codec import DecodeFailure, _converter
from service.protocol.dialects import Dialect
from service.protocol.events import (
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDone,
)
from tests.strategies import items


@given(items, st.sampled_from(Dialect))
def test_item_json_is_the_unstructured_wire_item(item: Item, dialect: Dialect) -> None:
    expected = _converter.unstructure(codec.item_to_wire(item, dialect))
    fast = codec.item_json(item, dialect)
    assert fast == expected
    assert orjson.dumps(fast) == orjson.dumps(expected)  # the same keys in the same order


@given(items, st.none() | st.text(max_size=8), st.integers(1, 2**40), st.sampled_from(Dialect))
def test_item_change_json_is_the_encoded_event(
    item: Item, previous: str | None, position: int, dialect: Dialect
) -> None:
    wire = codec.item_to_wire(item, dialect)
    for cls in (ConversationItemCreated, ConversationItemAdded, ConversationItemDone):
        event = cls("event_1", previous, wire, position)
        fast = codec.item_change_json(
            event.type, "event_1", previous, codec.item_json(item, dialect), position
        )
        assert fast == codec.encode_json(event)


# Near-valid creates: a valid-looking create, then a few fields set to any JSON type or value.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.lists(st.none(), max_size=1),
    st.dictionaries(st.text(max_size=2), st.none(), max_size=1),
)
short_text = st.text(max_size=6)
part_types = ["input_text", "input_audio", "text", "audio", "item_reference", "output_text", "x"]
raw_parts = st.fixed_dictionaries(
    {"type": st.sampled_from(part_types)},
    optional={
        "text": short_text,
        "audio": st.sampled_from(["AAAA", "not base64!", ""]),
        "transcript": short_text,
        "id": short_text,
    },
)
raw_items = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "function_call", "function_call_output"])},
    optional={
        "id": st.text(max_size=40),
        "object": st.just("realtime.item"),
        "status": st.sampled_from(["completed", "incomplete", "in_progress"]),
        "role": st.sampled_from(["user", "assistant", "system"]),
        "content": st.lists(raw_parts, max_size=3),
        "call_id": short_text,
        "name": short_text,
        "arguments": short_text,
        "output": short_text,
    },
)
valid_looking = st.fixed_dictionaries(
    {"type": st.just("conversation.item.create"), "item": raw_items},
    optional={
        "event_id": st.text(max_size=600),
        "previous_item_id": st.sampled_from(["", "root", "item_1"]),
    },
)
FIELDS = ["colour", "event_id", "previous_item_id", "item"]
ITEM_FIELDS = ["colour", "type", "id", "object", "status", "role", "content", "call_id", "name"]
PART_FIELDS = ["colour", "type", "text", "audio", "id"]


@st.composite
def raw_creates(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = draw(valid_looking)
    for _ in range(draw(st.integers(0, 2))):
        target, fields = raw, FIELDS
        if draw(st.booleans()) and isinstance(raw.get("item"), dict):
            target, fields = raw["item"], ITEM_FIELDS
            parts = target.get("content")
            if draw(st.booleans()) and isinstance(parts, list) and parts:
                target, fields = draw(st.sampled_from(parts)), PART_FIELDS
        if isinstance(target, dict):
            target[draw(st.sampled_from(fields))] = draw(junk)
    return raw


@given(raw_creates())
def test_a_create_taken_by_the_fast_path_is_what_the_general_path_decodes(
    raw: dict[str, Any],
) -> None:
    fast = codec._plain_create(raw)
    general = codec._structured(raw, ConversationItemCreate, Dialect.BETA, None)
    if fast is not None:
        assert fast == general
    else:  # whatever the fast path leaves, the general path refuses (or it should have taken it)
        assert isinstance(general, DecodeFailure)


@pytest.mark.parametrize(
    "item",
    [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {
            "id": "item_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AA=="}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "42"},
    ],
)
def test_usual_creates_take_the_fast_path(item: dict[str, Any]) -> None:
    raw = {"type": "conversation.item.create", "event_id": "e", "item": item}
    assert codec._plain_create(raw) is not None
