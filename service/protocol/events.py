"""Wire events: one frozen attrs class per ``type`` Chorus reads or writes.

Client events are structured from JSON by the codec; server events are unstructured to JSON by it.
Nothing here knows JSON itself.
"""

from typing import Any, Literal, NewType

import attrs

# Client item ids are bounded by the protocol; the codec's hook enforces the bound.
ItemId = NewType("ItemId", str)
MAX_ITEM_ID_LENGTH = 32
ClientEventId = NewType("ClientEventId", str)
MAX_CLIENT_EVENT_ID_LENGTH = 512
# A JSON object kept as it came (session settings Chorus stores and echoes but does not act on).
JsonObject = NewType("JsonObject", dict[str, Any])

ItemTypeName = Literal["message", "function_call", "function_call_output"]
RoleName = Literal["user", "assistant", "system"]
StatusName = Literal["completed", "incomplete"]


# -- items -----------------------------------------------------------------------------------------


@attrs.frozen
class WireContent:
    """A content part as a client sends it and as Chorus echoes it."""

    type: str
    text: str | None = None
    id: str | None = None
    audio: str | None = None
    transcript: str | None = None


@attrs.frozen
class WireItem:
    """An item as a client sends it in ``conversation.item.create``."""

    type: ItemTypeName
    id: ItemId | None = None
    object: Literal["realtime.item"] | None = None
    status: StatusName | None = None
    role: RoleName | None = None
    content: list[WireContent] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


@attrs.frozen
class OutContent:
    """A content part as Chorus sends it in either dialect; fields that do not apply are omitted."""

    type: str
    text: str | None = None
    id: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_url: str | None = None
    detail: str | None = None


@attrs.frozen
class OutItem:
    """An item as Chorus sends it: ``object`` and ``status`` always present."""

    id: str
    type: str
    object: str = "realtime.item"
    status: str | None = "completed"
    role: str | None = None
    content: list[OutContent] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


# -- client events ---------------------------------------------------------------------------------


@attrs.frozen
class ConversationItemCreate:
    type: Literal["conversation.item.create"]
    item: WireItem
    event_id: ClientEventId | None = None
    previous_item_id: str | None = None


@attrs.frozen
class ConversationItemRetrieve:
    type: Literal["conversation.item.retrieve"]
    item_id: str
    event_id: ClientEventId | None = None


@attrs.frozen
class ConversationItemDelete:
    type: Literal["conversation.item.delete"]
    item_id: str
    event_id: ClientEventId | None = None


@attrs.frozen
class ConversationItemTruncate:
    type: Literal["conversation.item.truncate"]
    item_id: str
    content_index: int
    audio_end_ms: int
    event_id: ClientEventId | None = None


@attrs.frozen
class SessionUpdate:
    type: Literal["session.update"]
    session: JsonObject
    event_id: ClientEventId | None = None


@attrs.frozen
class Unsupported:
    """A client event of the protocol that Chorus does not perform (it generates nothing)."""

    type: str
    event_id: str | None = None


# -- server events ---------------------------------------------------------------------------------


@attrs.frozen
class SessionCreated:
    event_id: str
    session: JsonObject
    type: Literal["session.created"] = "session.created"


@attrs.frozen
class SessionUpdated:
    event_id: str
    session: JsonObject
    type: Literal["session.updated"] = "session.updated"


@attrs.frozen
class Conversation:
    id: str
    object: str = "realtime.conversation"


@attrs.frozen
class ConversationCreated:
    """``log_id`` (a Chorus extension) names the log that positions refer to."""

    event_id: str
    conversation: Conversation
    log_id: str
    type: Literal["conversation.created"] = "conversation.created"


@attrs.frozen
class ConversationItemCreated:
    """``position`` (a Chorus extension) is the change's place in the conversation's log."""

    event_id: str
    previous_item_id: str | None
    item: OutItem
    position: int
    type: Literal["conversation.item.created"] = "conversation.item.created"


@attrs.frozen
class ConversationItemAdded:
    """GA: the item is in the conversation (sent first); ``position`` as in ``created``."""

    event_id: str
    previous_item_id: str | None
    item: OutItem
    position: int
    type: Literal["conversation.item.added"] = "conversation.item.added"


@attrs.frozen
class ConversationItemDone:
    """GA: the item is complete (for a client's create, right after ``added``)."""

    event_id: str
    previous_item_id: str | None
    item: OutItem
    position: int
    type: Literal["conversation.item.done"] = "conversation.item.done"


@attrs.frozen
class ConversationItemTruncated:
    event_id: str
    item_id: str
    content_index: int
    audio_end_ms: int
    position: int
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"


@attrs.frozen
class ConversationItemRetrieved:
    event_id: str
    item: OutItem
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"


@attrs.frozen
class ConversationItemDeleted:
    event_id: str
    item_id: str
    position: int
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"


@attrs.frozen
class ErrorDetail:
    type: str
    code: str
    message: str
    param: str | None
    event_id: str | None


@attrs.frozen
class ErrorEvent:
    event_id: str
    error: ErrorDetail
    type: Literal["error"] = "error"


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | ConversationCreated
    | ConversationItemCreated
    | ConversationItemAdded
    | ConversationItemDone
    | ConversationItemRetrieved
    | ConversationItemDeleted
    | ConversationItemTruncated
    | ErrorEvent
)
