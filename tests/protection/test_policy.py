"""The actions of column policies on Arrow columns, and their keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import SecretStr

from shipyard.config import Settings
from shipyard.errors import ConfigurationError, InvalidInputError
from shipyard.protection import DecryptionError, Keyring, Protector, generate_key, reveal
from shipyard.protection.keys import key_id
from shipyard.protection.policy import PolicyBook, PolicyError, parse_columns

OLD, NEW, HASH = generate_key(), generate_key(), generate_key()


def keys(*encrypt: str, hash_key: str | None = HASH) -> Keyring:
    return Keyring.from_settings(
        Settings(
            column_keys=SecretStr(",".join(encrypt)) if encrypt else None,
            column_hash_key=None if hash_key is None else SecretStr(hash_key),
        )
    )


def test_hash_is_keyed_deterministic_and_keeps_nulls() -> None:
    policy = Protector({"email": "hash"}, keys())
    table = pa.table({"email": ["a@x.io", "b@x.io", "a@x.io", None], "n": [1, 2, 3, 4]})
    out = policy.table(table).column("email").to_pylist()
    assert out[0] == out[2] != out[1] and out[3] is None
    assert len(out[0]) == 64 and "a@x.io" not in out[0]
    assert out[0] == policy.hash_value("a@x.io")
    other = Protector({"email": "hash"}, keys(hash_key=generate_key()))
    assert other.hash_value("a@x.io") != out[0]  # another key, another hash
    # Numbers are hashed by their text, the same online and in a batch.
    assert policy.hash_value(42) == policy.hash_value("42")


def test_mask_keeps_the_last_four_of_long_values_only() -> None:
    policy = Protector({"card": "mask"}, Keyring())
    table = pa.table({"card": ["4111111111111111", "12345678", "", None]})
    assert policy.table(table).column("card").to_pylist() == [
        "************1111",
        "********",
        "",
        None,
    ]


def test_drop_removes_the_column_and_struct_field() -> None:
    policy = Protector({"notes": "drop"}, Keyring())
    table = pa.table({"notes": ["secret"], "x": [1.0]})
    assert policy.table(table).column_names == ["x"]
    inputs = pa.StructArray.from_arrays([pa.array(["secret"]), pa.array([1.0])], ["notes", "x"])
    assert policy.struct(inputs).type.names == ["x"]  # type: ignore[attr-defined]
    assert policy.frame(pd.DataFrame({"notes": ["s"], "x": [1]})).columns.tolist() == ["x"]


def test_encrypt_round_trip_carries_the_key_id() -> None:
    ring = keys(NEW)
    policy = Protector({"ssn": "encrypt"}, ring)
    out = policy.table(pa.table({"ssn": ["123-45-6789", "123-45-6789", None]}))
    sealed = out.column("ssn").to_pylist()
    assert sealed[0] != sealed[1]  # a fresh nonce per value
    assert sealed[0].startswith(f"enc1.{key_id(ring.keys[0])}.") and sealed[2] is None
    assert ring.decrypt_texts(sealed, "ssn") == ["123-45-6789", "123-45-6789", None]
    assert reveal(out.to_pandas(), ring)["ssn"].tolist() == ["123-45-6789", "123-45-6789", None]


def test_rotation_new_key_encrypts_old_still_decrypts() -> None:
    before = Protector({"ssn": "encrypt"}, keys(OLD))
    old = before.table(pa.table({"ssn": ["111"]})).column("ssn")[0].as_py()
    rotated = keys(NEW, OLD)
    after = Protector({"ssn": "encrypt"}, rotated)
    new = after.table(pa.table({"ssn": ["222"]})).column("ssn")[0].as_py()
    assert old.split(".")[1] == key_id(keys(OLD).keys[0])
    assert new.split(".")[1] == key_id(keys(NEW).keys[0]) != old.split(".")[1]
    assert rotated.decrypt_text(old, "ssn") == "111"
    assert rotated.decrypt_text(new, "ssn") == "222"
    with pytest.raises(DecryptionError, match="not among SHIPYARD_COLUMN_KEYS"):
        keys(NEW).decrypt_text(old, "ssn")  # the old key dropped: unreadable, and it says why


def test_tampering_and_moving_a_ciphertext_are_detected() -> None:
    ring = keys(NEW)
    token = ring.encrypt_texts(["123-45-6789"], "ssn")[0]
    prefix, kid, body = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError, match="altered"):
        ring.decrypt_text(f"{prefix}.{kid}.{flipped}", "ssn")
    with pytest.raises(DecryptionError, match="another column"):
        ring.decrypt_text(token, "email")  # the column is bound to the ciphertext
    with pytest.raises(DecryptionError, match="not a ciphertext"):
        ring.decrypt_text("hello", "ssn")


def test_keys_from_a_file_after_the_environment_ones(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{OLD}\n\n")
    ring = Keyring.from_settings(Settings(column_keys=SecretStr(NEW), column_keys_file=path))
    assert ring.key_ids == [key_id(k) for k in (*keys(NEW).keys, *keys(OLD).keys)]
    hashed = tmp_path / "hash"
    hashed.write_text(HASH + "\n")
    assert Keyring.from_settings(Settings(column_hash_key_file=hashed)).hash_key == keys().hash_key
    assert "keys=[" in repr(ring) and NEW not in repr(ring)  # ids, never keys


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"column_keys": "not-a-key"}, "SHIPYARD_COLUMN_KEYS"),
        ({"column_keys": generate_key()[:20]}, "SHIPYARD_COLUMN_KEYS"),
        ({"column_hash_key": "short"}, "SHIPYARD_COLUMN_HASH_KEY"),
        ({"column_keys_file": "/nonexistent/keys"}, "SHIPYARD_COLUMN_KEYS_FILE"),
    ],
)
def test_malformed_keys_name_the_setting(settings: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Keyring.from_settings(Settings(**settings))  # type: ignore[arg-type]


def test_a_policy_needing_a_missing_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_KEYS.*keygen"):
        Protector({"ssn": "encrypt"}, keys()).check()
    with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_HASH_KEY"):
        Protector({"email": "hash"}, keys(NEW, hash_key=None)).check()
    Protector({"a": "mask", "b": "drop"}, Keyring()).check()  # keyless actions need none
    book = PolicyBook({"m": {"ssn": "encrypt"}}, {}, keys())
    with pytest.raises(ConfigurationError, match="model 'm'"):
        book.check()


def test_unknown_actions_and_bad_columns_are_refused() -> None:
    with pytest.raises(PolicyError, match="unknown action 'scramble'; use one of drop"):
        parse_columns({"ssn": "scramble"})
    with pytest.raises(InvalidInputError, match="COLUMN=ACTION"):
        parse_columns(["ssn"])
    with pytest.raises(PolicyError, match="control characters"):
        parse_columns({"a\nb": "drop"})
    assert parse_columns(["ssn=encrypt", " email = hash"]) == {"ssn": "encrypt", "email": "hash"}


def test_endpoint_policy_adds_to_and_overrides_the_models() -> None:
    book = PolicyBook({"m": {"ssn": "encrypt", "notes": "drop"}}, {"ep": {"notes": "hash"}})
    assert book.effective("m") == {"ssn": "encrypt", "notes": "drop"}
    assert book.effective("m", "ep") == {"ssn": "encrypt", "notes": "hash"}
    assert book.effective("other", "ep") == {"notes": "hash"}


def test_errors_are_scrubbed_of_the_protected_values_of_their_rows() -> None:
    policy = Protector({"ssn": "encrypt"}, keys(NEW))
    inputs = pa.StructArray.from_arrays(
        [pa.array(["123-45-6789", "987-65-4321"]), pa.array([1.0, 2.0])], ["ssn", "x"]
    )
    table = pa.table({"error": ["model failed: bad '123-45-6789'", None], "inputs": inputs})
    out = policy.log_table(table)
    assert out.column("error").to_pylist() == ["model failed: bad [protected]", None]
    sealed = out.column("inputs").combine_chunks().field(0).to_pylist()
    assert keys(NEW).decrypt_texts(sealed, "ssn") == ["123-45-6789", "987-65-4321"]
