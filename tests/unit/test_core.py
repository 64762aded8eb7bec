"""Table-driven tests of the sans-IO core: every placement form and every refusal."""

import attrs
import pytest

from actors.conversation import core
from actors.conversation.model import ContentKind, ContentPart, Item, ItemType, Role


def msg(item_id: str) -> Item:
    return Item(
        item_id,
        ItemType.MESSAGE,
        role=Role.USER,
        content=(ContentPart(ContentKind.INPUT_TEXT, text=item_id),),
    )


def call(item_id: str, call_id: str) -> Item:
    return Item(item_id, ItemType.FUNCTION_CALL, call_id=call_id, name="f", arguments="{}")


def output(item_id: str, call_id: str | None) -> Item:
    return Item(item_id, ItemType.FUNCTION_CALL_OUTPUT, call_id=call_id, output="42")


def state_of(*ids: str) -> core.ConversationState:
    """A conversation holding messages with ``ids``, in that order."""
    state = core.ConversationState()
    for item_id in ids:
        core.evolve(state, core.ItemCreated(msg(item_id), state.tail))
    return state


def ids(state: core.ConversationState) -> list[str]:
    return [item.id for item in state.items()]


@pytest.mark.parametrize(
    ("placement", "expected_previous", "expected_order"),
    [
        (core.Anchor.APPEND, "b", ["a", "b", "new"]),
        (core.Anchor.ROOT, None, ["new", "a", "b"]),
        (core.AfterItem("a"), "a", ["a", "new", "b"]),
        (core.AfterItem("b"), "b", ["a", "b", "new"]),
    ],
)
def test_create_places_the_item(
    placement: core.Placement, expected_previous: str | None, expected_order: list[str]
) -> None:
    state = state_of("a", "b")
    events = core.decide(state, core.CreateItem(msg("new"), placement), generated_item_id="gen")
    assert events == [core.ItemCreated(msg("new"), expected_previous)]
    assert isinstance(events, list)
    for event in events:
        core.evolve(state, event)
    assert ids(state) == expected_order
    assert state.version == 3


def test_create_into_empty_conversation_appends_at_front() -> None:
    state = core.ConversationState()
    events = core.decide(state, core.CreateItem(msg("x")), generated_item_id="gen")
    assert events == [core.ItemCreated(msg("x"), None)]


def test_item_without_id_gets_the_generated_one() -> None:
    state = state_of("a")
    events = core.decide(state, core.CreateItem(msg("")), generated_item_id="item_generated")
    expected = attrs.evolve(msg(""), id="item_generated")
    assert events == [core.ItemCreated(expected, "a")]


@pytest.mark.parametrize(
    ("existing", "command", "code", "param", "message"),
    [
        (
            ["a"],
            core.CreateItem(msg("b"), core.AfterItem("nope")),
            "item_create_invalid_previous_item_id",
            "previous_item_id",
            "Error adding item: the previous item with id 'nope' does not exist.",
        ),
        (
            ["a"],
            core.CreateItem(msg("a")),
            "item_create_duplicate_item_id",
            "item.id",
            "Error adding item: the item with id 'a' already exists.",
        ),
        (
            ["a"],
            core.CreateItem(output("o", "call_X")),
            "invalid_tool_call_id",
            "item.call_id",
            "Tool call ID 'call_X' not found in conversation.",
        ),
        (
            [],
            core.CreateItem(output("o", None)),
            "invalid_tool_call_id",
            "item.call_id",
            "Tool call ID 'None' not found in conversation.",
        ),
        (
            ["a"],
            core.DeleteItem("zz"),
            "item_delete_invalid_item_id",
            "item_id",
            "Error deleting item: the item with id 'zz' does not exist.",
        ),
    ],
)
def test_refusals_leave_the_state_unchanged(
    existing: list[str], command: core.Command, code: str, param: str, message: str
) -> None:
    state = state_of(*existing)
    before = (ids(state), state.version)
    result = core.decide(state, command, generated_item_id="gen")
    assert result == core.Rejected(code, message, param)
    assert (ids(state), state.version) == before


def test_function_call_output_after_its_call_is_accepted() -> None:
    state = core.replay([core.ItemCreated(call("c", "call_1"), None)])
    result = core.decide(state, core.CreateItem(output("o", "call_1")), generated_item_id="g")
    assert result == [core.ItemCreated(output("o", "call_1"), "c")]


def test_deleting_the_call_forgets_its_call_id() -> None:
    state = core.replay([core.ItemCreated(call("c", "call_1"), None), core.ItemDeleted("c")])
    result = core.decide(state, core.CreateItem(output("o", "call_1")), generated_item_id="g")
    assert isinstance(result, core.Rejected)
    assert result.code == "invalid_tool_call_id"


def test_inserting_after_a_deleted_item_is_refused() -> None:
    state = state_of("a", "b")
    core.evolve(state, core.ItemDeleted("a"))
    result = core.decide(
        state, core.CreateItem(msg("c"), core.AfterItem("a")), generated_item_id="g"
    )
    assert isinstance(result, core.Rejected)
    assert result.code == "item_create_invalid_previous_item_id"
    assert ids(state) == ["b"]


@pytest.mark.parametrize("victim", ["a", "b", "c"])
def test_delete_unlinks_from_anywhere(victim: str) -> None:
    state = state_of("a", "b", "c")
    events = core.decide(state, core.DeleteItem(victim), generated_item_id="g")
    assert events == [core.ItemDeleted(victim)]
    core.evolve(state, core.ItemDeleted(victim))
    assert ids(state) == [x for x in "abc" if x != victim]
    assert [item.id for item in state.items()] == ids(state)


def test_retrieve() -> None:
    state = state_of("a")
    assert core.retrieve(state, "a") == msg("a")
    assert core.retrieve(state, "b") == core.Rejected(
        "item_retrieve_invalid_item_id",
        "Error retrieving item: the item with id 'b' does not exist.",
        "item_id",
    )


def test_a_full_conversation_refuses_creates_but_not_deletes() -> None:
    state = state_of("a", "b")
    refused = core.decide(state, core.CreateItem(msg("c")), generated_item_id="g", max_items=2)
    assert refused == core.Rejected(
        "conversation_item_limit_reached",
        "Error adding item: the conversation already has the maximum of 2 items.",
        None,
    )
    assert core.decide(state, core.DeleteItem("a"), generated_item_id="g", max_items=2) == [
        core.ItemDeleted("a")
    ]
    allowed = core.decide(state, core.CreateItem(msg("c")), generated_item_id="g", max_items=3)
    assert allowed == [core.ItemCreated(msg("c"), "b")]
