"""Wire events: one frozen attrs class per ``type`` Chorus reads or writes.

Client events are structured from JSON by the codec; server events are unstructured to JSON by it.
Nothing here knows JSON itself.
"""

from typing import Literal, NewType

import attrs

# Client item ids are bounded by the protocol; the codec's hook enforces the bound.
ItemId = NewType("ItemId", str)
MAX_ITEM_ID_LENGTH = 32
ClientEventId = NewType("ClientEventId", str)
MAX_CLIENT_EVENT_ID_LENGTH = 512

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
class OutItem:
    """An item as Chorus sends it: ``object`` and ``status`` always present."""

    id: str
    type: str
    object: str = "realtime.item"
    status: str | None = "completed"
    role: str | None = None
    content: list[WireContent] | None = None
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


ClientEvent = ConversationItemCreate | ConversationItemRetrieve | ConversationItemDelete


# -- server events ---------------------------------------------------------------------------------


@attrs.frozen
class Session:
    id: str
    model: str
    object: str = "realtime.session"
    modalities: list[str] = attrs.field(factory=lambda: ["text"])


@attrs.frozen
class SessionCreated:
    event_id: str
    session: Session
    type: Literal["session.created"] = "session.created"


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
    | ConversationCreated
    | ConversationItemCreated
    | ConversationItemRetrieved
    | ConversationItemDeleted
    | ErrorEvent
)
