"""Actor output (domain values) to wire frames, once per dialect for a shared broadcast."""

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
from service.protocol import codec, errors
from service.protocol.errors import ProtocolError
from service.protocol.events import (
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemRetrieved,
    ErrorDetail,
    ErrorEvent,
    ServerEvent,
)


def new_event_id() -> str:
    return random_id("event_")


def error_frame(error: ProtocolError, client_event_id: str | None) -> str:
    """The text of an ``error`` event for ``error``, echoing the client's event id."""
    detail = ErrorDetail(error.type, error.code, error.message, error.param, client_event_id)
    return codec.encode(ErrorEvent(new_event_id(), detail))


def _published_events(published: Published) -> list[ServerEvent]:
    match published.event:
        case core.ItemCreated(item=item, previous_item_id=previous):
            wire = codec.item_to_wire(item)
            return [ConversationItemCreated(new_event_id(), previous, wire, published.version)]
        case core.ItemDeleted(item_id=item_id):
            return [ConversationItemDeleted(new_event_id(), item_id, published.version)]


def frames(outbound: Outbound, dialect: object = "beta") -> list[str]:
    """The frames one connection of ``dialect`` sends for ``outbound``.

    A Published event is encoded once per dialect and cached on it, so every connection of that
    dialect sends identical text (same event ids) and the encoding cost is paid once.
    """
    match outbound:
        case Published(encoded=cache):
            cached = cache.get(dialect)
            if cached is None:
                cached = cache[dialect] = codec.encode_many(_published_events(outbound))
            return cached
        case Retrieved(item=item):
            return [
                codec.encode(ConversationItemRetrieved(new_event_id(), codec.item_to_wire(item)))
            ]
        case Refused(rejection=rejection, correlation=correlation):
            error = ProtocolError(rejection.code, rejection.message, rejection.param)
            return [error_frame(error, correlation)]
        case ResumeUnavailable(message=message, param=param):
            return [error_frame(errors.resume_unavailable(message, param), None)]
        case Relayed(payload=payload):
            assert isinstance(payload, str), "connections relay pre-encoded frames"
            return [payload]
