"""The local batch engine: score a Parquet or CSV input of any size in chunks, with
bounded memory, resumably.

The input (a file, a directory or a glob of them) is read as an Arrow dataset, file by
file in name order and chunk by chunk (``chunk_rows`` rows at most), so the chunks of an
input are the same on every run. Chunk ``i`` is validated against the version's
signature, scored, and written to ``OUTPUT/part-<i>.parquet`` under a temporary name
renamed when complete; ``OUTPUT/_job.json`` names the job and its input. A run with the
same job id over the same output skips the chunks already written, so an interrupted job
(Ctrl-C, ``kill -9``) picks up where it stopped and ends with the output an
uninterrupted run writes.

Rows that break the signature go to ``REJECTS/part-<i>.parquet`` with their row number
(from 0 over the whole input), their id and the reason; the other rows of the chunk are
scored. They are found by halving: a chunk that fails validation is split in two and each
half validated again, down to the single rows that fail, so a chunk with a few bad rows
costs a few extra validations, not one per row.
"""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.registry.loaded import LoadedModel

#: Rows per chunk unless told otherwise.
CHUNK_ROWS = 65_536
JOB_FILE = "_job.json"
DONE_FILE = "_SUCCESS"


@dataclass
class BatchSpec:
    """What to score and where the results go."""

    input: str
    """A Parquet or CSV file, a directory of them, or a glob."""
    output: Path
    """A directory: one ``part-<i>.parquet`` per chunk (a Parquet dataset)."""
    id_column: str | None = None
    """An input column copied to the output (and the rejects) to join results back."""
    chunk_rows: int = CHUNK_ROWS
    rejects: Path | None = None
    """Where rejected rows go: a directory beside the output (default ``OUTPUT-rejects``),
    so reading the output as a dataset never picks them up."""
    fail_on_reject: bool = False
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass
class BatchResult:
    """What a run did."""

    job_id: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    chunks: int = 0
    chunks_skipped: int = 0
    """Chunks found complete from an earlier run of the job and not scored again."""
    seconds: float = 0.0
    output: str = ""
    rejects: str = ""
    reasons: dict[str, int] = field(default_factory=dict)
    """Rejections by column."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Progress = Callable[[int, int], None]
"""Called after each chunk with the rows done so far and the rows in the input (it may
raise to stop the job: the chunks written stay, and the job resumes from them)."""
Sink = Callable[[pd.DataFrame, pa.Table], None]
"""Called with each newly scored chunk's validated inputs and its output rows (e.g. to
write them to the prediction log)."""


def input_files(spec: str) -> tuple[list[str], str]:
    """The input's files, sorted, and their format (``parquet`` or ``csv``)."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.suffix in (".parquet", ".csv"))
    elif any(ch in spec for ch in "*?["):
        files = sorted(glob.glob(spec, recursive=True))
    elif path.is_file():
        files = [str(path)]
    else:
        raise InvalidInputError(
            f"--input {spec!r} is not a file, a directory or a glob that matches files; "
            "give a .parquet or .csv file, a directory of them, or a pattern such as "
            "'data/*.parquet'"
        )
    files = [f for f in files if Path(f).is_file()]
    kinds = {Path(f).suffix for f in files}
    if not files:
        raise InvalidInputError(f"--input {spec!r} holds no .parquet or .csv files")
    if len(kinds) > 1 or kinds - {".parquet", ".csv"}:
        raise InvalidInputError(
            f"--input {spec!r} mixes or holds other files ({', '.join(sorted(kinds))}); "
            "give .parquet files or .csv files, one kind"
        )
    return files, "parquet" if kinds == {".parquet"} else "csv"


def dataset_of(files: list[str], kind: str) -> ds.Dataset:
    try:
        return ds.dataset(files, format=kind)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"--input could not be read as {kind}: {exc}") from None


