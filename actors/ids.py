"""Random identifiers in the Realtime style: a prefix and 21 base62 characters."""

import os

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_BODY_LENGTH = 21
# Maps every byte value to a base62 character in one C-level pass (bytes.translate): ids are made
# for every server event, so a Python-level loop per character shows up in profiles. The modulo
# leaves a slight bias (256 = 4 * 62 + 8); each id still carries over 124 bits of randomness.
_TO_BASE62 = bytes(ord(BASE62[value % 62]) for value in range(256))
# Ids are cut from a pool of the OS's random bytes: one getrandom() call per 195 ids instead of
# one per id (a system call per server event was 4 % of a loaded server's CPU).
_POOL_BYTES = ID_BODY_LENGTH * 195


class _RandomPool:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._data = b""
        self._offset = 0

    def take(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._data):
            self._data = os.urandom(max(_POOL_BYTES, count))
            self._offset, end = 0, count
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk


_pool = _RandomPool()
# A forked child must not hand out the ids its parent's pool still holds.
os.register_at_fork(after_in_child=_pool.reset)


def random_id(prefix: str) -> str:
    """Return ``prefix`` followed by 21 random base62 characters."""
    return prefix + _pool.take(ID_BODY_LENGTH).translate(_TO_BASE62).decode()


def new_item_id() -> str:
    return random_id("item_")
