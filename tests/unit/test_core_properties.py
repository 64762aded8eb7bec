"""Properties of the core: it behaves like a plain list, and replaying the log rebuilds it."""

from hypothesis import given
from hypothesis import strategies as st

from actors.conversation import core
from actors.conversation.model import Item, ItemType, Role
from actors.conversation.records import from_record, to_record
from actors.store.base import StoredEvent

# An operation: ("append",), ("root",), ("after", k) where k picks an existing or unknown item,
# ("delete", k).
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append")),
        st.tuples(st.just("root")),
        st.tuples(st.just("after"), st.integers(0, 40)),
        st.tuples(st.just("delete"), st.integers(0, 40)),
    ),
    max_size=60,
)


def _pick(model: list[str], k: int) -> str:
    """An existing id most of the time; an unknown one when k is past the end."""
    return model[k] if k < len(model) else f"unknown-{k}"


def _run(
    ops: list[tuple[object, ...]],
) -> tuple[core.ConversationState, list[str], list[core.Event]]:
    state = core.ConversationState()
    model: list[str] = []
    log: list[core.Event] = []
    for n, op in enumerate(ops):
        item = Item(f"i{n}", ItemType.MESSAGE, role=Role.USER)
        command: core.Command
        match op:
            case ("append",):
                command = core.CreateItem(item, core.Anchor.APPEND)
            case ("root",):
                command = core.CreateItem(item, core.Anchor.ROOT)
            case ("after", int(k)):
                command = core.CreateItem(item, core.AfterItem(_pick(model, k)))
            case ("delete", int(k)):
                command = core.DeleteItem(_pick(model, k))
            case _:
                raise AssertionError(op)
        result = core.decide(state, command, generated_item_id="unused")
        expect_refusal = isinstance(command, core.DeleteItem | core.CreateItem) and (
            (isinstance(command, core.DeleteItem) and command.item_id not in model)
            or (
                isinstance(command, core.CreateItem)
                and isinstance(command.placement, core.AfterItem)
                and command.placement.item_id not in model
            )
        )
        assert isinstance(result, core.Rejected) == expect_refusal
        if isinstance(result, core.Rejected):
            continue
        for event in result:
            core.evolve(state, event)
            log.append(event)
        match command:
            case core.CreateItem(placement=core.Anchor.APPEND):
                model.append(item.id)
            case core.CreateItem(placement=core.Anchor.ROOT):
                model.insert(0, item.id)
            case core.CreateItem(placement=core.AfterItem(item_id=after)):
                model.insert(model.index(after) + 1, item.id)
            case core.DeleteItem(item_id=victim):
                model.remove(victim)
    return state, model, log


@given(operations)
def test_random_sequences_match_a_plain_list(ops: list[tuple[object, ...]]) -> None:
    state, model, log = _run(ops)
    assert [item.id for item in state.items()] == model
    assert state.version == len(log)
    # Each item's recorded predecessor is its neighbour in the list.
    for position, item_id in enumerate(model):
        assert state.predecessor(item_id) == (model[position - 1] if position else None)


@given(operations)
def test_replaying_the_log_rebuilds_the_live_state(ops: list[tuple[object, ...]]) -> None:
    state, _, log = _run(ops)
    records = [to_record(event) for event in log]
    stored = [
        StoredEvent("c", version, version, record.kind, record.data)
        for version, record in enumerate(records, start=1)
    ]
    rebuilt = core.replay([from_record(record) for record in stored])
    assert list(rebuilt.items()) == list(state.items())
    assert rebuilt.version == state.version
    assert rebuilt.head == state.head
    assert rebuilt.tail == state.tail
