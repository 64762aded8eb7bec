"""Generated ids have the protocol's shape and do not repeat."""

import re

from actors.ids import new_item_id, random_id


def test_shape() -> None:
    assert re.fullmatch(r"event_[0-9A-Za-z]{21}", random_id("event_"))
    assert re.fullmatch(r"item_[0-9A-Za-z]{21}", new_item_id())


def test_no_repeats_and_every_character_used() -> None:
    ids = {random_id("") for _ in range(5000)}
    assert len(ids) == 5000
    assert set("".join(ids)) == set(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )
