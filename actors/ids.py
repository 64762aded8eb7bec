"""Random identifiers in the Realtime style: a prefix and 21 base62 characters."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_BODY_LENGTH = 21
# Maps every byte value to a base62 character in one C-level pass (bytes.translate): ids are made
# for every server event, so a Python-level loop per character shows up in profiles. The modulo
# leaves a slight bias (256 = 4 * 62 + 8); each id still carries over 124 bits of randomness.
_TO_BASE62 = bytes(ord(BASE62[value % 62]) for value in range(256))


def random_id(prefix: str) -> str:
    """Return ``prefix`` followed by 21 random base62 characters."""
    return prefix + secrets.token_bytes(ID_BODY_LENGTH).translate(_TO_BASE62).decode()


def new_item_id() -> str:
    return random_id("item_")