def check_columns(loaded: LoadedModel, schema: pa.Schema, id_column: str | None) -> None:
    """Fail before any scoring when the input lacks a column the model takes."""
    names = set(schema.names)
    missing = [n for n in loaded.signature.names if n not in names]
    if missing:
        raise InvalidInputError(
            f"the input has no column(s) {', '.join(map(repr, missing))} that "
            f"{loaded.version.uri} takes; its columns: {', '.join(schema.names)}"
        )
    if id_column is not None and id_column not in names:
        raise InvalidInputError(
            f"--id-column {id_column!r} is not a column of the input; its columns: "
            f"{', '.join(schema.names)}"
        )


def chunks(dataset: ds.Dataset, chunk_rows: int, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """The input's chunks, file by file in name order: the same on every run."""
    for fragment in sorted(dataset.get_fragments(), key=lambda f: str(f.path)):
        for batch in fragment.to_batches(batch_size=chunk_rows, columns=columns):
            if batch.num_rows:
                yield batch


Rejects = dict[int, tuple[str | None, str]]


def _valid_rows(loaded: LoadedModel, frame: pd.DataFrame, rejects: Rejects) -> pd.DataFrame | None:
    """``frame`` validated; rows that fail alone are added to ``rejects`` (position in
    ``frame`` -> column and reason) and left out. ``None`` when no row is valid."""
    try:
        return loaded.signature.validate(frame)
    except SignatureError as exc:
        if len(frame) == 1:
            rejects[int(frame.index[0])] = (exc.column, str(exc).replace(" at row 0", ""))
            return None
    half = len(frame) // 2
    parts = [_valid_rows(loaded, frame.iloc[:half], rejects)]
    parts.append(_valid_rows(loaded, frame.iloc[half:], rejects))
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return pd.concat(kept, ignore_index=True)


def score_chunk(
    loaded: LoadedModel, frame: pd.DataFrame, first_row: int, spec: BatchSpec
) -> tuple[pa.Table | None, pd.DataFrame, pd.DataFrame | None]:
    """Scored rows as an Arrow table, the rejected rows (``row``, id, ``column``,
    ``reason``), and the valid rows' inputs as validated (``None`` when none is)."""
    names = loaded.signature.names
    inputs = frame[names]
    rejects: Rejects = {}
    valid = _valid_rows(loaded, inputs.reset_index(drop=True), rejects)
    bad = np.zeros(len(frame), dtype=bool)
    bad[list(rejects)] = True
    order = sorted(rejects)
    rejected = pd.DataFrame(
        {
            "row": first_row + np.flatnonzero(bad),
            "column": pd.Series([rejects[i][0] for i in order], dtype=object),
            "reason": pd.Series([rejects[i][1] for i in order], dtype=object),
        }
    )
    if spec.id_column is not None:
        rejected.insert(1, spec.id_column, frame[spec.id_column].to_numpy()[bad])
    if valid is None:
        return None, rejected, None
    good = ~bad
    columns: dict[str, Any] = {}
    if spec.id_column is not None:
        columns[spec.id_column] = pa.array(frame[spec.id_column].to_numpy()[good])
    columns["row"] = pa.array(first_row + np.flatnonzero(good), type=pa.int64())
    columns["prediction"] = pa.array(loaded.runtime.predict(valid))
    if loaded.classes is not None and loaded.runtime.has_proba:
        matrix = np.asarray(loaded.runtime.predict_proba(valid), dtype=np.float64)
        offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
        columns["probabilities"] = pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(matrix.reshape(-1))
        )
    rows = int(good.sum())
    columns["model"] = pa.array([loaded.version.name] * rows, type=pa.string())
    columns["version"] = pa.array(np.full(rows, loaded.version.version), type=pa.int64())
    columns["job_id"] = pa.array([spec.job_id] * rows, type=pa.string())
    return pa.table(columns), rejected, valid


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def check_output(spec: BatchSpec, loaded: LoadedModel, files: list[str]) -> bool:
    """Refuse an output that holds anything but this job's own results; whether it holds
    them already (a resume)."""
    marker = spec.output / JOB_FILE
    if spec.output.exists() and not spec.output.is_dir():
        raise InvalidInputError(f"--output {spec.output} is a file; give a directory")
    mine = _job_file(spec, loaded, files)
    if marker.exists():
        found = json.loads(marker.read_text())
        if found.get("job_id") != spec.job_id:
            raise InvalidInputError(
                f"--output {spec.output} holds job {found.get('job_id')}'s results; resume "
                f"it with --job-id {found.get('job_id')}, or choose an empty --output"
            )
        if found != mine:
            changed = sorted(k for k in mine if found.get(k) != mine[k])
            raise InvalidInputError(
                f"job {spec.job_id} was started with another {', '.join(changed)}; resume it "
                "with the same model, input, --chunk-rows and --id-column"
            )
        return True
    if spec.output.exists() and any(not p.name.startswith(".") for p in spec.output.iterdir()):
        raise InvalidInputError(
            f"--output {spec.output} is not empty; choose a new directory (a job writes its own)"
        )
    return False


