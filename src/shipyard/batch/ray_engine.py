"""The Ray engine: the same batch job on a Ray cluster's workers, through Ray Data.

The driver plans the job exactly as the local engine does (the same chunks, the same
part names, the same rejects), then Ray Data maps the plan's units onto a pool of actors,
one per worker CPU. Each actor holds the version, loaded once (sent by the driver), and
scores whole units with the local engine's :class:`UnitScorer`, so
the output is the one the local engine writes, and a job interrupted on one engine
resumes on the other.

Every node must see the input and the output at the same paths (a shared or network
filesystem; on a local Ray, the machine's own), and have ``shipyard`` installed. With no
``ray_address`` a local Ray is started for the job (all cores, or ``workers``) and stopped
after it; with one, the job joins that cluster (``auto`` for the one this machine
belongs to) and uses ``workers`` actors (default: every CPU of the cluster).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from shipyard import errors
from shipyard.batch.engine import (
    BatchResult,
    BatchSpec,
    Progress,
    SinkFactory,
    UnitScorer,
    _add,
    check_spec,
    default_workers,
    finish,
    prepare,
    release,
)
from shipyard.errors import InvalidInputError, ShipyardError
from shipyard.registry.loaded import LoadedModel


class _UnitActor:
    """A Ray actor scoring units of one job (constructed once per worker)."""

    def __init__(
        self,
        loaded: LoadedModel,
        spec: BatchSpec,
        rejects_dir: str,
        units: list[Any],
        sink: SinkFactory | None,
    ) -> None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")  # one core per actor
        self.units = units
        self.log = None if sink is None else sink(loaded, spec)
        self.scoring = UnitScorer(
            loaded, spec, Path(rejects_dir), sink=None if self.log is None else self.log.write
        )

    def __call__(self, batch: dict[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
        done = []
        for index in batch["unit"].tolist():
            try:
                step = self.scoring.score_unit(self.units[index])
                self.scoring.close_writes()  # a unit reported done is on disk
            except ShipyardError as exc:  # sent back whole: Ray would wrap it in its own
                done.append(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
                continue
            if self.log is not None:
                self.log.flush()
            done.append(json.dumps(step.to_dict()))
        return {"unit": batch["unit"], "result": np.asarray(done, dtype=object)}


_users = 0
"""Jobs of this process on a Ray it started (stopped when the last one ends)."""
_owned = False
_lock = threading.Lock()


def _join(ray: Any, spec: BatchSpec) -> None:
    """Join the cluster, or start a local Ray, unless this process is on one already."""
    global _users, _owned
    with _lock:
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,  # the process's logging stays its own
            }
            logging.getLogger("ray").setLevel(logging.WARNING)
            if spec.ray_address is None:
                options["num_cpus"] = spec.workers or default_workers()
            else:
                _reachable(spec.ray_address)
            try:
                ray.init(address=spec.ray_address, **options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InvalidInputError(
                    f"could not join the Ray cluster at {spec.ray_address!r}: {exc}; give "
                    "the address `ray start --head` printed, or leave --ray-address out to "
                    "start a local Ray"
                ) from None
            _owned = True
        _users += 1


def _leave(ray: Any) -> None:
    global _users, _owned
    with _lock:
        _users -= 1
        if _users == 0 and _owned:
            ray.shutdown()
            _owned = False


def _reachable(address: str) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (Ray would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "ray://...": Ray resolves it
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InvalidInputError(
            f"could not join the Ray cluster at {address!r}: nothing answers there "
            f"({exc.strerror or exc}); start it with `ray start --head`, give the address "
            "it printed, or leave --ray-address out to start a local Ray"
        ) from None


def run_ray(
    loaded: LoadedModel,
    spec: BatchSpec,
    progress: Progress | None = None,
    sink: SinkFactory | None = None,
) -> BatchResult:
    """Score ``spec.input`` with ``loaded`` on Ray (see the module docs). ``sink`` makes
    each actor's prediction-log writer."""
    started = time.perf_counter()
    check_spec(spec)  # Ray is installed
    import ray
    import ray.data  # its import sets up its logging: quieted below, once it has

    _join(ray, spec)  # before the output is claimed: a cluster not found leaves it empty
    try:
        units, result, rejects_dir = prepare(loaded, spec, unit_rows=4 * spec.chunk_rows)
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        workers = max(1, min(spec.workers or cpus, cpus, len(units) or 1))
        if units:
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            items = ray.data.from_items([{"unit": i} for i in range(len(units))])
            scored = items.map_batches(
                _UnitActor,
                batch_size=1,
                fn_constructor_args=(
                    loaded,
                    spec,
                    str(rejects_dir),
                    units,
                    sink,
                ),
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=1,
            )
            for row in scored.iter_rows():
                found = json.loads(row["result"])
                if "error" in found:  # an actor's own error, as the local engine raises it
                    kind = getattr(errors, found["error"], InvalidInputError)
                    raise kind(found["message"])
                _add(result, BatchResult(**found))
                if progress is not None:
                    progress(result.rows_in, result.rows_total)
    finally:
        release(spec)
        _leave(ray)
    return finish(spec, result, started)
