"""Generated ids have the protocol's shape and do not repeat."""

import os
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


def test_a_forked_child_does_not_reuse_the_parents_pool() -> None:
    random_id("")  # the pool now holds bytes the child would otherwise hand out too
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, random_id("").encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    assert len(child_id) == 21
    assert child_id != random_id("")
