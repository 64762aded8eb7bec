"""Domain events to log records and back: the storage format, kept apart from the wire format.

The log stores resolved events (``ItemCreated`` with its concrete predecessor), one JSON object
each, so any later reader (another process, a replay tool, a SQL query) can read them.
"""

import cattrs
import orjson

from actors.conversation.core import Event, ItemCreated, ItemDeleted, ItemTruncated
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
    return NewEvent(KIND_BY_CLASS[type(event)], orjson.dumps(_converter.unstructure(event)))


def from_record(record: StoredEvent) -> Event:
    """Return the domain event stored in ``record``; raises CorruptRecord."""
    cls = CLASS_BY_KIND.get(record.kind)
    if cls is None:
        raise CorruptRecord(f"unknown event kind {record.kind!r} at version {record.version}")
    try:
        return _converter.structure(orjson.loads(record.data), cls)
    except (orjson.JSONDecodeError, cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise CorruptRecord(f"unreadable {record.kind} at version {record.version}") from exc
