"""Column policies: what happens to a sensitive input column before it is written
anywhere under ``$SHIPYARD_HOME`` (the prediction log, batch outputs and rejects, a
version's reference profile and sample).

Actions, by column name:

- ``drop``: the column is not written at all.
- ``hash``: HMAC-SHA256 of the value's text under ``SHIPYARD_COLUMN_HASH_KEY``, as 64 hex
  digits. Deterministic, so equal values hash equally: joins, group-bys and counts still
  work, and a known value can be looked up by its hash (:meth:`Protector.hash_value`).
- ``encrypt``: AES-256-GCM of the value's text under the first of ``SHIPYARD_COLUMN_KEYS``
  (see :mod:`shipyard.protection.keys`); whoever holds the key reads it back
  (:func:`shipyard.protection.reveal`). A fresh nonce per value: equal values differ.
- ``mask``: values longer than 8 characters keep their last 4 and every other character
  becomes ``*`` (``4111111111111111`` -> ``************1111``); shorter ones become ``*``
  throughout. The length shows.

Values are turned into text first (Arrow's cast: ``42`` -> ``"42"``, ``1.5`` -> ``"1.5"``),
so a protected column is text wherever it is written; missing values stay missing.

The work is done on whole Arrow arrays: each distinct value is hashed or masked once
(dictionary encoding), so a flushed batch of the log costs a pass over its distinct values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.errors import ConfigurationError, InvalidInputError
from shipyard.protection.keys import Keyring

Action = Literal["drop", "hash", "encrypt", "mask"]
ACTIONS: tuple[str, ...] = get_args(Action)
#: ``mask`` keeps this many last characters of values longer than MASK_SHORT.
MASK_KEEP = 4
MASK_SHORT = 8
COLUMN_MAX = 256
#: Reject reasons and errors that name a protected value say this instead.
WITHHELD = "[protected]"


class PolicyError(InvalidInputError):
    """A column policy is malformed: an unknown action, a bad column name."""


def parse_columns(columns: Mapping[str, Any] | Iterable[str]) -> dict[str, Action]:
    """``{"ssn": "encrypt"}`` (or ``["ssn=encrypt"]``) checked: every column named once,
    every action one of :data:`ACTIONS`."""
    pairs: list[tuple[str, Any]]
    if isinstance(columns, Mapping):
        pairs = list(columns.items())
    else:
        pairs = []
        for item in columns:
            name, equals, action = str(item).partition("=")
            if not equals:
                raise PolicyError(
                    f"{item!r}: give COLUMN=ACTION, e.g. ssn=encrypt (actions: "
                    f"{', '.join(ACTIONS)})"
                )
            pairs.append((name.strip(), action.strip()))
    found: dict[str, Action] = {}
    for name, action in pairs:
        if not isinstance(name, str) or not name or len(name) > COLUMN_MAX:
            raise PolicyError(f"column name {name!r}: give 1 to {COLUMN_MAX} characters")
        if any(ord(ch) < 32 for ch in name):
            raise PolicyError(f"column name {name!r} holds control characters; rename it")
        if name in found:
            raise PolicyError(f"column {name!r} is given twice; give each column one action")
        if action not in ACTIONS:
            raise PolicyError(
                f"column {name!r}: unknown action {action!r}; use one of {', '.join(ACTIONS)}"
            )
        found[name] = action
    return found


def _text(array: pa.Array) -> pa.Array:
    """The values as text (nulls stay null)."""
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_large_string(array.type):
        return pc.cast(array, pa.string())
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def _mask(value: str) -> str:
    if len(value) <= MASK_SHORT:
        return "*" * len(value)
    return "*" * (len(value) - MASK_KEEP) + value[-MASK_KEEP:]


@dataclass(frozen=True)
class Protector:
    """One column policy with the keys to apply it (``columns``: column -> action)."""

    columns: Mapping[str, Action]
    keyring: Keyring = field(default_factory=Keyring)

    def __bool__(self) -> bool:
        return bool(self.columns)

    def check(self, where: str = "the column policy") -> Protector:
        """Raise :class:`~shipyard.errors.ConfigurationError` when a key the policy needs
        is not set; ``self`` otherwise."""
        actions = set(self.columns.values())
        if "hash" in actions and self.keyring.hash_key is None:
            hashed = sorted(c for c, a in self.columns.items() if a == "hash")
            raise ConfigurationError(
                f"{where} hashes {', '.join(map(repr, hashed))} but no hash key is set; set "
                "SHIPYARD_COLUMN_HASH_KEY (or SHIPYARD_COLUMN_HASH_KEY_FILE) to a key from "
                "`shipyard policy keygen`, in every process that writes"
            )
        if "encrypt" in actions and not self.keyring.keys:
            sealed = sorted(c for c, a in self.columns.items() if a == "encrypt")
            raise ConfigurationError(
                f"{where} encrypts {', '.join(map(repr, sealed))} but no encryption key is "
                "set; set SHIPYARD_COLUMN_KEYS (or SHIPYARD_COLUMN_KEYS_FILE) to a key from "
                "`shipyard policy keygen`, in every process that writes"
            )
        return self

    def action(self, column: str) -> Action | None:
        return self.columns.get(column)

    def hash_value(self, value: Any) -> str:
        """The hash ``hash`` writes for ``value`` (to look a known value up)."""
        return str(self.array(pa.array([value]), "hash", "").to_pylist()[0])

    # -- arrays ---------------------------------------------------------------------------

    def array(self, array: pa.Array | pa.ChunkedArray, action: Action, column: str) -> pa.Array:
        """``array`` protected by ``action`` (not ``drop``: the caller leaves it out)."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        text = _text(array)
        if action == "encrypt":
            values = text.to_pylist()
            present = [v for v in values if v is not None]
            sealed = iter(self.keyring.encrypt_texts(present, column))
            return pa.array([None if v is None else next(sealed) for v in values], pa.string())
        # hash and mask: once per distinct value
        encoded = pc.dictionary_encode(text)
        distinct = encoded.dictionary.to_pylist()
        if action == "hash":
            done = self.keyring.hash_texts(distinct)
        elif action == "mask":
            done = [_mask(v) for v in distinct]
        else:
            raise PolicyError(f"column {column!r}: unknown action {action!r}")
        return pc.take(pa.array(done, pa.string()), encoded.indices)

    def table(self, table: pa.Table) -> pa.Table:
        """``table`` with its protected top-level columns protected (dropped ones gone)."""
        for name in [n for n in table.column_names if n in self.columns]:
            action = self.columns[name]
            where = table.column_names.index(name)
            if action == "drop":
                table = table.remove_column(where)
            else:
                table = table.set_column(where, name, self.array(table[name], action, name))
        return table

    def struct(self, inputs: pa.Array | pa.ChunkedArray) -> pa.Array:
        """A struct column (the log's ``inputs``) with its protected fields protected."""
        if isinstance(inputs, pa.ChunkedArray):
            inputs = inputs.combine_chunks()
        assert isinstance(inputs, pa.StructArray)
        names = [inputs.type.field(i).name for i in range(inputs.type.num_fields)]
        if not set(names) & set(self.columns):
            return inputs
        arrays, kept = [], []
        for i, name in enumerate(names):
            action = self.columns.get(name)
            if action == "drop":
                continue
            child = inputs.field(i)
            arrays.append(child if action is None else self.array(child, action, name))
            kept.append(name)
        if not kept:  # every input dropped: an empty struct keeps the schema a struct
            return pa.StructArray.from_arrays([], fields=[], mask=pc.is_null(inputs))
        return pa.StructArray.from_arrays(arrays, names=kept)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with its protected columns protected (dropped ones gone)."""
        hit = [c for c in frame.columns if str(c) in self.columns]
        if not hit:
            return frame
        out = frame.copy()
        for column in hit:
            action = self.columns[str(column)]
            if action == "drop":
                out = out.drop(columns=[column])
                continue
            try:
                array = pa.array(out[column], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                values = out[column].astype(object)
                array = pa.array([None if pd.isna(v) else str(v) for v in values], pa.string())
            protected = self.array(array, action, str(column))
            out[column] = pd.Series(protected.to_pylist(), index=out.index, dtype=object)
        return out

    # -- text that may quote a value ------------------------------------------------------

    def scrub(self, text: str | None, values: Iterable[Any]) -> str | None:
        """``text`` (an error, a reject reason) with each of ``values`` (protected values
        it may quote) replaced by :data:`WITHHELD`, longest first."""
        if text is None:
            return None
        forms: set[str] = set()
        for value in values:
            if value is None or (isinstance(value, float) and value != value):
                continue
            forms.update(f for f in (str(value), repr(value)) if f)
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, WITHHELD)
        return text

    def log_table(self, table: pa.Table) -> pa.Table:
        """A table of the prediction log with its ``inputs`` protected and the
        ``error`` texts scrubbed of the protected values of the rows that carry them."""
        if not self.columns or "inputs" not in table.column_names:
            return table
        inputs = table.column("inputs").combine_chunks()
        names = [inputs.type.field(i).name for i in range(inputs.type.num_fields)]
        mine = [n for n in names if n in self.columns]
        if mine and "error" in table.column_names and table.column("error").null_count < len(table):
            errors = table.column("error").to_pylist()
            rows_of: dict[str, list[int]] = {}
            for i, text in enumerate(errors):
                if text is not None:
                    rows_of.setdefault(text, []).append(i)
            scrubbed: dict[str, str | None] = {}
            for text, rows in rows_of.items():
                picked = pa.array(rows, pa.int64())
                quoted = [
                    v for n in mine for v in inputs.field(names.index(n)).take(picked).to_pylist()
                ]
                scrubbed[text] = self.scrub(text, quoted)
            cleaned = [None if t is None else scrubbed[t] for t in errors]
            where = table.column_names.index("error")
            table = table.set_column(where, "error", pa.array(cleaned, pa.string()))
        where = table.column_names.index("inputs")
        return table.set_column(where, "inputs", self.struct(inputs))


@dataclass(frozen=True)
class PolicyBook:
    """Every column policy at one moment, and the keys of this process: which columns of a
    model's rows are protected how, when they came straight to the model or through an
    endpoint (the endpoint's policy adds to the model's and wins where both name a
    column)."""

    models: Mapping[str, Mapping[str, Action]] = field(default_factory=dict)
    endpoints: Mapping[str, Mapping[str, Action]] = field(default_factory=dict)
    keyring: Keyring = field(default_factory=Keyring)

    def effective(self, model: str, endpoint: str | None = None) -> dict[str, Action]:
        found = dict(self.models.get(model, {}))
        if endpoint is not None:
            found.update(self.endpoints.get(endpoint, {}))
        return found

    def protector(self, model: str, endpoint: str | None = None) -> Protector:
        return Protector(self.effective(model, endpoint), self.keyring)

    def check(self) -> PolicyBook:
        """Raise :class:`~shipyard.errors.ConfigurationError` when any policy needs a key
        this process lacks; ``self`` otherwise."""
        for kind, policies in (("model", self.models), ("endpoint", self.endpoints)):
            for name, columns in sorted(policies.items()):
                Protector(columns, self.keyring).check(f"the column policy of {kind} {name!r}")
        return self
