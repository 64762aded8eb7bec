"""The wire codec: JSON frames to validated client events, server events to JSON text.

The only module that touches JSON. It owns tag dispatch (``type`` to class), strict primitive
hooks (no ``1`` -> ``"1"`` coercion), and the translation of every cattrs/orjson failure into a
ProtocolError that names the offending field as the real service does (``item.content[0].type``).
No cattrs or orjson exception escapes it.
"""

import base64
import binascii
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs
import cattrs
import orjson
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from actors.conversation import core
from actors.conversation.model import ContentKind, ContentPart, Item, ItemStatus, ItemType, Role
from service.protocol import errors, ga, session
from service.protocol.dialects import Dialect
from service.protocol.errors import ProtocolError
from service.protocol.events import (
    MAX_CLIENT_EVENT_ID_LENGTH,
    MAX_ITEM_ID_LENGTH,
    ClientEventId,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ItemId,
    ItemTypeName,
    JsonObject,
    OutContent,
    OutItem,
    RoleName,
    ServerEvent,
    SessionUpdate,
    StatusName,
    Unsupported,
    WireContent,
    WireItem,
)


@attrs.frozen
class ItemCreateRequest:
    """A valid ``conversation.item.create`` (either dialect), decoded to the command it asks for."""

    command: core.CreateItem
    event_id: str | None


ClientEvent = (
    ItemCreateRequest
    | ConversationItemRetrieve
    | ConversationItemDelete
    | ConversationItemTruncate
    | SessionUpdate
    | Unsupported
)
# The wire classes client events are structured into (a create then becomes its request).
WireClientEvent = (
    ConversationItemCreate
    | ga.GaConversationItemCreate
    | ConversationItemRetrieve
    | ConversationItemDelete
    | ConversationItemTruncate
    | SessionUpdate
)
_SHARED_EVENT_TYPES: dict[str, type[WireClientEvent]] = {
    "conversation.item.retrieve": ConversationItemRetrieve,
    "conversation.item.delete": ConversationItemDelete,
    "conversation.item.truncate": ConversationItemTruncate,
    "session.update": SessionUpdate,
}
CLIENT_EVENT_TYPES: dict[Dialect, dict[str, type[WireClientEvent]]] = {
    Dialect.BETA: {"conversation.item.create": ConversationItemCreate, **_SHARED_EVENT_TYPES},
    Dialect.GA: {"conversation.item.create": ga.GaConversationItemCreate, **_SHARED_EVENT_TYPES},
}
# Client events of the protocol that need a model or an audio pipeline, which Chorus has not.
UNSUPPORTED_EVENT_TYPES = (
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "response.create",
    "response.cancel",
    "transcription_session.update",
)


@attrs.frozen
class DecodeFailure:
    """A frame Chorus cannot act on; ``client_event_id`` is echoed when it could be read."""

    error: ProtocolError
    client_event_id: str | None


# -- strict structuring hooks ----------------------------------------------------------------------


class _FieldError(Exception):
    """Raised by our hooks; turned into a ProtocolError once the field's path is known."""

    def __init__(self, make: Callable[[str], ProtocolError]) -> None:
        super().__init__()
        self.make = make


