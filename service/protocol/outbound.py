"""Actor output (domain values) to wire frames, once per dialect for a shared broadcast."""

from collections.abc import Sequence

from actors.conversation import core
from actors.conversation.messages import (
    Outbound,
    Published,
    Refused,
    Relayed,
    ResumeUnavailable,
    Retrieved,
)
from actors.ids import random_id
from service import fastsend
from service.protocol import codec, errors
from service.protocol.dialects import Dialect
from service.protocol.errors import ProtocolError
from service.protocol.events import (
    ConversationItemDeleted,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ErrorDetail,
    ErrorEvent,
    JsonObject,
    SessionUpdated,
)

BETA_CREATED = ("conversation.item.created",)
GA_CREATED = ("conversation.item.added", "conversation.item.done")


def new_event_id() -> str:
    return random_id("event_")


def error_frame(error: ProtocolError, client_event_id: str | None) -> str:
    """The text of an ``error`` event for ``error``, echoing the client's event id."""
    detail = ErrorDetail(error.type, error.code, error.message, error.param, client_event_id)
    return codec.encode(ErrorEvent(new_event_id(), detail))


def unsupported_frame(type_name: str, client_event_id: str | None, dialect: Dialect) -> str:
    """The ``error`` answering a client event of the protocol that Chorus does not perform."""
    supported = list(codec.CLIENT_EVENT_TYPES[dialect])
    return error_frame(errors.unsupported_event(type_name, supported), client_event_id)


def session_updated_frame(session: JsonObject) -> str:
    return codec.encode(SessionUpdated(new_event_id(), session))


def _published_frames(published: Published, dialect: Dialect) -> tuple[bytes, ...]:
    """The frames ``published`` makes for ``dialect`` as bytes, then each frame's JSON.

    Encoded once and cached on the event, so every connection of that dialect sends identical
    frames (same event ids) whether it writes pre-built bytes or text.
    """
    encoded = published.encoded
    if encoded is not None and published.encoded_for is dialect:
        return encoded
    others = published.other_encodings
    if others is not None and (cached := others.get(dialect)) is not None:
        return cached
    encoded = _encode_published(published, dialect)
    if published.encoded is None:
        published.encoded_for, published.encoded = dialect, encoded
    elif others is None:
        published.other_encodings = {dialect: encoded}
    else:
        others[dialect] = encoded
    return encoded


def _encode_published(published: Published, dialect: Dialect) -> tuple[bytes, ...]:
    jsons: list[bytes]
    match published.event:
        case core.ItemCreated(item=item, previous_item_id=previous):
            wire_item = codec.item_json(item, dialect)
            position = published.version
            # A client's create is complete at once: GA sends ``added`` then ``done``, same item.
            names = GA_CREATED if dialect is Dialect.GA else BETA_CREATED
            jsons = [
                codec.item_change_json(name, new_event_id(), previous, wire_item, position)
                for name in names
            ]
        case core.ItemDeleted(item_id=item_id):
            deleted = ConversationItemDeleted(new_event_id(), item_id, published.version)
            jsons = [codec.encode_json(deleted)]
        case core.ItemTruncated(item_id=item_id, content_index=index, audio_end_ms=end_ms):
            truncated = ConversationItemTruncated(
                new_event_id(), item_id, index, end_ms, published.version
            )
            jsons = [codec.encode_json(truncated)]
    if len(jsons) == 1:
        return (fastsend.utf8_text_frame(jsons[0]), jsons[0])
    return (b"".join([fastsend.utf8_text_frame(data) for data in jsons]), *jsons)


def wire_frames(outbound: Outbound, dialect: Dialect = Dialect.BETA) -> bytes:
    """``frames`` as WebSocket text frames, ready to write; built once per dialect when shared."""
    if type(outbound) is Published:
        return _published_frames(outbound, dialect)[0]
    if isinstance(outbound, Relayed) and isinstance(outbound.payload, bytes):
        return outbound.payload  # already WebSocket bytes: the rest of a partly written item
    return b"".join(fastsend.text_frame(text) for text in frames(outbound, dialect))


# The last shared broadcast joined into frames, per dialect: see ``joined_frames``.
_last_joined: dict[Dialect, tuple[tuple[Outbound, ...], bytes]] = {}


def joined_frames(items: Sequence[Outbound], dialect: Dialect = Dialect.BETA) -> bytes:
    """All of ``items`` as WebSocket frames, in one bytes object, ready to write.

    A tuple is the actor's broadcast of one batch, the same object for each subscriber in turn:
    it is joined once per dialect, and the next connection reuses the bytes. The entry holds
    the tuple, so the identity check cannot match a new tuple at a recycled address.
    """
    if type(items) is tuple:
        cached = _last_joined.get(dialect)
        if cached is not None and cached[0] is items:
            return cached[1]
        data = b"".join([wire_frames(item, dialect) for item in items])
        _last_joined[dialect] = (items, data)
        return data
    if len(items) == 1:
        return wire_frames(items[0], dialect)
    return b"".join([wire_frames(item, dialect) for item in items])


def split_written(
    items: Sequence[Outbound], wires: list[bytes], written: int
) -> tuple[list[Outbound], list[Outbound]]:
    """Split ``items`` (sent as ``wires``, one per item) after ``written`` bytes went out.

    Returns the items written whole or in part, and what is left to send: the rest of a partly
    written item as raw bytes (``Relayed``), then the items not started.
    """
    start = 0
    for index, wire in enumerate(wires):
        end = start + len(wire)
        if end > written:
            if start >= written:
                return list(items[:index]), list(items[index:])
            return list(items[: index + 1]), [Relayed(wire[written - start :]), *items[index + 1 :]]
        start = end
    return list(items), []


def frames(outbound: Outbound, dialect: Dialect = Dialect.BETA) -> list[str]:
    """The frames one connection of ``dialect`` sends for ``outbound``.

    A Published event is encoded once per dialect and cached on it, so every connection of that
    dialect sends identical text (same event ids) and the encoding cost is paid once.
    """
    match outbound:
        case Published():
            return [data.decode() for data in _published_frames(outbound, dialect)[1:]]
        case Retrieved(item=item):
            wire_item = codec.item_to_wire(item, dialect)
            return [codec.encode(ConversationItemRetrieved(new_event_id(), wire_item))]
        case Refused(rejection=rejection, correlation=correlation):
            error = ProtocolError(rejection.code, rejection.message, rejection.param)
            return [error_frame(error, correlation)]
        case ResumeUnavailable(message=message, param=param):
            return [error_frame(errors.resume_unavailable(message, param), None)]
        case Relayed(payload=payload):
            assert isinstance(payload, str), "connections relay pre-encoded frames"
            return [payload]
