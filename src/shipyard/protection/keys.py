"""The keys of column policies: one key for ``hash`` (HMAC-SHA256) and a ring of keys for
``encrypt`` (AES-256-GCM), the first of which encrypts while every one decrypts.

A key is 32 random bytes written as base64url (:func:`generate_key`, ``shipyard policy
keygen``). Keys come from :class:`~shipyard.config.Settings` only: ``column_keys`` and
``column_keys_file`` (the ring, newest first), ``column_hash_key`` and
``column_hash_key_file``. Each encryption key has an id, the first 8 hex digits of the
SHA-256 of the key, carried by every ciphertext, so rotating keys (putting a new key first
and keeping the old ones after it) leaves everything written before readable.

A ciphertext reads ``enc1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``: a fresh 96-bit
nonce per value, and the column's name as associated data, so a value moved to another
column, or altered, does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shipyard.config import Settings
from shipyard.errors import ConfigurationError, InvalidInputError

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "enc1"


class DecryptionError(InvalidInputError):
    """A value does not decrypt: no key with its id, or it was altered."""


def generate_key() -> str:
    """A new random key, as base64url text (for ``column_keys`` or ``column_hash_key``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    """The id ciphertexts carry: 8 hex digits of the key's SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(
            f"{where}: a key is not {KEY_BYTES} bytes of base64url text (as `shipyard policy "
            "keygen` prints); replace it with a key made that way"
        )
    return raw


def _lines(path: Path, setting: str) -> list[str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(
            f"{setting} {path}: cannot read it ({exc.strerror or exc}); check the path and "
            "that this process may read it"
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keyring:
    """The keys of this process: ``hash_key`` for ``hash``, ``keys`` for ``encrypt``
    (newest first). Its ``repr`` shows key ids, never keys."""

    hash_key: bytes | None = field(default=None, repr=False)
    keys: tuple[bytes, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        ids = ", ".join(key_id(k) for k in self.keys)
        return f"Keyring(hash_key={'set' if self.hash_key else 'unset'}, keys=[{ids}])"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Keyring:
        """The keys the settings name; a malformed key or unreadable file is a
        :class:`~shipyard.errors.ConfigurationError` naming the setting."""
        settings = settings or Settings()
        keys: list[bytes] = []
        if settings.column_keys is not None:
            for part in settings.column_keys.get_secret_value().split(","):
                if part.strip():
                    keys.append(_decode(part, "SHIPYARD_COLUMN_KEYS"))
        if settings.column_keys_file is not None:
            where = f"SHIPYARD_COLUMN_KEYS_FILE {settings.column_keys_file}"
            for line in _lines(settings.column_keys_file, "SHIPYARD_COLUMN_KEYS_FILE"):
                keys.append(_decode(line, where))
        hash_key = None
        if settings.column_hash_key is not None:
            text = settings.column_hash_key.get_secret_value()
            if text.strip():
                hash_key = _decode(text, "SHIPYARD_COLUMN_HASH_KEY")
        if hash_key is None and settings.column_hash_key_file is not None:
            lines = _lines(settings.column_hash_key_file, "SHIPYARD_COLUMN_HASH_KEY_FILE")
            if len(lines) != 1:
                raise ConfigurationError(
                    f"SHIPYARD_COLUMN_HASH_KEY_FILE {settings.column_hash_key_file}: holds "
                    f"{len(lines)} keys; give exactly one (changing it changes every hash)"
                )
            where = f"SHIPYARD_COLUMN_HASH_KEY_FILE {settings.column_hash_key_file}"
            hash_key = _decode(lines[0], where)
        ids = [key_id(k) for k in keys]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(
                "SHIPYARD_COLUMN_KEYS / SHIPYARD_COLUMN_KEYS_FILE: the same key is given twice; "
                "list each key once, newest first"
            )
        return cls(hash_key, tuple(keys))

    @property
    def key_ids(self) -> list[str]:
        """The ids of the encryption keys, the one that encrypts first."""
        return [key_id(k) for k in self.keys]

    # -- hash ---------------------------------------------------------------------------

    def hash_texts(self, values: Iterable[str]) -> list[str]:
        """HMAC-SHA256 of each text (UTF-8) under the hash key, as 64 hex digits."""
        if self.hash_key is None:
            raise ConfigurationError(
                "a column policy hashes a column but no hash key is set; set "
                "SHIPYARD_COLUMN_HASH_KEY (or _FILE) to a key from `shipyard policy keygen`"
            )
        key = self.hash_key
        return [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values]

    # -- encrypt ------------------------------------------------------------------------

    def encrypt_texts(self, values: Sequence[str], column: str) -> list[str]:
        """Each text encrypted with the first key, ``column`` bound as associated data."""
        if not self.keys:
            raise ConfigurationError(
                "a column policy encrypts a column but no encryption key is set; set "
                "SHIPYARD_COLUMN_KEYS (or _FILE) to a key from `shipyard policy keygen`"
            )
        key = self.keys[0]
        aead, kid, aad = AESGCM(key), key_id(key), column.encode()
        nonces = os.urandom(NONCE_BYTES * len(values))
        out = []
        for i, value in enumerate(values):
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            sealed = aead.encrypt(nonce, value.encode(), aad)
            out.append(f"{PREFIX}.{kid}.{_b64(nonce + sealed)}")
        return out

    def decrypt_text(self, token: str, column: str) -> str:
        """The text ``token`` holds (see :meth:`encrypt_texts`); :class:`DecryptionError`
        when no key has its id or it was altered or moved from another column."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError(f"column {column!r}: a value is not a ciphertext of Shipyard's")
        by_id = {key_id(k): k for k in self.keys}
        key = by_id.get(parts[1])
        if key is None:
            raise DecryptionError(
                f"column {column!r}: a value was encrypted with key {parts[1]}, which is not "
                f"among SHIPYARD_COLUMN_KEYS (ids: {', '.join(by_id) or 'none'}); add that "
                "key after the current one"
            )
        try:
            raw = _unb64(parts[2])
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], column.encode())
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"column {column!r}: a value does not decrypt with key {parts[1]}: it was "
                "altered, or belongs to another column"
            ) from None
        return plain.decode()

    def decrypt_texts(self, tokens: Sequence[str | None], column: str) -> list[str | None]:
        return [None if t is None else self.decrypt_text(t, column) for t in tokens]
