"""Random identifiers in the Realtime style: a prefix and 21 base62 characters."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_BODY_LENGTH = 21


def random_id(prefix: str) -> str:
    """Return ``prefix`` followed by 21 random base62 characters (about 125 bits)."""
    return prefix + "".join(secrets.choice(BASE62) for _ in range(ID_BODY_LENGTH))


def new_item_id() -> str:
    return random_id("item_")
