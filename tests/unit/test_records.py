"""Log records: the fast writer agrees with the converter, and every record reads back."""

import orjson
from hypothesis import given
from hypothesis import strategies as st

from actors.conversation.core import ItemCreated
from actors.conversation.model import Item
from actors.conversation.records import _converter, from_record, to_record
from actors.store.base import StoredEvent
from tests.strategies import items


@given(items, st.none() | st.text(max_size=8))
def test_a_created_record_is_what_the_converter_writes_and_reads_back(
    item: Item, previous: str | None
) -> None:
    event = ItemCreated(item, previous)
    record = to_record(event)
    assert record.kind == "item.created"
    assert record.data == orjson.dumps(_converter.unstructure(event))
    stored = StoredEvent("c", 1, 1, record.kind, record.data)
    assert from_record(stored) == event
