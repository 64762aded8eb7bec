"""The GA dialect's items: one wire class per item type and message role, and their mapping.

GA items are a union keyed by ``type`` and, for messages, by ``role``; each variant takes only its
own fields, so a stray field is ``unknown_parameter`` and a missing one is
``missing_required_parameter``, as in the real service. Content kinds carry their GA names, which
are the canonical names of the model.
"""

from typing import Literal

import attrs

from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from service.protocol.events import ClientEventId, ItemId, OutContent, OutItem

GaStatus = Literal["completed", "incomplete", "in_progress"]


# -- content parts, per role ----------------------------------------------------------------------


@attrs.frozen
class UserContent:
    type: Literal["input_text", "input_audio", "input_image"]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


@attrs.frozen
class AssistantContent:
    # The real service also knows "output_audio", but only the model can produce it.
    type: Literal["output_text"]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None


@attrs.frozen
class SystemContent:
    type: Literal["input_text"]
    text: str | None = None


# -- items ----------------------------------------------------------------------------------------


@attrs.frozen
class UserMessage:
    type: Literal["message"]
    role: Literal["user"]
    content: list[UserContent]
    id: ItemId | None = None
    object: Literal["realtime.item"] | None = None
    status: GaStatus | None = None


@attrs.frozen
class AssistantMessage:
    type: Literal["message"]
    role: Literal["assistant"]
    content: list[AssistantContent]
    id: ItemId | None = None
    object: Literal["realtime.item"] | None = None
    status: GaStatus | None = None


@attrs.frozen
class SystemMessage:
    type: Literal["message"]
    role: Literal["system"]
    content: list[SystemContent]
    id: ItemId | None = None
    object: Literal["realtime.item"] | None = None
    status: GaStatus | None = None


@attrs.frozen
class FunctionCall:
    type: Literal["function_call"]
    name: str
    arguments: str
    id: ItemId | None = None
    call_id: str | None = None
    object: Literal["realtime.item"] | None = None
    status: GaStatus | None = None


@attrs.frozen
class FunctionCallOutput:
    type: Literal["function_call_output"]
    call_id: str
    output: str
    id: ItemId | None = None
    object: Literal["realtime.item"] | None = None
    status: GaStatus | None = None


GaItem = UserMessage | AssistantMessage | SystemMessage | FunctionCall | FunctionCallOutput
Message = UserMessage | AssistantMessage | SystemMessage
AnyContent = UserContent | AssistantContent | SystemContent

MESSAGE_BY_ROLE: dict[str, type[Message]] = {
    "user": UserMessage,
    "assistant": AssistantMessage,
    "system": SystemMessage,
}
ITEM_BY_TYPE: dict[str, type[GaItem] | None] = {
    "message": None,  # chosen by role
    "function_call": FunctionCall,
    "function_call_output": FunctionCallOutput,
}
ITEM_CLASSES: tuple[type, ...] = (*MESSAGE_BY_ROLE.values(), FunctionCall, FunctionCallOutput)
CONTENT_CLASSES: tuple[type, ...] = (UserContent, AssistantContent, SystemContent)

# The field each content kind cannot do without.
REQUIRED_CONTENT_FIELD: dict[str, str] = {
    "input_text": "text",
    "output_text": "text",
    "input_audio": "audio",
    "input_image": "image_url",
}


@attrs.frozen
class GaConversationItemCreate:
    type: Literal["conversation.item.create"]
    item: GaItem
    event_id: ClientEventId | None = None
    previous_item_id: str | None = None


# -- mapping --------------------------------------------------------------------------------------


def item_from_wire(item: GaItem) -> Item:
    """The domain item a validated GA item describes (empty id: the server picks one)."""
    match item:
        case UserMessage() | AssistantMessage() | SystemMessage():
            return Item(
                id=item.id or "",
                type=ItemType.MESSAGE,
                role=Role(item.role),
                content=tuple(_part_from_wire(part) for part in item.content),
            )
        case FunctionCall():
            return Item(
                id=item.id or "",
                type=ItemType.FUNCTION_CALL,
                call_id=item.call_id,
                name=item.name,
                arguments=item.arguments,
            )
        case FunctionCallOutput():
            return Item(
                id=item.id or "",
                type=ItemType.FUNCTION_CALL_OUTPUT,
                call_id=item.call_id,
                output=item.output,
            )


def _part_from_wire(part: AnyContent) -> ContentPart:
    return ContentPart(
        kind=ContentKind(part.type),
        text=part.text,
        audio=getattr(part, "audio", None),
        transcript=getattr(part, "transcript", None),
        image_url=getattr(part, "image_url", None),
        detail=getattr(part, "detail", None),
    )


def item_to_wire(item: Item) -> OutItem:
    """A stored item in GA shape.

    Items created by beta clients may lack fields GA requires (a beta ``function_call`` without
    ``name``); they are sent as empty strings so that GA clients always get a complete item.
    """
    match item.type:
        case ItemType.MESSAGE:
            return OutItem(
                id=item.id,
                type=item.type.value,
                status=item.status.value,
                role=item.role.value if item.role else None,
                content=[_part_to_wire(part) for part in item.content],
            )
        case ItemType.FUNCTION_CALL:
            return OutItem(
                id=item.id,
                type=item.type.value,
                status=item.status.value,
                call_id=item.call_id,
                name=item.name or "",
                arguments=item.arguments or "",
            )
        case ItemType.FUNCTION_CALL_OUTPUT:
            return OutItem(
                id=item.id,
                type=item.type.value,
                status=item.status.value,
                call_id=item.call_id or "",
                output=item.output or "",
            )


def _part_to_wire(part: ContentPart) -> OutContent:
    return OutContent(
        type=part.kind.value,
        text=part.text,
        audio=part.audio,
        transcript=part.transcript,
        image_url=part.image_url,
        detail=part.detail,
    )
