"""Outbound items as frames: a shared broadcast joined once; a partial write split exactly."""

from hypothesis import given
from hypothesis import strategies as st

from actors.conversation import core
from actors.conversation.messages import Outbound, Published, Relayed
from actors.conversation.model import Item, ItemType, Role
from service import fastsend
from service.protocol import outbound
from service.protocol.dialects import Dialect


@given(
    st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=6),
    st.integers(min_value=0),
)
def test_what_was_written_and_what_is_left_add_up_to_the_batch(
    payloads: list[bytes], cut: int
) -> None:
    wires = [fastsend.text_frame(p.hex()) for p in payloads]
    items: list[Outbound] = [Relayed(p.hex()) for p in payloads]
    total = b"".join(wires)
    written = cut % (len(total) + 1)
    sent, rest = outbound.split_written(items, wires, written)
    # Every item is either sent (whole or in part) or still to send whole; order is kept.
    assert sent == items[: len(sent)]
    untouched = items[len(sent) :]
    partial = len(rest) - len(untouched)
    assert partial in (0, 1)
    assert rest[partial:] == untouched
    left = b"".join(outbound.wire_frames(item) for item in rest)
    assert total[:written] + left == total


def test_a_write_that_ends_between_frames_leaves_whole_items() -> None:
    wires = [b"aa", b"bbb", b"c"]
    items: list[Outbound] = [Relayed("a"), Relayed("b"), Relayed("c")]
    assert outbound.split_written(items, wires, 5) == (items[:2], items[2:])
    assert outbound.split_written(items, wires, 0) == ([], items)
    assert outbound.split_written(items, wires, 6) == (items, [])


def test_a_write_that_ends_inside_a_frame_queues_the_rest_of_its_bytes() -> None:
    wires = [b"aa", b"bbb", b"c"]
    items: list[Outbound] = [Relayed("a"), Relayed("b"), Relayed("c")]
    sent, rest = outbound.split_written(items, wires, 3)
    assert sent == items[:2]
    assert rest == [Relayed(b"bb"), Relayed("c")]


def _change(item_id: str, version: int) -> Published:
    item = Item(id=item_id, type=ItemType.MESSAGE, role=Role.USER)
    return Published(core.ItemCreated(item, None), version)


def test_a_shared_broadcast_is_joined_once_per_dialect_and_equals_its_frames() -> None:
    batch = (_change("a", 1), _change("b", 2))
    beta = outbound.joined_frames(batch, Dialect.BETA)
    assert beta == b"".join(outbound.wire_frames(item, Dialect.BETA) for item in batch)
    assert outbound.joined_frames(batch, Dialect.BETA) is beta  # the next subscriber's write
    ga = outbound.joined_frames(batch, Dialect.GA)
    assert ga == b"".join(outbound.wire_frames(item, Dialect.GA) for item in batch)
    assert outbound.joined_frames(batch, Dialect.BETA) == beta


def test_another_batch_is_never_served_the_last_ones_frames() -> None:
    first = (_change("a", 1),)
    joined = outbound.joined_frames(first, Dialect.BETA)
    second = (_change("a", 1),)  # equal content, a new object: its own event ids
    assert outbound.joined_frames(second, Dialect.BETA) != joined
    as_list = list(first)  # a subscriber's own share (a list) is joined afresh
    assert outbound.joined_frames(as_list, Dialect.BETA) == joined
