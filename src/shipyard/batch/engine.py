"""The local batch engine: score a Parquet or CSV input of any size in chunks, with
bounded memory, resumably, on all cores.

The input (a file, a directory or a glob of them) is planned before anything is read:
file by file in name order, each Parquet row group (each CSV file) cut into chunks of
``chunk_rows`` rows, so the chunks of an input are the same on every run, for any
number of workers and on any engine. Chunk ``i`` is validated against the version's
signature, scored, and written to ``OUTPUT/part-<i>.parquet`` under a temporary name
renamed when complete; ``OUTPUT/_job.json`` names the job and its input. A run with the
same job id over the same output skips the chunks already written (without reading
them), so an interrupted job (Ctrl-C, ``kill -9``) picks up where it stopped and ends
with the output an uninterrupted run writes.

Workers (threads: reading, writing and the numeric libraries' scoring release the GIL)
take units of consecutive chunks in turn; each reads its unit with a little read-ahead
and hands the files to write to background writers, so reading, scoring and writing
overlap. Memory stays a few chunks per worker whatever the input's size.

Rows that break the signature go to ``REJECTS/part-<i>.parquet`` with their row number
(from 0 over the whole input), their id and the reason; the other rows of the chunk are
scored. They are found by halving: a chunk that fails validation is split in two and each
half validated again, down to the single rows that fail, so a chunk with a few bad rows
costs a few extra validations, not one per row.

A job's column policy (``BatchSpec.column_policy``, the scored model's) is applied to each
chunk's output and rejects before they are written: the id column when it is protected,
and the reasons of rejected rows, which never quote a protected value.
"""

from __future__ import annotations

import fcntl
import glob
import importlib
import importlib.util
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import IO, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from shipyard.errors import ConflictError, InvalidInputError, SignatureError
from shipyard.protection.policy import WITHHELD, Protector
from shipyard.registry.loaded import LoadedModel

#: Rows per chunk unless told otherwise.
CHUNK_ROWS = 65_536
JOB_FILE = "_job.json"
LOCK_FILE = ".lock"
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
    workers: int | None = None
    """Workers scoring at once (default: all cores); the output is the same for any."""
    engine: str = "local"
    """``local`` (this machine) or ``ray`` (a Ray cluster's workers)."""
    ray_address: str | None = None
    """The Ray cluster to use (default: a local Ray started for the job)."""
    column_policy: Protector | None = field(default=None, repr=False)
    """The scored model's column policy, with its keys (:func:`~shipyard.batch.jobs.
    start_job` sets it): applied to the output, the rejects and the prediction log."""

    @property
    def rejects_dir(self) -> Path:
        return self.rejects or self.output.with_name(f"{self.output.name}-rejects")


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


class ChunkLog(Protocol):
    """Where a worker of another process (the Ray engine's) sends scored chunks."""

    def write(self, valid: pd.DataFrame, table: pa.Table) -> None: ...

    def flush(self) -> None:
        """Make what was written durable (a worker may stop for good after it)."""

    def close(self) -> None: ...


SinkFactory = Callable[["LoadedModel", "BatchSpec"], ChunkLog]
"""Makes a worker's :class:`ChunkLog`; it is sent to the workers, so it must pickle."""


#: What a job id may be: it names the job's record and is written into its output.
JOB_ID = r"^[A-Za-z0-9._-]{1,64}$"


def check_spec(spec: BatchSpec) -> None:
    """Refuse a job whose options are not valid, naming the option."""
    if spec.chunk_rows < 1:
        raise InvalidInputError(f"--chunk-rows must be 1 or more; got {spec.chunk_rows}")
    if spec.workers is not None and spec.workers < 1:
        raise InvalidInputError(f"--workers must be 1 or more; got {spec.workers}")
    if spec.engine not in ENGINES:
        raise InvalidInputError(f"--engine {spec.engine!r} is not one of: {', '.join(ENGINES)}")
    if spec.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise InvalidInputError(
            "--engine ray needs Ray: pip install 'shipyard[ray]' (or leave --engine out "
            "to score on this machine)"
        )
    if spec.ray_address is not None and spec.engine != "ray":
        raise InvalidInputError("--ray-address needs --engine ray")
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
        if not files:
            raise InvalidInputError(
                f"--input {spec!r} matches no file; check the pattern and the directory"
            )
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


