"""Reading protected values back: whoever holds the keys decrypts what ``encrypt``
wrote, in a frame read from the prediction log, a batch output or a reference sample."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from shipyard.config import Settings
from shipyard.protection.keys import PREFIX, Keyring

#: How the prediction log's frames name input columns (``inputs.ssn``).
INPUT_PREFIX = "inputs."


def _encrypted(column: pd.Series) -> bool:
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    present = column.dropna()
    return bool(len(present)) and bool(
        present.map(lambda v: isinstance(v, str) and v.startswith(PREFIX + ".")).all()
    )


def reveal(
    frame: pd.DataFrame,
    keyring: Keyring | None = None,
    *,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with the encrypted columns decrypted (as text): ``columns``,
    else every column whose values are all ciphertexts. ``keyring`` defaults to the keys
    of the current settings (``SHIPYARD_COLUMN_KEYS``). A value no key decrypts, or one
    altered, raises :class:`~shipyard.protection.keys.DecryptionError` naming the column.

    >>> frame = shipyard.predictions.read_predictions(settings.predictions)  # doctest: +SKIP
    >>> shipyard.protection.reveal(frame)["inputs.ssn"]                        # doctest: +SKIP
    """
    keys = keyring if keyring is not None else Keyring.from_settings(Settings())
    names = (
        list(columns)
        if columns is not None
        else [str(c) for c in frame.columns if _encrypted(frame[c])]
    )
    out = frame.copy()
    for name in names:
        bare = name.removeprefix(INPUT_PREFIX)
        values = [None if pd.isna(v) else str(v) for v in out[name].tolist()]
        out[name] = pd.Series(keys.decrypt_texts(values, bare), index=out.index, dtype=object)
    return out