def _strict(expected_type: type, described: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int subclass in Python, but not in JSON.
        if type(value) is not expected_type:
            raise _FieldError(lambda path: errors.invalid_type(path, described, value))
        return value

    return structure


def _bounded_string(maximum: int) -> Callable[[Any, Any], str]:
    def structure(value: Any, _: Any) -> str:
        if type(value) is not str:
            raise _FieldError(lambda path: errors.invalid_type(path, "a string", value))
        if len(value) > maximum:
            raise _FieldError(lambda path: errors.string_too_long(path, maximum, len(value)))
        return value

    return structure


def _is_literal(cls: Any) -> bool:
    return typing.get_origin(cls) is Literal


def _literal_hook(cls: Any) -> Callable[[Any, Any], Any]:
    allowed: tuple[str, ...] = typing.get_args(cls)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not str:
            raise _FieldError(lambda path: errors.invalid_type(path, "a string", value))
        if value not in allowed:
            raise _FieldError(lambda path: errors.invalid_value(value, allowed, path))
        return value

    return structure


def _checked_list(structure_list: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, cls: Any) -> Any:
        # Without this check cattrs would iterate a string character by character.
        if type(value) is not list:
            raise _FieldError(lambda path: errors.invalid_type(path, "an array", value))
        return structure_list(value, cls)

    return structure


def _checked_object(structure_attrs: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, cls: Any) -> Any:
        if type(value) is not dict:
            raise _FieldError(lambda path: errors.invalid_type(path, "an object", value))
        return structure_attrs(value, cls)

    return structure


def _is_list(cls: Any) -> bool:
    return typing.get_origin(cls) is list


def _is_optional(cls: Any) -> bool:
    """``X | None`` (or ``Optional[X]``) for a single ``X``."""
    args = typing.get_args(cls)
    return (
        typing.get_origin(cls) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _optional_hook(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """``X | None`` as cattrs does it, but with ``X``'s hook looked up once, not per value.

    The per-value lookup (which hashes the type) was nearly half of decoding a create.
    """

    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        inner = next(arg for arg in typing.get_args(cls) if arg is not type(None))
        handler: Callable[[Any, Any], Any] | None = None

        def structure(value: Any, _: Any) -> Any:
            nonlocal handler
            if value is None:
                return None
            if handler is None:  # on first use: every hook is registered by then
                handler = converter.get_structure_hook(inner)
            return handler(value, inner)

        return structure

    return factory


def _ga_item_hook(converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Pick the GA item class by ``type`` (and ``role`` for messages), then structure it.

    cattrs' own union handling would turn a bad tag into a misleading error; this names it.
    """
    structure_fns: dict[type, Callable[[Any, Any], Any]] = {
        cls: make_dict_structure_fn(cls, converter) for cls in ga.ITEM_CLASSES
    }

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            raise _FieldError(lambda path: errors.invalid_type(path, "an object", value))
        cls = ga.ITEM_BY_TYPE.get(_tag(value, "type", list(ga.ITEM_BY_TYPE)))
        if cls is None:  # a message: the role decides
            cls = ga.MESSAGE_BY_ROLE[_tag(value, "role", list(ga.MESSAGE_BY_ROLE))]
        return structure_fns[cls](value, cls)

    return structure


def _tag(value: dict[str, Any], name: str, allowed: list[str]) -> str:
    if name not in value:
        raise _FieldError(lambda path: errors.missing_parameter(_join(path, name)))
    tag = value[name]
    if type(tag) is not str:
        raise _FieldError(lambda path: errors.invalid_type(_join(path, name), "a string", tag))
    if tag not in allowed:
        raise _FieldError(lambda path: errors.invalid_value(tag, allowed, _join(path, name)))
    return tag


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook_factory(_is_optional, _optional_hook(converter))
    converter.register_structure_hook(str, _strict(str, "a string"))
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(bool, _strict(bool, "a boolean"))
    converter.register_structure_hook(ItemId, _bounded_string(MAX_ITEM_ID_LENGTH))
    converter.register_structure_hook(ClientEventId, _bounded_string(MAX_CLIENT_EVENT_ID_LENGTH))
    converter.register_structure_hook(JsonObject, _strict(dict, "an object"))
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_func(lambda cls: cls == ga.GaItem, _ga_item_hook(converter))
    wire_classes: tuple[type, ...] = (WireItem, WireContent, *ga.CONTENT_CLASSES)
    for cls in wire_classes:
        converter.register_structure_hook(
            cls, _checked_object(make_dict_structure_fn(cls, converter))
        )
    converter.register_structure_hook_factory(
        _is_list,
        lambda cls: _checked_list(list_structure_factory(cls, converter)),
    )
    # Server items and content parts leave out the fields that do not apply to them (None), but
    # keep defaults such as ``object``. Content first: the item's function embeds its hook.
    out_classes: tuple[type, ...] = (OutContent, OutItem)
    for cls in out_classes:
        converter.register_unstructure_hook(
            cls, _without_none(make_dict_unstructure_fn(cls, converter))
        )
    return converter


def _without_none(unstructure: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    def without_none(value: Any) -> dict[str, Any]:
        return {key: field for key, field in unstructure(value).items() if field is not None}

    return without_none


_converter = _make_converter()


def _first_error(exc: BaseException, path: str) -> ProtocolError:
    """Walk a cattrs error tree depth-first and describe its first leaf at its JSON path."""
    match exc:
        case _FieldError(make=make):
            return make(path)
        case ForbiddenExtraKeysError(extra_fields=extra):
            return errors.unknown_parameter(_join(path, sorted(extra)[0]))
        case KeyError():
            # cattrs notes the missing attribute on the KeyError itself, so ``path`` names it.
            return errors.missing_parameter(path)
        case BaseExceptionGroup(exceptions=children):
            child = children[0]
            for note in getattr(child, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    return _first_error(child, _join(path, note.name))
                if isinstance(note, IterableValidationNote):
                    return _first_error(child, f"{path}[{note.index}]")
            return _first_error(child, path)
    return errors.invalid_value(None, (), path or "unknown")


def _forget_tracebacks(exc: BaseException) -> None:
    """Drop the tracebacks of an error tree, once it has been described.

    cattrs gathers each field's error in a list local to the frame that raises the group, and
    that frame is in the group's traceback: a reference cycle for every rejected event, which
    also holds whatever those frames reach (the connection, through the decoder's callers). A
    collection would free it, but the server freezes what survives a collection
    (``service/gctune.py``), and a cycle frozen that way would never be freed.
    """
    pending, seen = [exc], set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        error.__traceback__ = None
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        pending.extend(linked for linked in (error.__context__, error.__cause__) if linked)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- dialect rules ---------------------------------------------------------------------------------

# Beta content names; the canonical kinds follow the GA names.
BETA_CONTENT_KINDS: dict[str, ContentKind] = {
    "input_text": ContentKind.INPUT_TEXT,
    "input_audio": ContentKind.INPUT_AUDIO,
    "text": ContentKind.OUTPUT_TEXT,
    "audio": ContentKind.OUTPUT_AUDIO,
    "item_reference": ContentKind.ITEM_REFERENCE,
}
BETA_CONTENT_NAMES: dict[ContentKind, str] = {
    kind: name for name, kind in BETA_CONTENT_KINDS.items()
}
BETA_ALLOWED_CONTENT: dict[str, tuple[str, ...]] = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio"),
    "assistant": ("text",),
}
# The field each content kind cannot do without.
REQUIRED_CONTENT_FIELD: dict[str, str] = {
    "input_text": "text",
    "text": "text",
    "input_audio": "audio",
}


def _check_item(item: WireItem) -> ProtocolError | None:
    """Rules cattrs cannot express: which content each role takes, and what each part needs."""
    if item.type != "message":
        for index, part in enumerate(item.content or ()):
            if part.type not in BETA_CONTENT_KINDS:
                allowed = tuple(BETA_CONTENT_KINDS)
                return errors.invalid_value(part.type, allowed, f"item.content[{index}].type")
        return None
    if item.role is None:
        return errors.missing_parameter("item.role")
    allowed = BETA_ALLOWED_CONTENT[item.role]
    for index, part in enumerate(item.content or ()):
        if part.type not in allowed:
            return errors.invalid_value(part.type, allowed, f"item.content[{index}].type")
    return _check_parts(item.content or (), REQUIRED_CONTENT_FIELD)


def _check_ga_item(item: ga.GaItem) -> ProtocolError | None:
    """What each GA content part needs (the classes already fixed which kinds each role takes)."""
    match item:
        case ga.UserMessage() | ga.AssistantMessage() | ga.SystemMessage():
            return _check_parts(item.content, ga.REQUIRED_CONTENT_FIELD)
    return None


def _check_parts(
    parts: Sequence[WireContent | ga.AnyContent], required_fields: dict[str, str]
) -> ProtocolError | None:
    for index, part in enumerate(parts):
        path = f"item.content[{index}]"
        required = required_fields[part.type]
        if getattr(part, required) is None:
            return errors.missing_parameter(f"{path}.{required}")
        audio = getattr(part, "audio", None)
        if audio is not None and not _is_base64(audio):
            return ProtocolError(
                "invalid_value",
                f"Invalid '{path}.audio': expected base64-encoded audio bytes.",
                f"{path}.audio",
            )
    return None


def _check_event(event: WireClientEvent, dialect: Dialect) -> ProtocolError | None:
    """Rules of a structured event that its classes cannot express."""
    match event:
        case ConversationItemCreate(item=item):
            return _check_item(item)
        case ga.GaConversationItemCreate(item=item):
            return _check_ga_item(item)
        case ConversationItemTruncate(content_index=index, audio_end_ms=end_ms):
            if index < 0:
                return errors.below_minimum("content_index", 0, index)
            if end_ms < 0:
                return errors.below_minimum("audio_end_ms", 0, end_ms)
        case SessionUpdate(session=update):
            return session.check_update(dialect, update)
    return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# -- decoding --------------------------------------------------------------------------------------


def decode_client_event(
    frame: str | bytes, dialect: Dialect = Dialect.BETA
) -> ClientEvent | DecodeFailure:
    """Parse and validate one frame from a client of ``dialect``; never raises.

    An event of the protocol that Chorus does not perform decodes to ``Unsupported``.
    """
    if isinstance(frame, bytes):
        return DecodeFailure(
            errors.invalid_event("Binary frames are not supported; send JSON events as text."),
            None,
        )
    try:
        raw = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        return DecodeFailure(errors.invalid_json(str(exc)), None)
    if not isinstance(raw, dict):
        return DecodeFailure(
            errors.invalid_event(
                f"Expected an event object, but got {errors.describe_json_type(raw)}."
            ),
            None,
        )
    event_id = raw.get("event_id")
    echo = event_id if isinstance(event_id, str) else None
    if "type" not in raw:
        return DecodeFailure(errors.invalid_event("The 'type' field is missing."), echo)
    type_name = raw["type"]
    if not isinstance(type_name, str):
        return DecodeFailure(errors.invalid_type("type", "a string", type_name), echo)
    if type_name in UNSUPPORTED_EVENT_TYPES:
        return Unsupported(type_name, echo)
    if dialect is Dialect.BETA and type_name == "conversation.item.create":
        plain = _plain_create(raw)
        if plain is not None:
            return plain
    types = CLIENT_EVENT_TYPES[dialect]
    cls = types.get(type_name)
    if cls is None:
        return DecodeFailure(errors.invalid_value(type_name, list(types), "type"), echo)
    return _structured(raw, cls, dialect, echo)


def _structured(
    raw: dict[str, Any], cls: type[WireClientEvent], dialect: Dialect, echo: str | None
) -> ClientEvent | DecodeFailure:
    """The general way: cattrs with strict hooks, then the rules the classes cannot express."""
    try:
        event = _converter.structure(raw, cls)
    except Exception as exc:  # cattrs' error tree, whatever its shape: never let it escape
        failure = DecodeFailure(_first_error(exc, ""), echo)
        _forget_tracebacks(exc)
        return failure
    if problem := _check_event(event, dialect):
        return DecodeFailure(problem, echo)
    if isinstance(event, ConversationItemCreate | ga.GaConversationItemCreate):
        return ItemCreateRequest(create_command(event), event.event_id)
    return event


# The decoding hot path: a beta create that is plainly valid (every field of the right type, and
# the content rules met) is built straight into its command. Through cattrs (detailed
# validation, a strict hook per field) and the frozen wire objects it cost ~7 us of ~8.
# Anything unusual returns None and takes the general way, which also names what is wrong.
# tests/unit/test_codec_fast.py checks that both give the same request for any input.
_CREATE_FIELDS = frozenset(field.name for field in attrs.fields(ConversationItemCreate))
_ITEM_FIELDS = frozenset(field.name for field in attrs.fields(WireItem))
_CONTENT_FIELDS = frozenset(field.name for field in attrs.fields(WireContent))
_ITEM_TYPES = {name: ItemType(name) for name in typing.get_args(ItemTypeName)}
_ROLES = {name: Role(name) for name in typing.get_args(RoleName)}
_STATUSES = frozenset(typing.get_args(StatusName))
_ALL_BETA_CONTENT = tuple(BETA_CONTENT_KINDS)


def _plain_create(raw: dict[str, Any]) -> ItemCreateRequest | None:
    """The request ``raw`` makes, if it is plainly valid; None for the general way.

    Written for the interpreter: each field is fetched once, tests are inline, objects are
    built positionally (a call less, or a keyword less, is measurable here).
    """
    if not raw.keys() <= _CREATE_FIELDS:
        return None
    item = raw.get("item")
    if type(item) is not dict or not item.keys() <= _ITEM_FIELDS:
        return None
    event_id = raw.get("event_id")
    if event_id is not None and (
        type(event_id) is not str or len(event_id) > MAX_CLIENT_EVENT_ID_LENGTH
    ):
        return None
    previous = raw.get("previous_item_id")
    if previous is not None and type(previous) is not str:
        return None
    get = item.get
    type_name = get("type")
    item_type = _ITEM_TYPES.get(type_name) if type(type_name) is str else None
    if item_type is None:
        return None
    item_id = get("id")
    if item_id is not None and (type(item_id) is not str or len(item_id) > MAX_ITEM_ID_LENGTH):
        return None
    wire_object = get("object")
    if wire_object is not None and wire_object != "realtime.item":
        return None
    status = get("status")
    if status is not None and (type(status) is not str or status not in _STATUSES):
        return None
    role_name = get("role")
    role = _ROLES.get(role_name) if type(role_name) is str else None
    if role_name is not None and role is None:
        return None
    call_id, name, arguments, output = get("call_id"), get("name"), get("arguments"), get("output")
    if (
        (call_id is not None and type(call_id) is not str)
        or (name is not None and type(name) is not str)
        or (arguments is not None and type(arguments) is not str)
        or (output is not None and type(output) is not str)
    ):
        return None
    content = get("content")
    message = item_type is ItemType.MESSAGE
    parts: tuple[ContentPart, ...] = ()
    if content is not None:
        if type(content) is not list:
            return None
        if message:
            if role is None:
                return None
            allowed = BETA_ALLOWED_CONTENT[role.value]
        else:
            allowed = _ALL_BETA_CONTENT
        checked = []
        for part in content:
            plain = _plain_part(part, allowed, message)
            if plain is None:
                return None
            checked.append(plain)
        parts = tuple(checked)
    elif message and role is None:
        return None
    domain_item = Item(
        item_id or "",
        item_type,
        ItemStatus.COMPLETED,
        role,
        parts,
        call_id,
        name,
        arguments,
        output,
    )
    return ItemCreateRequest(core.CreateItem(domain_item, _placement(previous)), event_id)


def _plain_part(part: object, allowed: tuple[str, ...], message: bool) -> ContentPart | None:
    """The part, if plainly valid; a message's parts must also have what their kind needs."""
    if type(part) is not dict or not part.keys() <= _CONTENT_FIELDS:
        return None
    for value in part.values():
        if value is not None and type(value) is not str:
            return None
    get = part.get
    kind = get("type")
    if kind not in allowed:
        return None
    audio = get("audio")
    if message:
        required = REQUIRED_CONTENT_FIELD.get(kind)
        if (required is not None and get(required) is None) or (
            audio is not None and not _is_base64(audio)
        ):
            return None
    return ContentPart(BETA_CONTENT_KINDS[kind], get("text"), audio, get("transcript"), get("id"))


def _placement(previous_item_id: str | None) -> core.Placement:
    if not previous_item_id:
        return core.Anchor.APPEND
    if previous_item_id == "root":
        return core.Anchor.ROOT
    return core.AfterItem(previous_item_id)


def item_from_wire(item: WireItem) -> Item:
    """The domain item a validated wire item describes (empty id: the server picks one)."""
    return Item(
        id=item.id or "",
        type=ItemType(item.type),
        role=Role(item.role) if item.role else None,
        content=tuple(
            ContentPart(
                kind=BETA_CONTENT_KINDS[part.type],
                text=part.text,
                audio=part.audio,
                transcript=part.transcript,
                reference_id=part.id,
            )
            for part in item.content or ()
        ),
        call_id=item.call_id,
        name=item.name,
        arguments=item.arguments,
        output=item.output,
    )


def create_command(event: ConversationItemCreate | ga.GaConversationItemCreate) -> core.CreateItem:
    """The core command a validated create event of either dialect asks for."""
    match event:
        case ConversationItemCreate(item=item):
            domain_item = item_from_wire(item)
        case ga.GaConversationItemCreate(item=ga_item):
            domain_item = ga.item_from_wire(ga_item)
    return core.CreateItem(domain_item, _placement(event.previous_item_id))


# -- encoding --------------------------------------------------------------------------------------


def item_to_wire(item: Item, dialect: Dialect = Dialect.BETA) -> OutItem:
    """A stored item in the shape of ``dialect``."""
    if dialect is Dialect.GA:
        return ga.item_to_wire(item)
    content = None
    if item.type is ItemType.MESSAGE:
        # GA-only kinds (input_image) keep their GA name and fields: nothing is dropped.
        content = [
            OutContent(
                type=BETA_CONTENT_NAMES.get(part.kind, part.kind.value),
                text=part.text,
                id=part.reference_id,
                audio=part.audio,
                transcript=part.transcript,
                image_url=part.image_url,
                detail=part.detail,
            )
            for part in item.content
        ]
    return OutItem(
        id=item.id,
        type=item.type.value,
        object="realtime.item",
        status=None if item.type is ItemType.FUNCTION_CALL_OUTPUT else item.status.value,
        role=item.role.value if item.role else None,
        content=content,
        call_id=item.call_id,
        name=item.name,
        arguments=item.arguments,
        output=item.output,
    )


# The broadcast hot path: ``item_to_wire`` then ``unstructure``, fused. Building the wire objects
# and unstructuring them through cattrs cost ~5 us per change and dialect, most of encoding a
# broadcast; these build the same dicts directly (~1 us). tests/unit/test_codec_fast.py checks
# that both give the same JSON for any item.


def item_json(item: Item, dialect: Dialect = Dialect.BETA) -> dict[str, Any]:
    """``unstructure(item_to_wire(item, dialect))``, without the intermediate objects.

    Enum members go in as they are: they are strings, and orjson writes their values.
    """
    kind = item.type
    wire: dict[str, Any] = {"id": item.id, "type": kind, "object": "realtime.item"}
    if dialect is Dialect.GA:
        wire["status"] = item.status
        if kind is ItemType.MESSAGE:
            if item.role is not None:
                wire["role"] = item.role
            wire["content"] = [_ga_part_json(part) for part in item.content]
        elif kind is ItemType.FUNCTION_CALL:
            if item.call_id is not None:
                wire["call_id"] = item.call_id
            wire["name"] = item.name or ""
            wire["arguments"] = item.arguments or ""
        else:
            wire["call_id"] = item.call_id or ""
            wire["output"] = item.output or ""
        return wire
    if kind is not ItemType.FUNCTION_CALL_OUTPUT:
        wire["status"] = item.status
    if item.role is not None:
        wire["role"] = item.role
    if kind is ItemType.MESSAGE:
        wire["content"] = [_beta_part_json(part) for part in item.content]
    # Each optional field tested inline: no tuple of pairs and no call per broadcast.
    if item.call_id is not None:
        wire["call_id"] = item.call_id
    if item.name is not None:
        wire["name"] = item.name
    if item.arguments is not None:
        wire["arguments"] = item.arguments
    if item.output is not None:
        wire["output"] = item.output
    return wire


def _beta_part_json(part: ContentPart) -> dict[str, Any]:
    wire: dict[str, Any] = {"type": BETA_CONTENT_NAMES.get(part.kind, part.kind)}
    if part.text is not None:
        wire["text"] = part.text
    if part.reference_id is not None:
        wire["id"] = part.reference_id
    return _media_fields(part, wire)


def _ga_part_json(part: ContentPart) -> dict[str, Any]:
    wire: dict[str, Any] = {"type": part.kind}
    if part.text is not None:
        wire["text"] = part.text
    return _media_fields(part, wire)


def _media_fields(part: ContentPart, wire: dict[str, Any]) -> dict[str, Any]:
    """The part's fields after its text (and id), in the wire classes' order, when present."""
    if part.audio is not None:
        wire["audio"] = part.audio
    if part.transcript is not None:
        wire["transcript"] = part.transcript
    if part.image_url is not None:
        wire["image_url"] = part.image_url
    if part.detail is not None:
        wire["detail"] = part.detail
    return wire


def item_change_json(
    type_name: str, event_id: str, previous_item_id: str | None, item: dict[str, Any], position: int
) -> bytes:
    """A ``conversation.item.created``/``added``/``done`` event as JSON bytes.

    The same JSON as ``encode`` of the event class, fields in the same order.
    """
    return orjson.dumps(
        {
            "event_id": event_id,
            "previous_item_id": previous_item_id,
            "item": item,
            "position": position,
            "type": type_name,
        }
    )


def encode(event: ServerEvent) -> str:
    """One server event as the text of a WebSocket frame."""
    return encode_json(event).decode()


def encode_json(event: ServerEvent) -> bytes:
    """One server event as JSON (UTF-8 bytes)."""
    return orjson.dumps(_converter.unstructure(event))


def encode_many(events: Sequence[ServerEvent]) -> list[str]:
    return [encode(event) for event in events]
