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
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
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
    """A directory: one ``part-<i>.parquet`` (or ``.csv``) per chunk."""
    id_column: str | None = None
    """An input column copied to the output (and the rejects) to join results back."""
    chunk_rows: int = CHUNK_ROWS
    rejects: Path | None = None
    """Where rejected rows go: a directory beside the output (default ``OUTPUT-rejects``),
    so reading the output as a dataset never picks them up."""
    fail_on_reject: bool = False
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    format: str = "parquet"
    """``parquet`` or ``csv``: how the output parts are written (rejects are Parquet)."""


@dataclass
class BatchResult:
    """What a run did."""

    job_id: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    chunks: int = 0
    rows_total: int = 0
    """Rows in the input."""
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


#: What a job id may be: it names the job's record and is written into its output.
JOB_ID = r"^[A-Za-z0-9._-]{1,64}$"


def check_spec(spec: BatchSpec) -> None:
    """Refuse a job whose options are not valid, naming the option."""
    if spec.chunk_rows < 1:
        raise InvalidInputError(f"--chunk-rows must be 1 or more; got {spec.chunk_rows}")
    if spec.format not in FORMATS:
        raise InvalidInputError(f"--format {spec.format!r} is not one of: {', '.join(FORMATS)}")
    if not re.fullmatch(JOB_ID, spec.job_id):
        raise InvalidInputError(
            f"job id {spec.job_id!r} is not allowed; use 1 to 64 letters, digits and ._-"
        )


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
        # Little read-ahead and no pre-buffering of whole files: memory stays a few
        # chunks whatever the input's size.
        options = (
            {"fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}
            if isinstance(fragment, ds.ParquetFileFragment)
            else {}
        )
        scan = fragment.to_batches(
            batch_size=chunk_rows,
            columns=columns,
            batch_readahead=1,
            fragment_readahead=1,
            **options,
        )
        for batch in scan:
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


class Scorer:
    """Scores chunks with one loaded version: the compiled kernel when the model has one
    and a chunk is all finite numbers (the common case, checked with Arrow and numpy, no
    pandas), else the runtime behind the full signature check."""

    def __init__(self, loaded: LoadedModel, spec: BatchSpec) -> None:
        self.loaded = loaded
        self.spec = spec
        self.names = loaded.signature.names
        inputs = loaded.signature.inputs
        self.numeric = all(c.kind == "float" and c.dtype == "float64" for c in inputs)
        self.kernel = loaded.runtime.compile(self.names) if self.numeric else None
        self._use_kernel: bool | None = None
        classes = loaded.classes if loaded.runtime.has_proba else None
        self.classes = None if classes is None else [str(c) for c in classes]

    def _matrix(self, batch: pa.RecordBatch) -> np.ndarray[Any, Any] | None:
        """The chunk's inputs as a finite float64 matrix, or ``None`` when any value
        needs the full check (a null, a non-number type, ±inf or NaN)."""
        if not self.numeric:
            return None
        matrix = np.empty((batch.num_rows, len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.names):
            column = batch.column(name)
            kind = column.type
            if column.null_count or not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
                return None
            matrix[:, j] = column.to_numpy(zero_copy_only=False)
        if not np.isfinite(matrix).all():
            return None
        return matrix

    def score(
        self, batch: pa.RecordBatch, first_row: int
    ) -> tuple[pa.Table | None, pd.DataFrame, pd.DataFrame | None]:
        """Scored rows as an Arrow table, the rejected rows (``row``, id, ``column``,
        ``reason``), and the valid rows' inputs as validated (``None`` when none is)."""
        spec = self.spec
        matrix = self._matrix(batch)
        if matrix is not None:  # every value a finite float: nothing to reject
            labels, probabilities = self._outputs(matrix)
            rows = np.arange(first_row, first_row + batch.num_rows)
            ids = batch.column(spec.id_column) if spec.id_column is not None else None
            fast = pd.DataFrame(matrix, columns=self.names, copy=False)
            return self._table(rows, ids, labels, probabilities), _no_rejects(spec), fast
        frame = batch.to_pandas()
        inputs = frame[self.names]
        rejects: Rejects = {}
        valid = _valid_rows(self.loaded, inputs.reset_index(drop=True), rejects)
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
        ids = None if spec.id_column is None else pa.array(frame[spec.id_column].to_numpy()[good])
        predictions = np.asarray(self.loaded.runtime.predict(valid))
        probabilities = None
        if self.classes is not None:
            probabilities = np.asarray(self.loaded.runtime.predict_proba(valid), dtype=np.float64)
        table = self._table(first_row + np.flatnonzero(good), ids, predictions, probabilities)
        return table, rejected, valid

    def _outputs(
        self, matrix: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Labels and probabilities of a finite matrix: from the compiled kernel or the
        runtime, whichever scored a sample of the first chunk faster (kernels are built
        for small requests; on large chunks the library's own code may win)."""
        if self.kernel is not None and self._use_kernel is None:
            sample = np.ascontiguousarray(matrix[:4096])
            started = time.perf_counter()
            compiled = self.kernel(sample)
            middle = time.perf_counter()
            self._runtime(sample)
            ended = time.perf_counter()
            self._use_kernel = compiled is not None and middle - started <= ended - middle
        if self.kernel is not None and self._use_kernel:
            out = self.kernel(matrix)
            if out is not None:
                return out[0], out[1]
        return self._runtime(matrix)

    def _runtime(
        self, matrix: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        frame = pd.DataFrame(matrix, columns=self.names, copy=False)
        labels, probabilities = self.loaded.runtime.predict_both(frame)
        if self.classes is None or probabilities is None:
            return np.asarray(labels), None
        return np.asarray(labels), np.asarray(probabilities, dtype=np.float64)

    def _table(
        self,
        rows: np.ndarray[Any, Any],
        ids: Any,
        predictions: np.ndarray[Any, Any],
        probabilities: np.ndarray[Any, Any] | None,
    ) -> pa.Table:
        """The output columns: the id, ``row``, ``prediction``, ``probability_<class>``
        per class, ``model``, ``version`` and ``job_id`` (the last three dictionary-
        encoded: one value each)."""
        n = len(rows)
        columns: dict[str, Any] = {}
        if self.spec.id_column is not None:
            columns[self.spec.id_column] = ids
        columns["row"] = pa.array(rows, type=pa.int64())
        columns["prediction"] = pa.array(predictions)
        if probabilities is not None and self.classes is not None:
            for j, label in enumerate(self.classes):
                columns[f"probability_{label}"] = pa.array(probabilities[:, j])
        zeros = pa.array(np.zeros(n, dtype=np.int32))
        version = self.loaded.version
        columns["model"] = pa.DictionaryArray.from_arrays(zeros, pa.array([version.name]))
        columns["version"] = pa.array(np.full(n, version.version), type=pa.int64())
        columns["job_id"] = pa.DictionaryArray.from_arrays(zeros, pa.array([self.spec.job_id]))
        return pa.table(columns)


def _no_rejects(spec: BatchSpec) -> pd.DataFrame:
    names = ["row", *([spec.id_column] if spec.id_column else []), "column", "reason"]
    return pd.DataFrame({name: [] for name in names})


FORMATS = ("parquet", "csv")


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".csv":
        plain = [
            column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
            for column in table.columns
        ]
        pa_csv.write_csv(pa.table(plain, names=table.column_names), tmp)
    else:
        # Dictionary encoding only where it pays (one value per column): tried on numbers
        # and ids it costs most of the write.
        wanted = [c for c in ("model", "job_id") if c in table.column_names]
        pq.write_table(table, tmp, use_dictionary=wanted or False)
    os.replace(tmp, path)


def _rows_in(part: Path) -> int:
    """Rows of a written part (a resume counts them)."""
    if part.suffix == ".csv":
        return int(pa_csv.read_csv(part).num_rows)
    return int(pq.read_metadata(part).num_rows)


class _Writer:
    """Writes files on one background thread, in the order given, while the next chunk
    is scored (Parquet writing releases the GIL); at most ``depth`` writes wait."""

    def __init__(self, depth: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-batch-write")
        self._pending: deque[Future[None]] = deque()
        self._depth = depth

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def close(self) -> None:
        """Wait for every write (raising the first failure) and stop the thread."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)


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
                "with the same model, input, --chunk-rows, --id-column and --format"
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
        "format": spec.format,
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
    check_spec(spec)
    started = time.perf_counter()
    files, kind = input_files(spec.input)
    dataset = dataset_of(files, kind)
    check_columns(loaded, dataset.schema, spec.id_column)
    total = dataset.count_rows()
    _claim_output(spec, loaded, files)
    rejects_dir = spec.rejects or spec.output.with_name(f"{spec.output.name}-rejects")
    result = BatchResult(
        job_id=spec.job_id, output=str(spec.output), rejects=str(rejects_dir), rows_total=total
    )
    wanted = list(dict.fromkeys([*loaded.signature.names, *filter(None, [spec.id_column])]))
    scorer = Scorer(loaded, spec)
    writer = _Writer()
    try:
        _score_all(dataset, spec, wanted, scorer, rejects_dir, result, writer, progress, sink)
    finally:
        writer.close()  # the chunks scored so far are on disk, even when stopping
    (spec.output / DONE_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    result.seconds = time.perf_counter() - started
    return result


def _score_all(
    dataset: ds.Dataset,
    spec: BatchSpec,
    wanted: list[str],
    scorer: Scorer,
    rejects_dir: Path,
    result: BatchResult,
    writer: _Writer,
    progress: Progress | None,
    sink: Sink | None,
) -> int:
    done = 0
    total = result.rows_total
    for index, batch in enumerate(chunks(dataset, spec.chunk_rows, wanted)):
        part = spec.output / f"part-{index:06d}.{spec.format}"
        reject_part = rejects_dir / f"part-{index:06d}.parquet"
        result.chunks += 1
        result.rows_in += batch.num_rows
        empty = spec.output / f".empty-{index:06d}"
        if part.exists() or empty.exists():
            result.chunks_skipped += 1
            result.rows_out += _rows_in(part) if part.exists() else 0
            if reject_part.exists():
                rejected = pq.read_table(reject_part, columns=["column"]).to_pandas()
                _count(result, rejected)
        else:
            table, rejected, valid = scorer.score(batch, done)
            if len(rejected):
                if spec.fail_on_reject:
                    first = rejected.iloc[0]
                    raise InvalidInputError(
                        f"row {first['row']} breaks the signature: {first['reason']}; "
                        f"{len(rejected)} row(s) of chunk {index} rejected, and "
                        "--fail-on-reject stops the job (drop it to write them to the "
                        "rejects instead)"
                    )
                rejects = pa.Table.from_pandas(rejected, preserve_index=False)
                writer.submit(_write, rejects, reject_part)  # before the part: in order
                _count(result, rejected)
            if table is None:  # every row rejected: the chunk is done, with no part
                writer.submit(Path.touch, empty)
            else:
                writer.submit(_write, table, part)
                result.rows_out += table.num_rows
                if sink is not None and valid is not None:
                    sink(valid, table)
        done += batch.num_rows
        if progress is not None:
            progress(done, total)
    return done


def _count(result: BatchResult, rejected: pd.DataFrame) -> None:
    result.rejected += len(rejected)
    for column in rejected["column"]:
        key = str(column) if column is not None else "(row)"
        result.reasons[key] = result.reasons.get(key, 0) + 1
