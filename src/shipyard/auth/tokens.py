"""API tokens: made, parsed and checked. Pure functions, no I/O.

A token reads ``sy_<key>_<secret>``: the key (12 characters) names the token in lists and
is how the store finds it; the secret (43 characters, 256 random bits) proves it. Only the
SHA-256 of the secret is stored, and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

PREFIX = "sy_"
KEY_LENGTH = 12
_KEY_ALPHABET = string.ascii_lowercase + string.digits
_KEY_CHARACTERS = frozenset(_KEY_ALPHABET)


def make() -> tuple[str, str, str]:
    """A new token: ``(token, key, SHA-256 of its secret)``."""
    key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(KEY_LENGTH))
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{key}_{secret}", key, digest(secret)


def digest(secret: str) -> str:
    """The stored form of a token's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """``(key, secret)`` of a well-formed token, else ``None``."""
    if not token.startswith(PREFIX) or len(token) < len(PREFIX) + KEY_LENGTH + 2:
        return None
    key = token[len(PREFIX) : len(PREFIX) + KEY_LENGTH]
    if token[len(PREFIX) + KEY_LENGTH] != "_" or not set(key) <= _KEY_CHARACTERS:
        return None
    return key, token[len(PREFIX) + KEY_LENGTH + 1 :]


def matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one whose digest is ``stored`` (constant time)."""
    return hmac.compare_digest(digest(secret), stored)


def key_of(value: str) -> str:
    """The key a user names a token by: the key itself, ``sy_<key>``, or the whole token."""
    text = value.strip()
    parsed = parse(text)
    if parsed is not None:
        return parsed[0]
    return text.removeprefix(PREFIX).rstrip("_")
