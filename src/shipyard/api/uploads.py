"""Uploaded files: written to a private temporary directory, read as the CLI reads paths."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import pandas as pd
from starlette.datastructures import UploadFile

from shipyard.errors import InvalidInputError


def _file_name(upload: UploadFile, default: str) -> str:
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
    if "\x00" in name or name in ("", ".", ".."):
        return default
    return name[:200]


def save(upload: UploadFile, directory: Path, default: str) -> Path:
    """Write an uploaded file into ``directory`` under its own (base) name."""
    target = directory / _file_name(upload, default)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return target


def unpack(archive: Path, field: str) -> Path:
    """A ``.zip`` upload (a model saved as a directory) unpacked next to it; the directory.

    Members that would land outside the directory are refused."""
    target = archive.with_suffix("")
    target.mkdir()
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                resolved = (target / member).resolve()
                if not resolved.is_relative_to(target.resolve()):
                    raise InvalidInputError(
                        f"{field} {archive.name}: member {member!r} points outside the archive; "
                        "zip the model's directory with relative paths"
                    )
            bundle.extractall(target)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInputError(
            f"{field} {archive.name} is not a readable zip archive ({exc}); "
            "zip the directory the model was saved to"
        ) from None
    entries = list(target.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def read_table(
    path: Path, field: str, *, what: str = "the training inputs", text: Sequence[str] = ()
) -> pd.DataFrame:
    """A CSV or Parquet upload as a DataFrame, or an error naming the field; the CSV
    columns in ``text`` are read as text (ids keep their leading zeros)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidInputError(
            f"{field} {path.name}: upload a .csv or .parquet file (named with its suffix)"
        )
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=dict.fromkeys(text, str))
        return pd.read_parquet(path)
    except Exception as exc:  # pandas and pyarrow raise many kinds for unreadable files
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise InvalidInputError(
            f"{field} {path.name} could not be read as {kind} ({type(exc).__name__}: {exc}); "
            f"upload a valid {kind} file of {what}"
        ) from None