def _job_file(spec: BatchSpec, loaded: LoadedModel, files: list[str]) -> dict[str, Any]:
    return {
        "job_id": spec.job_id,
        "model": loaded.version.uri,
        "input": files,
        "chunk_rows": spec.chunk_rows,
        "id_column": spec.id_column,
    }


def _claim_output(spec: BatchSpec, loaded: LoadedModel, files: list[str]) -> None:
    """Check the output, and mark it as this job's."""
    if not check_output(spec, loaded, files):
        spec.output.mkdir(parents=True, exist_ok=True)
        (spec.output / JOB_FILE).write_text(json.dumps(_job_file(spec, loaded, files), indent=2))


def run_local(
    loaded: LoadedModel,
    spec: BatchSpec,
    progress: Progress | None = None,
    sink: Sink | None = None,
) -> BatchResult:
    """Score ``spec.input`` with ``loaded`` in one process (see the module docs)."""
    if spec.chunk_rows < 1:
        raise InvalidInputError(f"--chunk-rows must be 1 or more; got {spec.chunk_rows}")
    started = time.perf_counter()
    files, kind = input_files(spec.input)
    dataset = dataset_of(files, kind)
    check_columns(loaded, dataset.schema, spec.id_column)
    total = dataset.count_rows()
    _claim_output(spec, loaded, files)
    rejects_dir = spec.rejects or spec.output.with_name(f"{spec.output.name}-rejects")
    result = BatchResult(job_id=spec.job_id, output=str(spec.output), rejects=str(rejects_dir))
    wanted = list(dict.fromkeys([*loaded.signature.names, *filter(None, [spec.id_column])]))
    done = 0
    for index, batch in enumerate(chunks(dataset, spec.chunk_rows, wanted)):
        part = spec.output / f"part-{index:06d}.parquet"
        reject_part = rejects_dir / f"part-{index:06d}.parquet"
        result.chunks += 1
        result.rows_in += batch.num_rows
        empty = spec.output / f".empty-{index:06d}"
        if part.exists() or empty.exists():
            result.chunks_skipped += 1
            result.rows_out += pq.read_metadata(part).num_rows if part.exists() else 0
            if reject_part.exists():
                rejected = pq.read_table(reject_part, columns=["column"]).to_pandas()
                _count(result, rejected)
        else:
            table, rejected, valid = score_chunk(loaded, batch.to_pandas(), done, spec)
            if len(rejected):
                if spec.fail_on_reject:
                    first = rejected.iloc[0]
                    raise InvalidInputError(
                        f"row {first['row']} breaks the signature: {first['reason']}; "
                        f"{len(rejected)} row(s) of chunk {index} rejected, and "
                        "--fail-on-reject stops the job (drop it to write them to the "
                        "rejects instead)"
                    )
                _write(pa.Table.from_pandas(rejected, preserve_index=False), reject_part)
                _count(result, rejected)
            if table is None:  # every row rejected: the chunk is done, with no part
                empty.touch()
            else:
                _write(table, part)
                result.rows_out += table.num_rows
                if sink is not None and valid is not None:
                    sink(valid, table)
        done += batch.num_rows
        if progress is not None:
            progress(done, total)
    (spec.output / DONE_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    result.seconds = time.perf_counter() - started
    return result


def _count(result: BatchResult, rejected: pd.DataFrame) -> None:
    result.rejected += len(rejected)
    for column in rejected["column"]:
        key = str(column) if column is not None else "(row)"
        result.reasons[key] = result.reasons.get(key, 0) + 1
