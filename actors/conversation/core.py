"""Sans-IO conversation core: ``decide`` validates a command against the state, ``evolve`` applies.

No trio, no I/O, no clock, no randomness: generated ids come in as arguments. Events carry
resolved facts (the concrete predecessor of a new item), so replaying a log never re-decides.
"""

import base64
import binascii
from collections import Counter
from collections.abc import Iterator
from enum import Enum

import attrs

from actors.conversation.model import ContentKind, Item, ItemType, Role

# Assistant audio is 24 kHz mono PCM16: 48 bytes per millisecond.
AUDIO_BYTES_PER_MS = 48


class Anchor(Enum):
    """Where ``previous_item_id`` asks a new item to go, when it is not after a named item."""

    APPEND = "append"
    ROOT = "root"


@attrs.frozen
class AfterItem:
    item_id: str


Placement = Anchor | AfterItem


# -- commands (imperative) ------------------------------------------------------------------------


@attrs.frozen
class CreateItem:
    """Add ``item`` at ``placement``; an empty ``item.id`` leaves the id to the server."""

    item: Item
    placement: Placement = Anchor.APPEND


@attrs.frozen
class DeleteItem:
    item_id: str


@attrs.frozen
class TruncateItem:
    """Cut the audio of ``item_id``'s content part ``content_index`` at ``audio_end_ms``."""

    item_id: str
    content_index: int
    audio_end_ms: int


Command = CreateItem | DeleteItem | TruncateItem


# -- events (past tense, persisted) ---------------------------------------------------------------


@attrs.frozen
class ItemCreated:
    """``item`` now follows ``previous_item_id`` (None: it is first in the conversation)."""

    item: Item
    previous_item_id: str | None


@attrs.frozen
class ItemDeleted:
    item_id: str


@attrs.frozen
class ItemTruncated:
    """The audio of a content part now ends at ``audio_end_ms``; its transcript is gone."""

    item_id: str
    content_index: int
    audio_end_ms: int


Event = ItemCreated | ItemDeleted | ItemTruncated


@attrs.frozen
class Rejected:
    """A command the conversation refuses; ``code`` and ``param`` are the protocol's."""

    code: str
    message: str
    param: str | None


# -- state ----------------------------------------------------------------------------------------


@attrs.define
class ConversationState:
    """The ordered item list as a doubly linked list indexed by id: every insert is O(1).

    The links are dicts from id to id, not a node object per item: strings in a dict are
    nothing for the garbage collector to walk, while a node per item was one more object
    every young collection examined, for every item the server holds.
    ``version`` counts the events applied, which is the conversation's position in its log.
    """

    nodes: dict[str, Item] = attrs.field(factory=dict)
    prev: dict[str, str | None] = attrs.field(factory=dict)
    next: dict[str, str | None] = attrs.field(factory=dict)
    head: str | None = None
    tail: str | None = None
    version: int = 0
    function_call_ids: Counter[str] = attrs.field(factory=Counter)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.nodes

    def get(self, item_id: str) -> Item | None:
        return self.nodes.get(item_id)

    def items(self) -> Iterator[Item]:
        """The items in conversation order."""
        cursor = self.head
        while cursor is not None:
            yield self.nodes[cursor]
            cursor = self.next[cursor]

    def predecessor(self, item_id: str) -> str | None:
        return self.prev[item_id]


# -- decide ---------------------------------------------------------------------------------------


def decide(
    state: ConversationState,
    command: Command,
    *,
    generated_item_id: str,
    max_items: int | None = None,
) -> list[Event] | Rejected:
    """Return the events ``command`` causes, or why it is refused; ``state`` is not changed.

    ``generated_item_id`` is used when a created item has no client id; a create in a
    conversation that already holds ``max_items`` items is refused.
    """
    match command:
        case CreateItem() if max_items is not None and len(state) >= max_items:
            return Rejected(
                "conversation_item_limit_reached",
                f"Error adding item: the conversation already has the maximum of {max_items} "
                "items.",
                None,
            )
        case CreateItem():
            return _decide_create(state, command, generated_item_id)
        case DeleteItem(item_id=item_id):
            if item_id not in state:
                return Rejected(
                    "item_delete_invalid_item_id",
                    f"Error deleting item: the item with id '{item_id}' does not exist.",
                    "item_id",
                )
            return [ItemDeleted(item_id)]
        case TruncateItem():
            return _decide_truncate(state, command)


def _decide_create(
    state: ConversationState, command: CreateItem, generated_item_id: str
) -> list[Event] | Rejected:
    item = command.item if command.item.id else attrs.evolve(command.item, id=generated_item_id)
    if item.id in state:
        return Rejected(
            "item_create_duplicate_item_id",
            f"Error adding item: the item with id '{item.id}' already exists.",
            "item.id",
        )
    if item.type is ItemType.FUNCTION_CALL_OUTPUT and (
        item.call_id is None or state.function_call_ids[item.call_id] == 0
    ):
        return Rejected(
            "invalid_tool_call_id",
            f"Tool call ID '{item.call_id}' not found in conversation.",
            "item.call_id",
        )
    match command.placement:
        case Anchor.APPEND:
            previous = state.tail
        case Anchor.ROOT:
            previous = None
        case AfterItem(item_id=after):
            if after not in state:
                return Rejected(
                    "item_create_invalid_previous_item_id",
                    f"Error adding item: the previous item with id '{after}' does not exist.",
                    "previous_item_id",
                )
            previous = after
    return [ItemCreated(item, previous)]