def _format(kind: str, text: tuple[str, ...] = ()) -> str | ds.FileFormat:
    if kind != "csv" or not text:
        return kind
    types = {name: pa.string() for name in text}
    return ds.CsvFileFormat(convert_options=pa_csv.ConvertOptions(column_types=types))


def dataset_of(files: list[str], kind: str, text: tuple[str, ...] = ()) -> ds.Dataset:
    try:
        return ds.dataset(files, format=_format(kind, text))
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


@dataclass(frozen=True)
class Unit:
    """Consecutive chunks of one input file: what a worker reads and scores in one go.

    A job's chunks follow from the input alone (a Parquet row group is cut into chunks
    of ``chunk_rows`` rows, a CSV file likewise), so every engine and every number of
    workers scores the same chunks into the same parts; units only share them out."""

    file: str
    kind: str
    """``parquet`` or ``csv``."""
    row_groups: tuple[int, ...] | None
    """The Parquet row groups read; ``None``: the whole (CSV) file."""
    first_chunk: int
    first_row: int
    """Number, over the whole input, of the unit's first row."""
    sizes: tuple[int, ...]
    """Rows of each of the unit's chunks."""

    @property
    def rows(self) -> int:
        return sum(self.sizes)


def _pieces(rows: int, chunk_rows: int) -> list[int]:
    return [min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows)]


def plan(dataset: ds.Dataset, chunk_rows: int, *, unit_rows: int | None = None) -> list[Unit]:
    """The input's chunks, file by file in name order, grouped into units of about
    ``unit_rows`` rows (default: a whole file each). Parquet files are planned from
    their footers, without reading data; CSV files are counted."""
    units: list[Unit] = []
    chunk, row = 0, 0
    for fragment in sorted(dataset.get_fragments(), key=lambda f: str(f.path)):
        parquet = isinstance(fragment, ds.ParquetFileFragment)
        if parquet:
            groups = [(g.id, g.num_rows) for g in fragment.row_groups if g.num_rows]
        else:
            groups = [(-1, fragment.count_rows())]
        # Consecutive row groups, cut where a unit has enough rows.
        runs: list[list[tuple[int, int]]] = [[]]
        for group in groups:
            if runs[-1] and unit_rows is not None and sum(n for _, n in runs[-1]) >= unit_rows:
                runs.append([])
            runs[-1].append(group)
        for run in runs:
            sizes = tuple(size for _, n in run for size in _pieces(n, chunk_rows))
            if not sizes:
                continue
            ids = tuple(g for g, _ in run) if parquet else None
            kind = "parquet" if parquet else "csv"
            units.append(Unit(str(fragment.path), kind, ids, chunk, row, sizes))
            chunk += len(sizes)
            row += sum(sizes)
    return units


