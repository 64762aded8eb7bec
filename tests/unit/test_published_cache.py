"""A Published change is encoded once per dialect: every connection of a dialect sends the same
bytes and the same text, whatever order the dialects ask in."""

import json

import pytest

from actors.conversation import core
from actors.conversation.messages import Published
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from service import fastsend
from service.protocol import outbound
from service.protocol.dialects import Dialect


def created() -> Published:
    part = ContentPart(ContentKind.INPUT_TEXT, text="hello")
    item = Item("item_1", ItemType.MESSAGE, role=Role.USER, content=(part,))
    return Published(core.ItemCreated(item, None), 1)


def event_ids(texts: list[str]) -> list[str]:
    return [json.loads(text)["event_id"] for text in texts]


@pytest.mark.parametrize("first", [Dialect.BETA, Dialect.GA])
def test_each_dialect_is_encoded_once_and_reused(first: Dialect) -> None:
    published = created()
    second = Dialect.GA if first is Dialect.BETA else Dialect.BETA
    first_frames = outbound.wire_frames(published, first)
    first_texts = outbound.frames(published, first)
    second_texts = outbound.frames(published, second)
    second_frames = outbound.wire_frames(published, second)
    # Asked again, in the other order: the very same objects and ids.
    assert outbound.wire_frames(published, second) is second_frames
    assert outbound.wire_frames(published, first) is first_frames
    assert outbound.frames(published, first) == first_texts
    assert outbound.frames(published, second) == second_texts
    # The bytes are the text as WebSocket frames, one per event.
    assert first_frames == b"".join(fastsend.text_frame(text) for text in first_texts)
    assert second_frames == b"".join(fastsend.text_frame(text) for text in second_texts)
    types = {
        Dialect.BETA: ["conversation.item.created"],
        Dialect.GA: ["conversation.item.added", "conversation.item.done"],
    }
    assert [json.loads(t)["type"] for t in first_texts] == types[first]
    assert [json.loads(t)["type"] for t in second_texts] == types[second]
    # Each frame is its own server event.
    ids = event_ids(first_texts) + event_ids(second_texts)
    assert len(set(ids)) == len(ids) == 3


def test_the_cache_holds_one_flat_tuple_of_bytes_per_change() -> None:
    published = created()
    outbound.wire_frames(published, Dialect.BETA)
    assert published.encoded_for is Dialect.BETA
    assert published.other_encodings is None
    assert type(published.encoded) is tuple
    assert all(type(part) is bytes for part in published.encoded)