def _decide_truncate(state: ConversationState, command: TruncateItem) -> list[Event] | Rejected:
    """Only assistant audio can be truncated, as in the real service.

    No client can create assistant audio (neither dialect accepts it), so in a conversation built
    by clients alone every valid item id ends in ``unsupported_content_type``; the rest of the
    checks keep the real service's order and wording for when such items exist.
    """
    item = state.get(command.item_id)
    if item is None:
        return Rejected(
            "item_truncate_invalid_item_id",
            f"Error truncating item: the item with id '{command.item_id}' does not exist.",
            "item_id",
        )
    only_audio = Rejected(
        "unsupported_content_type", "Only model output audio messages can be truncated", None
    )
    if item.type is not ItemType.MESSAGE or item.role is not Role.ASSISTANT:
        return only_audio
    if command.content_index >= len(item.content):
        return Rejected(
            "invalid_value",
            f"Invalid 'content_index': the item with id '{item.id}' has no content part at "
            f"index {command.content_index}.",
            "content_index",
        )
    part = item.content[command.content_index]
    if part.kind is not ContentKind.OUTPUT_AUDIO:
        return only_audio
    duration_ms = audio_duration_ms(part.audio)
    if command.audio_end_ms > duration_ms:
        return Rejected(
            "invalid_value",
            f"Audio content of {duration_ms}ms is already shorter than {command.audio_end_ms}ms",
            "audio_end_ms",
        )
    return [ItemTruncated(item.id, command.content_index, command.audio_end_ms)]


def audio_duration_ms(audio: str | None) -> int:
    """The length of base64 24 kHz mono PCM16 ``audio`` in whole milliseconds."""
    return len(_audio_bytes(audio)) // AUDIO_BYTES_PER_MS


def _audio_bytes(audio: str | None) -> bytes:
    if not audio:
        return b""
    try:
        return base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError):
        return b""


def retrieve(state: ConversationState, item_id: str) -> Item | Rejected:
    """Return the item with ``item_id``, or the protocol's refusal."""
    item = state.get(item_id)
    if item is None:
        return Rejected(
            "item_retrieve_invalid_item_id",
            f"Error retrieving item: the item with id '{item_id}' does not exist.",
            "item_id",
        )
    return item


# -- evolve ---------------------------------------------------------------------------------------


def evolve(state: ConversationState, event: Event) -> ConversationState:
    """Apply ``event`` to ``state`` in place and return it.

    In place on purpose: copying the list would make every create O(n). Callers that need the old
    state rebuild it from the log. Never fails on an event ``decide`` produced for this state.
    """
    match event:
        case ItemCreated(item=item, previous_item_id=previous):
            _link_after(state, item, previous)
            if item.type is ItemType.FUNCTION_CALL and item.call_id is not None:
                state.function_call_ids[item.call_id] += 1
        case ItemDeleted(item_id=item_id):
            deleted = _unlink(state, item_id)
            if deleted.type is ItemType.FUNCTION_CALL and deleted.call_id is not None:
                state.function_call_ids[deleted.call_id] -= 1
        case ItemTruncated(item_id=item_id, content_index=index, audio_end_ms=end_ms):
            item = state.nodes[item_id]
            part = item.content[index]
            kept = _audio_bytes(part.audio)[: end_ms * AUDIO_BYTES_PER_MS]
            truncated = attrs.evolve(
                part, audio=base64.b64encode(kept).decode("ascii"), transcript=None
            )
            content = (*item.content[:index], truncated, *item.content[index + 1 :])
            state.nodes[item_id] = attrs.evolve(item, content=content)
    state.version += 1
    return state


def _link_after(state: ConversationState, item: Item, previous: str | None) -> None:
    following = state.head if previous is None else state.next[previous]
    state.nodes[item.id] = item
    state.prev[item.id] = previous
    state.next[item.id] = following
    if previous is None:
        state.head = item.id
    else:
        state.next[previous] = item.id
    if following is None:
        state.tail = item.id
    else:
        state.prev[following] = item.id


def _unlink(state: ConversationState, item_id: str) -> Item:
    item = state.nodes.pop(item_id)
    previous, following = state.prev.pop(item_id), state.next.pop(item_id)
    if previous is None:
        state.head = following
    else:
        state.next[previous] = following
    if following is None:
        state.tail = previous
    else:
        state.prev[following] = previous
    return item


def replay(events: list[Event], state: ConversationState | None = None) -> ConversationState:
    """Fold ``events`` into ``state`` (a fresh one by default)."""
    state = state if state is not None else ConversationState()
    for event in events:
        evolve(state, event)
    return state
