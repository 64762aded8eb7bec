"""Truncating assistant audio in the sans-IO core, and the session merge rules."""

import base64

import pytest

from actors.conversation import core
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role
from service.protocol.session import merged

# 100 ms of 24 kHz mono PCM16.
AUDIO = base64.b64encode(bytes(range(256)) * 18 + bytes(192)).decode()


def _state() -> core.ConversationState:
    # No client can create assistant audio, so the state is built from events directly, the way
    # a log written by a future response generator would rebuild it.
    assistant = Item(
        id="asst",
        type=ItemType.MESSAGE,
        role=Role.ASSISTANT,
        content=(
            ContentPart(ContentKind.OUTPUT_TEXT, text="hi"),
            ContentPart(ContentKind.OUTPUT_AUDIO, audio=AUDIO, transcript="hello there"),
        ),
    )
    user = Item(
        id="user",
        type=ItemType.MESSAGE,
        role=Role.USER,
        content=(ContentPart(ContentKind.INPUT_AUDIO, audio=AUDIO),),
    )
    return core.replay([core.ItemCreated(user, None), core.ItemCreated(assistant, "user")])


def test_audio_duration() -> None:
    assert core.audio_duration_ms(AUDIO) == 100
    assert core.audio_duration_ms(None) == 0


@pytest.mark.parametrize(
    ("command", "code", "param"),
    [
        (core.TruncateItem("nope", 0, 0), "item_truncate_invalid_item_id", "item_id"),
        (core.TruncateItem("user", 0, 0), "unsupported_content_type", None),
        (core.TruncateItem("asst", 0, 0), "unsupported_content_type", None),
        (core.TruncateItem("asst", 2, 0), "invalid_value", "content_index"),
        (core.TruncateItem("asst", 1, 101), "invalid_value", "audio_end_ms"),
    ],
)
def test_truncate_rejections(command: core.TruncateItem, code: str, param: str | None) -> None:
    state = _state()
    decided = core.decide(state, command, generated_item_id="unused")
    assert isinstance(decided, core.Rejected)
    assert (decided.code, decided.param) == (code, param)
    assert state.version == 2


def test_truncate_cuts_the_audio_and_drops_the_transcript() -> None:
    state = _state()
    decided = core.decide(state, core.TruncateItem("asst", 1, 40), generated_item_id="unused")
    assert decided == [core.ItemTruncated("asst", 1, 40)]
    core.evolve(state, decided[0])
    item = state.get("asst")
    assert item is not None
    part = item.content[1]
    assert core.audio_duration_ms(part.audio) == 40
    assert part.transcript is None
    assert item.content[0] == ContentPart(ContentKind.OUTPUT_TEXT, text="hi")
    # Replaying the same events rebuilds the same state.
    replayed = core.replay([*_log(), core.ItemTruncated("asst", 1, 40)])
    assert list(replayed.items()) == list(state.items())


def _log() -> list[core.Event]:
    state = _state()
    return [core.ItemCreated(item, state.predecessor(item.id)) for item in state.items()]


def test_session_merge_is_deep_for_objects_and_replaces_the_rest() -> None:
    base = {"id": "s", "audio": {"input": {"format": "pcm16", "noise_reduction": {"type": "x"}}}}
    update = {"audio": {"input": {"noise_reduction": None}}, "instructions": "hi"}
    assert merged(base, update) == {
        "id": "s",
        "audio": {"input": {"format": "pcm16", "noise_reduction": None}},
        "instructions": "hi",
    }
