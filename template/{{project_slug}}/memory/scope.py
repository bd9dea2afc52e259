"""The id a user's memories are stored under: the caller's user id, made safe for the stores.

mem0, the stores under it and their filter languages read some filter values as patterns:
`"*"` matches every value, so a caller whose id were `*` would search, list and erase
everyone's memories. A user id therefore never reaches a store as written unless it is made
only of characters no store, filter language or URL path treats specially: letters, digits
and `_ . @ | : + -`, starting with a letter or digit (`alice`, `auth0|5f7c8e`, `a.b@c.io`,
UUIDs). Those ids pass unchanged, so stored data stays readable to an operator. Every other id
(`*`, `%`, `.*`, `$ne`, `josé`, `a/b`, ...) is stored as `~` followed by the URL-safe base64
of its UTF-8 bytes. No plain id starts with `~`, so two different user ids never share a
store id, and the store only ever compares the result for exact equality.
"""

import base64
import binascii
import re

ENCODED_PREFIX = "~"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@|:+-]*")


def store_user_id(user_id: str) -> str:
    """The id the memory store sees for this user id (unchanged when it is already safe)."""
    if _PLAIN.fullmatch(user_id):
        return user_id
    encoded = base64.urlsafe_b64encode(user_id.encode("utf-8")).decode("ascii").rstrip("=")
    return ENCODED_PREFIX + encoded


def user_id_of(store_id: str) -> str:
    """The user id a store id stands for (for operators reading a store directly)."""
    if not store_id.startswith(ENCODED_PREFIX):
        return store_id
    payload = store_id.removeprefix(ENCODED_PREFIX)
    try:
        return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"{store_id!r} is not an encoded user id") from exc
