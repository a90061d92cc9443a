"""The data plane without HTTP: which models are served, their metadata, and inference
for both protocols. :mod:`shipyard.serving.app` maps HTTP onto it."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shipyard import __version__
from shipyard.config import ModelServing
from shipyard.errors import (
    InvalidInputError,
    ModelNotFoundError,
    ShipyardError,
    VersionNotFoundError,
)
from shipyard.predictions import PredictionLogWriter
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.schema import ColumnSpec
from shipyard.serving import protocols
from shipyard.serving.batching import AdaptiveBatcher, OnResult
from shipyard.serving.guard import CircuitBreaker, FixedAnswer, Guard, PredictAsync
from shipyard.serving.metrics import Metrics
from shipyard.serving.served import Inputs, Prediction, ServedModel

log = logging.getLogger("shipyard.serving")


def settle_heap() -> None:
    """Collect, then exempt every object alive now (the loaded models, the libraries) from
    future garbage collections. Without it, a full collection walks millions of long-lived
    objects every few seconds under load and stalls requests for a hundred milliseconds
    or more; with it, collections only see what requests allocate."""
    gc.collect()
    gc.freeze()


#: Each protocol's request decoder and response encoder.
_CODECS = {
    "v1": (protocols.decode_v1, protocols.encode_v1),
    "v2": (protocols.decode_v2, protocols.encode_v2),
}


def _v2_datatype(spec: ColumnSpec) -> str:
    if spec.kind == "float":
        return "FP32" if spec.dtype == "float32" else "FP64"
    if spec.kind == "int":
        return "INT64"
    if spec.kind == "bool":
        return "BOOL"
    return "BYTES"


def parse_targets(text: str) -> list[ModelURI]:
    """``models:/a@champion,models:/b/3`` -> URIs; each model name at most once."""
    uris = [ModelURI.parse(part.strip()) for part in text.split(",") if part.strip()]
    if not uris:
        raise InvalidInputError("nothing to serve; give a model URI such as models:/NAME@champion")
    names = [uri.name for uri in uris]
    if len(set(names)) != len(names):
        raise InvalidInputError("each model can be served once; give each name one URI")
    return uris


@dataclass(frozen=True)
class Slot:
    """What answers for one model name: a loaded version, the batcher in front of it and
    the guard around both. Swapped as a whole, so a request never mixes two versions."""

    served: ServedModel
    batcher: AdaptiveBatcher
    guard: Guard


def parse_fallback(text: str | None) -> ModelURI | FixedAnswer | None:
    """``models:/NAME/3`` -> a URI; any other text must be a JSON value answered as is."""
    if text is None or not text.strip():
        return None
    if text.startswith("models:/"):
        return ModelURI.parse(text)
    try:
        return FixedAnswer(orjson.loads(text))
    except orjson.JSONDecodeError:
        raise InvalidInputError(
            f"fallback {text!r} is neither a model URI nor a JSON value; use e.g. "
            "models:/NAME/3, 0 or '\"unknown\"'"
        ) from None


class DataPlane:
    """The models one server process serves, by name, following their aliases."""

    def __init__(
        self,
        registry: Registry,
        targets: list[ModelURI],
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
        metrics: Metrics | None = None,
        timeout_s: float = 30.0,
        fallback: ModelURI | FixedAnswer | None = None,
        breaker_failures: int = 5,
        breaker_reset_s: float = 30.0,
        prediction_log: PredictionLogWriter | None = None,
        options: Mapping[str, ModelServing] | None = None,
    ) -> None:
        self.prediction_log = prediction_log
        self.timeout_s = timeout_s
        self.fallback_target = fallback
        self.breaker_failures = breaker_failures
        self.breaker_reset_s = breaker_reset_s
        self.metrics = metrics or Metrics()
        self.registry = registry
        self.targets = targets
        self.slots: dict[str, Slot] = {}
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.options = dict(options or {})
        served = {uri.name for uri in targets}
        unknown = sorted(set(self.options) - served)
        if unknown:
            raise InvalidInputError(
                f"options given for model(s) {', '.join(map(repr, unknown))}, which are not "
                f"served here; served models: {', '.join(sorted(served))}"
            )
        self.fallbacks: dict[str, PredictAsync] = {}
        """What answers for each model when it fails: a fixed answer or a backup's batcher."""
        self.backups: dict[str, AdaptiveBatcher] = {}
        """Batchers of fallback model versions, by URI (shared by the models naming it)."""
        self.waiting: int | None = None
        """Inference requests received and not yet answered, when the HTTP layer counts
        them (``shipyard serve``'s protocol does); ``None``: unknown."""
        self.started = 0  # inference requests whose body was read
        self.finished = 0  # … and answered (with a prediction or an error)

    def _option(self, name: str, key: str, default: Any) -> Any:
        chosen = self.options.get(name)
        value = None if chosen is None else getattr(chosen, key)
        return default if value is None else value

    def _timeout(self, name: str) -> float:
        timeout_ms = self._option(name, "request_timeout_ms", None)
        return self.timeout_s if timeout_ms is None else float(timeout_ms) / 1000

    def _fallback_target(self, name: str) -> ModelURI | FixedAnswer | None:
        text = self._option(name, "fallback", None)
        return self.fallback_target if text is None else parse_fallback(text)

    def _batcher(self, served: ServedModel, name: str, **options: Any) -> AdaptiveBatcher:
        return AdaptiveBatcher(
            served.predict,
            max_batch_size=self._option(name, "max_batch_size", self.max_batch_size),
            max_wait_ms=self._option(name, "max_wait_ms", self.max_wait_ms),
            concat=served.concat,
            inline=served.inline,
            **options,
        )

    def _slot(self, served: ServedModel) -> Slot:
        name = served.name
        rows = self.metrics.batch_rows.labels(name)
        queue = self.metrics.queue_depth.labels(name)
        batcher = self._batcher(
            served,
            name,
            on_batch=rows.observe,
            on_queue=queue.set,
            on_result=None if self.prediction_log is None else self._logger(served),
            alone=self._alone,
        )
        self.metrics.load_seconds.labels(name, str(served.version)).set(served.load_seconds)
        guard = Guard(
            batcher.predict,
            timeout=self._timeout(name),
            breaker=CircuitBreaker(self.breaker_failures, self.breaker_reset_s),
            fallback=self.fallbacks.get(name),
            on_fallback=self.metrics.fallbacks.labels(name).inc,
        )
        return Slot(served, batcher, guard)

    def _alone(self) -> bool:
        """Whether the request being predicted is the only one the server holds."""
        return self.waiting is not None and self.waiting <= 1

    def _logger(self, served: ServedModel) -> OnResult:
        """What writes each successful call of ``served`` to the prediction log, as one
        entry for all the requests it answered."""
        log_ = self.prediction_log
        assert log_ is not None
        name, columns = served.name, served.columns

        def write(frame: Inputs, result: Prediction, tags: list[Any], rows: list[int]) -> None:
            now = time.perf_counter()
            identifiers, protocols, started = zip(*tags, strict=True)
            log_.append_batch(
                model=name,
                version=result.version,
                request_ids=identifiers,
                protocols=protocols,
                latencies_ms=[(now - t) * 1000 for t in started],
                rows=rows,
                inputs=frame,
                predictions=result.predictions,
                probabilities=result.probabilities,
                columns=columns,
            )

        return write

    def start(self) -> None:
        """Load and warm every model (and fallback models); ready once this returns."""
        for uri in self.targets:
            target = self._fallback_target(uri.name)
            if isinstance(target, FixedAnswer):
                self.fallbacks[uri.name] = target
            elif isinstance(target, ModelURI):
                key = str(target)
                if key not in self.backups:
                    backup = ServedModel.load(self.registry, target)
                    self.backups[key] = self._batcher(backup, uri.name)
                self.fallbacks[uri.name] = self.backups[key].predict
        for uri in self.targets:
            self.slots[uri.name] = self._slot(ServedModel.load(self.registry, uri))
        settle_heap()

    async def stop(self) -> None:
        """Stop the batchers."""
        for batcher in [*(s.batcher for s in self.slots.values()), *self.backups.values()]:
            await batcher.close()

    @property
    def models(self) -> dict[str, ServedModel]:
        return {name: slot.served for name, slot in self.slots.items()}

    @property
    def batchers(self) -> dict[str, AdaptiveBatcher]:
        return {name: slot.batcher for name, slot in self.slots.items()}

    @property
    def ready(self) -> bool:
        return bool(self.slots) and all(s.served.ready for s in self.slots.values())

    def slot(self, name: str, version: str | None = None) -> Slot:
        found = self.slots.get(name)
        if found is None:
            listed = ", ".join(sorted(self.slots)) or "none"
            raise ModelNotFoundError(f"model {name!r} is not served here; served models: {listed}")
        if version is not None and version != str(found.served.version):
            raise VersionNotFoundError(
                f"model {name!r} is served at version {found.served.version}, not {version!r}"
            )
        return found

    def model(self, name: str, version: str | None = None) -> ServedModel:
        return self.slot(name, version).served

    # -- following aliases --------------------------------------------------------------

    async def follow(self, interval: float) -> None:
        """Every ``interval`` seconds, check where each alias points; when it moved, load
        and warm the new version in the background, then swap it in at once. Requests
        already handed to the old version finish on it."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            for uri in self.targets:
                if uri.version is not None:
                    continue  # pinned to a version: nothing to follow
                try:
                    await self._follow_one(loop, uri)
                except Exception:  # keep serving what we have; try again next round
                    log.exception("could not follow", extra={"uri": str(uri)})

    async def _follow_one(self, loop: asyncio.AbstractEventLoop, uri: ModelURI) -> None:
        target = await loop.run_in_executor(None, self.registry.resolve, uri)
        current = self.slots[uri.name]
        if target.version == current.served.version:
            return
        served = await loop.run_in_executor(None, ServedModel.load, self.registry, target.uri)
        served.uri = uri
        self.slots[uri.name] = self._slot(served)
        settle_heap()  # the new version's objects join the exempt ones
        log.info(
            "alias moved",
            extra={
                "uri": str(uri),
                "from_version": current.served.version,
                "to_version": served.version,
            },
        )
        loop.create_task(current.batcher.drain_and_close())

    # -- metadata ----------------------------------------------------------------------

    def server_metadata(self) -> dict[str, Any]:
        return {"name": "shipyard", "version": __version__, "extensions": []}

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        served = self.model(name, version)
        signature = served.loaded.signature
        outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
        if signature.output is not None:
            outputs[0]["datatype"] = {
                "float64": "FP64",
                "float32": "FP32",
                "int64": "INT64",
                "int32": "INT32",
                "bool": "BOOL",
            }.get(signature.output.dtype, "BYTES")
            if signature.output.probabilities:
                outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, -1]})
        return {
            "name": name,
            "versions": [str(served.version)],
            "platform": served.loaded.version.flavor,
            "inputs": [
                {"name": spec.name, "datatype": _v2_datatype(spec), "shape": [-1]}
                for spec in signature.inputs
            ],
            "outputs": outputs,
            "parameters": {"content_type": "pd", "uri": str(served.uri)},
        }

    # -- inference ---------------------------------------------------------------------

    async def predict_v1(self, name: str, body: Any, rid: str | None) -> dict[str, Any]:
        """Plain-JSON predict."""
        return await self._infer(self.slot(name), "v1", body, rid)

    async def infer_v2(
        self, name: str, version: str | None, body: Any, rid: str | None
    ) -> dict[str, Any]:
        """V2 inference."""
        return await self._infer(self.slot(name, version), "v2", body, rid)

    async def _infer(self, slot: Slot, protocol: str, body: Any, rid: str | None) -> dict[str, Any]:
        """Decode with the protocol, predict, log, and encode the answer."""
        decode, encode = _CODECS[protocol]
        started = time.perf_counter()
        frame = decode(body, slot.served.loaded.signature, slot.served.columns)
        identifier = protocols.request_id(body, rid)
        result, used = await self._predict(slot, frame, identifier, protocol, started)
        return encode(slot.served.name, result, identifier, used)

    async def _predict(
        self, slot: Slot, frame: Any, identifier: str, protocol: str, started: float
    ) -> tuple[Prediction, bool]:
        """Predict through the guard. The model's batcher writes what it answers to the
        prediction log; an error, or a fallback's answer, is written here."""
        log_ = self.prediction_log
        try:
            result, used = await slot.guard.predict(frame, (identifier, protocol, started))
        except ShipyardError as exc:
            if log_ is not None:
                log_.append(
                    model=slot.served.name,
                    version=slot.served.version,
                    request_id=identifier,
                    protocol=protocol,
                    inputs=frame,
                    columns=slot.served.columns,
                    predictions=None,
                    probabilities=None,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    error=exc.message,
                )
            raise
        if used and log_ is not None:
            log_.append(
                model=slot.served.name,
                version=result.version,
                request_id=identifier,
                protocol=protocol,
                inputs=frame,
                columns=slot.served.columns,
                predictions=result.predictions,
                probabilities=result.probabilities,
                latency_ms=(time.perf_counter() - started) * 1000,
                fallback=True,
            )
        return result, used