def read_unit(
    unit: Unit, columns: list[str], *, text: tuple[str, ...] = (), readahead: int = 2
) -> Iterator[pa.RecordBatch]:
    """The unit's chunks, of exactly the planned sizes (a reader may cut a row group
    where it likes: the pieces are put back together or cut again here). CSV columns
    in ``text`` are read as text, as written (an id ``00042`` stays ``00042``)."""
    fragment = next(iter(ds.dataset(unit.file, format=_format(unit.kind, text)).get_fragments()))
    options: dict[str, Any] = {}
    if isinstance(fragment, ds.ParquetFileFragment):
        assert unit.row_groups is not None
        fragment = fragment.subset(row_group_ids=list(unit.row_groups))
        # No pre-buffering of whole row groups: memory stays a few chunks whatever
        # the input's size.
        options["fragment_scan_options"] = ds.ParquetFragmentScanOptions(pre_buffer=False)
    scan = fragment.to_batches(
        batch_size=max(unit.sizes),
        columns=columns,
        batch_readahead=readahead,
        fragment_readahead=1,
        **options,
    )
    sizes = iter(unit.sizes)
    want = next(sizes)
    held: list[pa.RecordBatch] = []
    have = 0
    for batch in scan:
        while batch.num_rows:
            take = min(want - have, batch.num_rows)
            held.append(batch if take == batch.num_rows else batch.slice(0, take))
            have += take
            batch = batch.slice(take)
            if have == want:
                yield held[0] if len(held) == 1 else pa.concat_batches(held)
                held, have = [], 0
                want = next(sizes, 0)
                if not want:
                    return
    if want:
        raise InvalidInputError(
            f"{unit.file} changed while the job read it (fewer rows than planned); "
            "score a copy that stays put"
        )


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
        self._deciding = threading.Lock()
        classes = loaded.classes if loaded.runtime.has_proba else None
        self.classes = None if classes is None else [str(c) for c in classes]

    def _matrix(self, batch: pa.RecordBatch) -> np.ndarray[Any, Any] | None:
        """The chunk's inputs as a finite float64 matrix, or ``None`` when any value
        needs the full check (a null, a non-number type, ±inf or NaN)."""
        if not self.numeric:
            return None
        # Column-major: each column is one contiguous copy, and it is the layout the
        # linear kernels and scikit-learn's own code take without another copy.
        matrix = np.empty((batch.num_rows, len(self.names)), dtype=np.float64, order="F")
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
        self, batch: pa.RecordBatch, first_row: int, *, inputs: bool = False, text: bool = False
    ) -> tuple[pa.Table | None, pd.DataFrame | None, pd.DataFrame | None]:
        """Scored rows as an Arrow table, the rejected rows (``row``, id, ``column``,
        ``reason``; ``None`` when there are none), and, with ``inputs``, the valid rows'
        inputs as validated (``None`` when none is)."""
        spec = self.spec
        matrix = self._matrix(batch)
        if matrix is not None:  # every value a finite float: nothing to reject
            labels, probabilities = self._outputs(matrix)
            rows = np.arange(first_row, first_row + batch.num_rows)
            ids = batch.column(spec.id_column) if spec.id_column is not None else None
            fast = pd.DataFrame(matrix, columns=self.names, copy=False) if inputs else None
            return self._table(rows, ids, labels, probabilities), None, fast
        frame = batch.to_pandas()
        rejects: Rejects = {}
        if text:  # CSV: a column with one word among numbers was read as text
            self._numbers(frame, rejects)
        candidates = frame[self.names].drop(index=list(rejects))
        valid = _valid_rows(self.loaded, candidates, rejects) if len(candidates) else None
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
        found = rejected if len(rejected) else None
        if valid is None:
            return None, found, None
        good = ~bad
        ids = None if spec.id_column is None else pa.array(frame[spec.id_column].to_numpy()[good])
        predictions = np.asarray(self.loaded.runtime.predict(valid))
        probabilities = None
        if self.classes is not None:
            probabilities = np.asarray(self.loaded.runtime.predict_proba(valid), dtype=np.float64)
        table = self._table(first_row + np.flatnonzero(good), ids, predictions, probabilities)
        return table, found, valid

    def _numbers(self, frame: pd.DataFrame, rejects: Rejects) -> None:
        """Numeric columns of a text input read as text, made numbers again in place;
        the rows whose value is no number are added to ``rejects``."""
        for spec in self.loaded.signature.inputs:
            column = frame[spec.name]
            if spec.kind not in ("float", "int") or not pd.api.types.is_string_dtype(column):
                continue
            numbers = pd.to_numeric(column, errors="coerce")
            wrong = numbers.isna() & column.notna() & (column.astype(str).str.strip() != "")
            for position in np.flatnonzero(wrong.to_numpy()):
                rejects.setdefault(
                    int(position),
                    (
                        spec.name,
                        f"column {spec.name!r}: expected {spec.kind}, got "
                        f"{column.iloc[position]!r}",
                    ),
                )
            frame[spec.name] = numbers

    def _outputs(
        self, matrix: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Labels and probabilities of a finite matrix: from the compiled kernel when it
        scored a sample of the first chunk at least twice as fast as the runtime, else
        from the runtime (kernels are built for small requests; on large chunks the
        library's own code, which also runs outside Python's lock, usually wins)."""
        if self.kernel is not None and self._use_kernel is None:
            with self._deciding:  # one worker decides, alone; the others wait for it
                if self._use_kernel is None:
                    self._use_kernel = self._kernel_wins(matrix[:4096])
        if self.kernel is not None and self._use_kernel:
            out = self.kernel(matrix)
            if out is not None:
                return out[0], out[1]
        return self._runtime(matrix)

    def _kernel_wins(self, sample: np.ndarray[Any, Any]) -> bool:
        assert self.kernel is not None
        compiled, runtime = float("inf"), float("inf")
        for _ in range(2):  # the best of two: the first call may pay for warming up
            started = time.perf_counter()
            if self.kernel(sample) is None:
                return False
            middle = time.perf_counter()
            self._runtime(sample)
            ended = time.perf_counter()
            compiled, runtime = min(compiled, middle - started), min(runtime, ended - middle)
        return 2 * compiled <= runtime

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


FORMATS = ("parquet", "csv")
#: The engines a job may run on, by key: where their ``run`` function is (``run(loaded,
#: spec, progress, sink factory)``, imported when a job uses it).
ENGINES = {"local": "shipyard.batch.engine:run_with", "ray": "shipyard.batch.ray_engine:run_ray"}


def engine(name: str) -> Callable[..., BatchResult]:
    """The ``run`` function of the engine ``name``."""
    module, _, function = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def run_with(
    loaded: LoadedModel,
    spec: BatchSpec,
    progress: Progress | None = None,
    sink: SinkFactory | None = None,
) -> BatchResult:
    """:func:`run_local` with its chunk log made by ``sink`` (the engines' common form)."""
    return run_local(loaded, spec, progress, log=None if sink is None else sink(loaded, spec))


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


def written(spec: BatchSpec) -> BatchResult:
    """What the parts and rejects on disk hold (of a run that stopped part way)."""
    done = BatchResult(job_id=spec.job_id)
    for part in spec.output.glob(f"part-*.{spec.format}"):
        done.rows_out += _rows_in(part)
        done.chunks += 1
    for part in spec.rejects_dir.glob("part-*.parquet"):
        done.rejected += int(pq.read_metadata(part).num_rows)
    done.rows_in = done.rows_out + done.rejected
    return done


def _rows_in(part: Path) -> int:
    """Rows of a written part (a resume counts them)."""
    if part.suffix == ".csv":
        return int(pa_csv.read_csv(part).num_rows)
    return int(pq.read_metadata(part).num_rows)


class _Writer:
    """Writes chunks' files on background threads while the next chunks are scored
    (Parquet writing releases the GIL); at most ``depth`` writes wait, and the first
    failure is raised by the next :meth:`submit` or by :meth:`close`."""

    def __init__(self, threads: int = 1, depth: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shipyard-write")
        self._room = threading.BoundedSemaphore(depth)
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._failure: BaseException | None = None

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._room.acquire()
        self._raise()
        future = self._pool.submit(fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
            if self._failure is None and not future.cancelled():
                self._failure = future.exception()
        self._room.release()

    def _raise(self) -> None:
        if self._failure is not None:
            raise self._failure

    def wait(self) -> None:
        """Wait for the writes submitted so far (raising the first failure)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception()
        self._raise()

    def close(self) -> None:
        """Wait for every write (raising the first failure) and stop the threads."""
        self._pool.shutdown(wait=True)
        self._raise()


def _write_chunk(
    rejects: pa.Table | None, reject_part: Path, table: pa.Table | None, part: Path, empty: Path
) -> None:
    """A chunk's files: its rejects first, then its part (or, when every row was
    rejected, an empty marker), so a chunk whose part exists is whole."""
    if rejects is not None:
        _write(rejects, reject_part)
    if table is None:
        empty.touch()
    else:
        _write(table, part)


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


_locks: dict[str, IO[bytes]] = {}
_locks_lock = threading.Lock()


def _claim_output(spec: BatchSpec, loaded: LoadedModel, files: list[str]) -> None:
    """Check the output, mark it as this job's, and hold its lock until :func:`release`:
    one run of a job at a time, in any process."""
    if not check_output(spec, loaded, files):
        spec.output.mkdir(parents=True, exist_ok=True)
        (spec.output / JOB_FILE).write_text(json.dumps(_job_file(spec, loaded, files), indent=2))
    handle = (spec.output / LOCK_FILE).open("wb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConflictError(
            f"job {spec.job_id} is being scored already (another run holds {spec.output}); "
            f"wait for it to end, or stop it with: shipyard jobs cancel {spec.job_id}"
        ) from None
    with _locks_lock:
        _locks[str(spec.output)] = handle


def release(spec: BatchSpec) -> None:
    """Let another run of the job at ``spec.output`` start."""
    with _locks_lock:
        handle = _locks.pop(str(spec.output), None)
    if handle is not None:
        handle.close()  # closing drops the lock


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Stopped(Exception):
    """Another worker failed or the job was stopped: this one stops too."""


class UnitScorer:
    """Scores units of one job: the chunks of a unit not written yet are read, scored
    and written (rejects, then the part); those written already are counted. Safe to
    use from several threads at once; :meth:`score_unit` works in any process that sees
    the input and output (the Ray engine's workers call it)."""

    def __init__(
        self,
        loaded: LoadedModel,
        spec: BatchSpec,
        rejects_dir: Path,
        *,
        sink: Sink | None = None,
        writers: int = 1,
    ) -> None:
        self.spec = spec
        self.rejects_dir = rejects_dir
        self.scorer = Scorer(loaded, spec)
        self.columns = list(
            dict.fromkeys([*loaded.signature.names, *filter(None, [spec.id_column])])
        )
        self.sink = sink
        self.text = (spec.id_column,) if spec.id_column is not None else ()
        self.writer = _Writer(threads=writers, depth=2 * writers)
        self.stop = threading.Event()
        self._sink_lock = threading.Lock()

    def paths(self, index: int) -> tuple[Path, Path, Path]:
        """A chunk's part, rejects part and all-rejected marker."""
        spec = self.spec
        return (
            spec.output / f"part-{index:06d}.{spec.format}",
            self.rejects_dir / f"part-{index:06d}.parquet",
            spec.output / f".empty-{index:06d}",
        )

    def score_unit(
        self, unit: Unit, done: Callable[[BatchResult], None] | None = None
    ) -> BatchResult:
        """Score ``unit``; ``done`` is called after each chunk with what it did (it may
        raise to stop). Returns what the whole unit did."""
        total = BatchResult(job_id=self.spec.job_id)
        written = [self._written(unit.first_chunk + k) for k in range(len(unit.sizes))]
        if all(w is not None for w in written):  # nothing to read
            for w in written:
                assert w is not None
                total = _add(total, w)
                if done is not None:
                    done(w)
            return total
        row = unit.first_row
        for k, batch in enumerate(read_unit(unit, self.columns, text=self.text)):
            if self.stop.is_set():
                raise _Stopped
            step = written[k] or self._chunk(unit.first_chunk + k, batch, row, unit.kind)
            row += batch.num_rows
            total = _add(total, step)
            if done is not None:
                done(step)
        return total

    def _written(self, index: int) -> BatchResult | None:
        """What an earlier run wrote of chunk ``index``, or ``None`` if it did not."""
        part, reject_part, empty = self.paths(index)
        if not (part.exists() or empty.exists()):
            return None
        step = BatchResult(job_id=self.spec.job_id, chunks=1, chunks_skipped=1)
        step.rows_out = _rows_in(part) if part.exists() else 0
        if reject_part.exists():
            _count(step, pq.read_table(reject_part, columns=["column"]).to_pandas())
        step.rows_in = step.rows_out + step.rejected
        return step

    def _chunk(self, index: int, batch: pa.RecordBatch, first_row: int, kind: str) -> BatchResult:
        spec = self.spec
        step = BatchResult(job_id=spec.job_id, chunks=1, rows_in=batch.num_rows)
        table, rejected, valid = self.scorer.score(
            batch, first_row, inputs=self.sink is not None, text=kind == "csv"
        )
        rejects = None
        policy = spec.column_policy
        if rejected is not None and policy:
            rejected = _withheld(policy, rejected, batch, first_row)
        if table is not None and policy:
            table = policy.table(table)
        if rejected is not None:
            if spec.fail_on_reject:
                first = rejected.iloc[0]
                raise InvalidInputError(
                    f"row {first['row']} breaks the signature: {first['reason']}; "
                    f"{len(rejected)} row(s) of chunk {index} rejected, and "
                    "--fail-on-reject stops the job (drop it to write them to the "
                    "rejects instead)"
                )
            rejects = pa.Table.from_pandas(rejected, preserve_index=False)
            if policy:
                rejects = policy.table(rejects)
            _count(step, rejected)
        part, reject_part, empty = self.paths(index)
        self.writer.submit(_write_chunk, rejects, reject_part, table, part, empty)
        if table is not None:
            step.rows_out = table.num_rows
            if self.sink is not None and valid is not None:
                with self._sink_lock:
                    self.sink(valid, table)
        return step

    def close_writes(self) -> None:
        """Wait for the chunks scored so far to be on disk; raise the first write that
        failed."""
        self.writer.wait()

    def close(self) -> None:
        """Wait for every write; raise the first that failed."""
        self.writer.close()


def _withheld(
    policy: Protector, rejected: pd.DataFrame, batch: pa.RecordBatch, first_row: int
) -> pd.DataFrame:
    """Reject reasons that quote no protected value: a reason about a protected column
    says only that its value broke the signature; any other has the row's protected
    values replaced by :data:`~shipyard.protection.policy.WITHHELD`."""
    mine = [name for name in batch.schema.names if policy.action(name) is not None]
    if not mine:
        return rejected
    positions = pa.array(rejected["row"].to_numpy() - first_row, pa.int64())
    values = {name: batch.column(name).take(positions).to_pylist() for name in mine}
    reasons: list[str | None] = []
    for i, (column, reason) in enumerate(zip(rejected["column"], rejected["reason"], strict=True)):
        if column is not None and policy.action(str(column)) is not None:
            reasons.append(
                f"column {column!r}: its value breaks the signature ({WITHHELD}: the column "
                "has a column policy)"
            )
        else:
            reasons.append(policy.scrub(reason, [values[name][i] for name in mine]))
    out = rejected.copy()
    out["reason"] = pd.Series(reasons, index=out.index, dtype=object)
    return out


def _add(total: BatchResult, step: BatchResult) -> BatchResult:
    total.rows_in += step.rows_in
    total.rows_out += step.rows_out
    total.rejected += step.rejected
    total.chunks += step.chunks
    total.chunks_skipped += step.chunks_skipped
    for column, n in step.reasons.items():
        total.reasons[column] = total.reasons.get(column, 0) + n
    return total


def prepare(
    loaded: LoadedModel, spec: BatchSpec, *, unit_rows: int | None = None
) -> tuple[list[Unit], BatchResult, Path]:
    """Check a job, mark its output as the job's and plan its units; the result to
    fill and where the rejects go."""
    check_spec(spec)
    files, kind = input_files(spec.input)
    dataset = dataset_of(files, kind, (spec.id_column,) if spec.id_column else ())
    check_columns(loaded, dataset.schema, spec.id_column)
    units = plan(dataset, spec.chunk_rows, unit_rows=unit_rows)
    _claim_output(spec, loaded, files)
    rejects_dir = spec.rejects_dir
    result = BatchResult(
        job_id=spec.job_id,
        output=str(spec.output),
        rejects=str(rejects_dir),
        rows_total=sum(u.rows for u in units),
    )
    return units, result, rejects_dir


def finish(spec: BatchSpec, result: BatchResult, started: float) -> BatchResult:
    """Mark the output complete (``_SUCCESS`` holds the result)."""
    result.seconds = time.perf_counter() - started
    (spec.output / DONE_FILE).write_text(json.dumps(result.to_dict(), indent=2))
    return result


def run_local(
    loaded: LoadedModel,
    spec: BatchSpec,
    progress: Progress | None = None,
    sink: Sink | None = None,
    *,
    log: ChunkLog | None = None,
) -> BatchResult:
    """Score ``spec.input`` with ``loaded`` in this process (see the module docs), on
    ``spec.workers`` threads (default: all cores). Each worker reads, scores and
    writes whole units; reading and writing release the GIL, and so does the scoring
    of the numeric libraries models are built with. A ``log`` gets the scored chunks
    and is closed before the job counts as done (so its time includes the log's)."""
    started = time.perf_counter()
    workers = spec.workers or default_workers()
    # One worker reads each file in one go (read-ahead never stops); several share
    # units of a row group or so (a chunk at least), small enough that they finish
    # together.
    unit_rows = None if workers == 1 else spec.chunk_rows
    try:  # the log, written as chunks are scored, is closed before the job is done
        units, result, rejects_dir = prepare(loaded, spec, unit_rows=unit_rows)
        workers = max(1, min(workers, len(units)))
        if log is not None:
            sink = log.write
        scoring = UnitScorer(loaded, spec, rejects_dir, sink=sink, writers=workers)
        lock = threading.Lock()

        def done(step: BatchResult) -> None:
            with lock:
                _add(result, step)
                if progress is not None:
                    progress(result.rows_in, result.rows_total)

        try:
            # The workers are the parallelism: a BLAS thread pool per worker on top of
            # them only contends for the same cores (a chunk's products are small).
            with threadpool_limits(limits=1, user_api="blas"):
                if workers == 1:
                    for unit in units:
                        scoring.score_unit(unit, done)
                else:
                    _share(units, scoring, done, workers)
        finally:
            try:
                scoring.close()  # the chunks scored so far are on disk, even when stopping
            finally:
                release(spec)
    finally:
        if log is not None:
            log.close()
    return finish(spec, result, started)


def _share(
    units: list[Unit], scoring: UnitScorer, done: Callable[[BatchResult], None], workers: int
) -> None:
    """Score ``units`` on ``workers`` threads, each taking the next unit when it is
    free; the first failure (or Ctrl-C) stops them all after their current chunk."""
    queue: SimpleQueue[Unit] = SimpleQueue()
    for unit in units:
        queue.put(unit)

    def work() -> None:
        while not scoring.stop.is_set():
            try:
                unit = queue.get_nowait()
            except Empty:
                return
            scoring.score_unit(unit, done)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-score") as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        try:
            failed = None
            for future in as_completed(futures):
                error = future.exception()
                if error is not None and not isinstance(error, _Stopped):
                    failed = failed or error
                    scoring.stop.set()
            if failed is not None:
                raise failed
        except BaseException:
            scoring.stop.set()  # Ctrl-C: the workers finish their chunk and stop
            raise


def _count(result: BatchResult, rejected: pd.DataFrame) -> None:
    result.rejected += len(rejected)
    for column in rejected["column"]:
        key = str(column) if column is not None else "(row)"
        result.reasons[key] = result.reasons.get(key, 0) + 1
