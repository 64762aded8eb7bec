"""Domain events to log records and back: the storage format, kept apart from the wire format.

The log stores resolved events (``ItemCreated`` with its concrete predecessor), one JSON object
each, so any later reader (another process, a replay tool, a SQL query) can read them.
"""

from typing import Any

import cattrs
import orjson

from actors.conversation.core import Event, ItemCreated, ItemDeleted, ItemTruncated
from actors.conversation.model import ContentPart, Item, ItemStatus
from actors.store.base import NewEvent, StoredEvent

KIND_BY_CLASS: dict[type[Event], str] = {
    ItemCreated: "item.created",
    ItemDeleted: "item.deleted",
    ItemTruncated: "item.truncated",
}
CLASS_BY_KIND: dict[str, type[Event]] = {kind: cls for cls, kind in KIND_BY_CLASS.items()}

_converter = cattrs.Converter(omit_if_default=True)


class CorruptRecord(Exception):
    """A log record that is not an event this version of Chorus can read."""


def to_record(event: Event) -> NewEvent:
    if type(event) is ItemCreated:
        # The hot path (every create): the same JSON as the converter's, built directly (~4x
        # faster); tests/unit/test_records.py checks that both agree for any item.
        record = {"item": _item_record(event.item), "previous_item_id": event.previous_item_id}
        return NewEvent("item.created", orjson.dumps(record))
    return NewEvent(KIND_BY_CLASS[type(event)], orjson.dumps(_converter.unstructure(event)))


def _item_record(item: Item) -> dict[str, Any]:
    """``_converter.unstructure(item)``: fields equal to their defaults are left out.

    Enum members go in as they are: they are strings, and orjson writes their values. Each
    optional field is tested inline: this runs for every create.
    """
    record: dict[str, Any] = {"id": item.id, "type": item.type}
    if item.status is not ItemStatus.COMPLETED:
        record["status"] = item.status
    if item.role is not None:
        record["role"] = item.role
    if item.content:
        record["content"] = [_part_record(part) for part in item.content]
    if item.call_id is not None:
        record["call_id"] = item.call_id
    if item.name is not None:
        record["name"] = item.name
    if item.arguments is not None:
        record["arguments"] = item.arguments
    if item.output is not None:
        record["output"] = item.output
    return record


def _part_record(part: ContentPart) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": part.kind}
    if part.text is not None:
        record["text"] = part.text
    if part.audio is not None:
        record["audio"] = part.audio
    if part.transcript is not None:
        record["transcript"] = part.transcript
    if part.reference_id is not None:
        record["reference_id"] = part.reference_id
    if part.image_url is not None:
        record["image_url"] = part.image_url
    if part.detail is not None:
        record["detail"] = part.detail
    return record


def from_record(record: StoredEvent) -> Event:
    """Return the domain event stored in ``record``; raises CorruptRecord."""
    cls = CLASS_BY_KIND.get(record.kind)
    if cls is None:
        raise CorruptRecord(f"unknown event kind {record.kind!r} at version {record.version}")
    try:
        return _converter.structure(orjson.loads(record.data), cls)
    except (orjson.JSONDecodeError, cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise CorruptRecord(f"unreadable {record.kind} at version {record.version}") from exc
