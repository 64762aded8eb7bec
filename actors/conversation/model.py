"""Conversation items and their content parts: plain frozen values, independent of any dialect.

Content kinds are stored under one canonical name each (the GA names); each wire dialect maps its
own names onto these, so beta and GA connections can share one conversation.
"""

from enum import StrEnum

import attrs


class ItemType(StrEnum):
    MESSAGE = "message"
    FUNCTION_CALL = "function_call"
    FUNCTION_CALL_OUTPUT = "function_call_output"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class ItemStatus(StrEnum):
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    IN_PROGRESS = "in_progress"


class ContentKind(StrEnum):
    INPUT_TEXT = "input_text"
    INPUT_AUDIO = "input_audio"
    INPUT_IMAGE = "input_image"
    OUTPUT_TEXT = "output_text"
    OUTPUT_AUDIO = "output_audio"
    ITEM_REFERENCE = "item_reference"


@attrs.frozen
class ContentPart:
    kind: ContentKind
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    reference_id: str | None = None
    image_url: str | None = None
    detail: str | None = None


@attrs.frozen
class Item:
    id: str
    type: ItemType
    status: ItemStatus = ItemStatus.COMPLETED
    role: Role | None = None
    content: tuple[ContentPart, ...] = ()
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
