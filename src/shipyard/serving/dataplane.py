"""The data plane without HTTP: which models are served, their metadata, and inference
for both protocols. :mod:`shipyard.serving.app` maps HTTP onto it."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shipyard import __version__
from shipyard.config import ModelServing
from shipyard.endpoints.policy import combine
from shipyard.endpoints.service import Endpoints, Revision
from shipyard.errors import (
    CircuitOpenError,
    EndpointNotFoundError,
    EndpointUnavailableError,
    InvalidInputError,
    ModelFailedError,
    ModelNotFoundError,
    ModelTimeoutError,
    ShipyardError,
    VersionNotFoundError,
)
from shipyard.predictions import PredictionLogWriter, Route
from shipyard.protection.service import ColumnPolicies
from shipyard.registry import Registry
from shipyard.registry.names import validate_model_name
from shipyard.registry.uri import ModelURI
from shipyard.schema import ColumnSpec
from shipyard.serving import protocols
from shipyard.serving.batching import AdaptiveBatcher, OnResult
from shipyard.serving.guard import CircuitBreaker, FixedAnswer, Guard, PredictAsync
from shipyard.serving.metrics import Metrics
from shipyard.serving.routing import (
    SHADOW_BACKLOG,
    Copy,
    EndpointRoute,
    Member,
    body_key,
    shadow_label,
    without_column,
)
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
        endpoints: Iterable[str] | None = None,
        on_demand_alias: str | None = None,
    ) -> None:
        self.prediction_log = prediction_log
        self.column_policies = ColumnPolicies.of(registry)
        """The column policies applied to the prediction log's inputs at each flush."""
        if prediction_log is not None and prediction_log.policies is None:
            prediction_log.policies = self.column_policies.live()
        self.on_demand_alias = on_demand_alias
        """When set, a request for a model not served yet loads ``models:/NAME@ALIAS`` (and
        follows the alias from then on): what ``shipyard server`` does."""
        self._loading: dict[str, asyncio.Future[Slot]] = {}
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
        chosen = list(endpoints or [])
        self.every_endpoint = chosen == ["*"]
        """Serve every endpoint in the store, including those created later."""
        self.endpoint_names = [] if self.every_endpoint else chosen
        self.routes: dict[str, EndpointRoute] = {}
        """Each served endpoint's current revision, by endpoint name."""
        self.pool: dict[str, ServedModel] = {}
        """Every version the routes use, loaded once, by pinned URI."""
        self.answering: dict[str, AdaptiveBatcher] = {}
        """Per version (pinned URI): the batcher of the answers it returns."""
        self.copying: dict[str, AdaptiveBatcher] = {}
        """Per version (pinned URI): the batcher of the copies it answers as a shadow."""
        self.endpoint_service = Endpoints(registry.db, registry.artifacts, registry.settings)
        self.broken: dict[str, tuple[int, str]] = {}
        """Endpoints whose current revision could not be loaded: revision and why (tried
        again only once the endpoint has another revision)."""
        self._slot_backups: set[str] = set()
        self.retire_grace_s = 1.0
        """How long a version no route uses stays open for requests already on their way."""

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
            identifiers, protocols, started, routes = zip(*tags, strict=True)
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
                routes=routes,
            )

        return write

    def start(self) -> None:
        """Load and warm every model (and fallback models); ready once this returns.
        Refuses to start when the prediction log is on and a column policy needs a key
        this process lacks."""
        if self.prediction_log is not None:
            self.column_policies.book().check()
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
        for name, revision in self._current_revisions().items():
            try:
                self.routes[name] = self._route(revision, self._load_versions(revision))
            except Exception as exc:
                if not self.every_endpoint:
                    raise  # an endpoint asked for by name: fail in one line, at once
                self._broken(revision, exc)  # one bad endpoint must not stop the others
        self._slot_backups = set(self.backups)
        settle_heap()

    async def stop(self) -> None:
        """Stop the batchers."""
        for batcher in [
            *(s.batcher for s in self.slots.values()),
            *self.backups.values(),
            *self.answering.values(),
            *self.copying.values(),
        ]:
            await batcher.close()

    @property
    def models(self) -> dict[str, ServedModel]:
        return {name: slot.served for name, slot in self.slots.items()}

    @property
    def batchers(self) -> dict[str, AdaptiveBatcher]:
        return {name: slot.batcher for name, slot in self.slots.items()}

    @property
    def ready(self) -> bool:
        if not self.slots and not self.routes and not self.every_endpoint:
            return False
        return all(s.served.ready for s in self.slots.values()) and all(
            r.ready for r in self.routes.values()
        )

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
            if self.every_endpoint or self.endpoint_names:
                try:
                    await self._follow_endpoints(loop)
                except Exception:  # keep serving what we have; try again next round
                    log.exception("could not follow the endpoints")
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
        await self.ensure(name)
        return await self._infer(self.slot(name), "v1", body, rid)

    async def infer_v2(
        self, name: str, version: str | None, body: Any, rid: str | None
    ) -> dict[str, Any]:
        """V2 inference."""
        await self.ensure(name)
        return await self._infer(self.slot(name, version), "v2", body, rid)

    async def ensure(self, name: str) -> None:
        """Load model ``name`` on demand if this plane does that and does not serve it."""
        if name not in self.slots and self.on_demand_alias is not None:
            await self.load_on_demand(name)

    async def load_on_demand(self, name: str) -> Slot:
        """Serve ``models:/NAME@ALIAS`` (``on_demand_alias``) from now on, loading it in
        the background; concurrent first requests share one load, and a failed load is
        not remembered (the next request tries again)."""
        found = self.slots.get(name)
        if found is not None:
            return found
        pending = self._loading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        assert self.on_demand_alias is not None
        loop = asyncio.get_running_loop()
        pending = self._loading[name] = loop.create_future()
        try:
            validate_model_name(name)
            uri = ModelURI(name=name, alias=self.on_demand_alias)
            served = await loop.run_in_executor(None, ServedModel.load, self.registry, uri)
            slot = self.slots[name] = self._slot(served)
            self.targets.append(uri)  # followed as the alias moves
            log.info("serving", extra={"uri": str(uri), "version": served.version})
            pending.set_result(slot)
            return slot
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning when unshared
            raise
        finally:
            del self._loading[name]

    async def _infer(self, slot: Slot, protocol: str, body: Any, rid: str | None) -> dict[str, Any]:
        """Decode with the protocol, predict, log, and encode the answer."""
        decode, encode = _CODECS[protocol]
        started = time.perf_counter()
        frame = decode(body, slot.served.loaded.signature, slot.served.columns)
        identifier = protocols.request_id(body, rid)
        result, used = await self._predict(
            slot.guard, slot.served, frame, identifier, protocol, started
        )
        return encode(slot.served.name, result, identifier, used)

    async def _predict(
        self,
        guard: Guard,
        served: ServedModel,
        frame: Any,
        identifier: str,
        protocol: str,
        started: float,
        route: Route | None = None,
    ) -> tuple[Prediction, bool]:
        """Predict through the guard. The model's batcher writes what it answers to the
        prediction log; an error, or a fallback's answer, is written here: under the
        version that failed, with why it failed, so its failures count even when the
        fallback answered."""
        where = (served, frame, identifier, protocol, started, route)
        try:
            result, problem = await guard.predict(frame, (identifier, protocol, started, route))
        except ShipyardError as exc:
            self._log(*where, version=served.version, error=exc)
            raise
        if problem is not None:
            self._log(*where, version=served.version, result=result, error=problem, fallback=True)
        return result, problem is not None

    def _log(
        self,
        served: ServedModel,
        frame: Inputs,
        identifier: str,
        protocol: str,
        started: float,
        route: Route | None,
        *,
        version: int | None,
        result: Prediction | None = None,
        error: ShipyardError | None = None,
        fallback: bool = False,
        columns: tuple[str, ...] | None = None,
    ) -> None:
        """Write one request's outcome the batcher does not write (an error, a fallback's
        answer, an ensemble's combined answer) to the prediction log, if there is one."""
        if self.prediction_log is None:
            return
        self.prediction_log.append(
            model=served.name,
            version=version,
            request_id=identifier,
            protocol=protocol,
            inputs=frame,
            columns=served.columns if columns is None else columns,
            predictions=None if result is None else result.predictions,
            probabilities=None if result is None else result.probabilities,
            latency_ms=(time.perf_counter() - started) * 1000,
            fallback=fallback,
            error=None if error is None else error.message,
            route=route,
        )

    # -- endpoints ---------------------------------------------------------------------

    def _current_revisions(self) -> dict[str, Revision]:
        """The current revision of every endpoint served here, by endpoint name."""
        if self.every_endpoint:
            return self.endpoint_service.current_revisions()
        if not self.endpoint_names:
            return {}
        found = self.endpoint_service.current_revisions(self.endpoint_names)
        missing = [name for name in self.endpoint_names if name not in found]
        if missing:
            raise EndpointNotFoundError(
                f"no endpoint named {missing[0]!r}; list them with: shipyard endpoints list"
            )
        return found

    def _load_versions(self, revision: Revision) -> dict[str, ServedModel]:
        """Every version ``revision`` uses, loaded (each once per process)."""
        policy = revision.policy
        uris = list(policy.models)
        target = parse_fallback(policy.fallback)
        if isinstance(target, ModelURI):
            uris.append(str(target))
        loaded = {}
        for uri in uris:
            served = self.pool.get(uri)
            if served is None:
                served = ServedModel.load(self.registry, uri)
            loaded[uri] = served
        return loaded

    def _version_batcher(self, served: ServedModel, shadow: bool) -> AdaptiveBatcher:
        key = str(served.uri)
        batchers = self.copying if shadow else self.answering
        found = batchers.get(key)
        if found is None:
            label = f"{served.name}" if not shadow else f"{served.name}:shadow"
            found = batchers[key] = self._batcher(
                served,
                served.name,
                on_batch=self.metrics.batch_rows.labels(label).observe,
                on_queue=self.metrics.queue_depth.labels(label).set,
                on_result=None if self.prediction_log is None else self._logger(served),
                alone=None if shadow else self._alone,
            )
            self.metrics.load_seconds.labels(served.name, str(served.version)).set(
                served.load_seconds
            )
        return found

    def _route(self, revision: Revision, loaded: dict[str, ServedModel]) -> EndpointRoute:
        """A ready route for ``revision`` (its versions in ``loaded``): checked whole before
        anything joins the pool, so a route that cannot serve changes nothing."""
        policy = revision.policy
        name, number = revision.endpoint, revision.revision
        members_served = [loaded[v.model] for v in policy.variants]
        if policy.kind == "ensemble":
            kinds = {tuple(m.classes) if m.classes is not None else None for m in members_served}
            if len(kinds) != 1:
                raise InvalidInputError(
                    f"endpoint {name!r} revision {number}: the ensemble's members predict "
                    "different classes; ensemble versions of one classification task"
                )
            no_probabilities = [
                str(m.uri)
                for m in members_served
                if m.classes is not None and not _has_probabilities(m)
            ]
            if no_probabilities and policy.method != "vote":
                raise InvalidInputError(
                    f"endpoint {name!r} revision {number}: {', '.join(no_probabilities)} "
                    f"give(s) no probabilities to average ({policy.method}); use method "
                    "vote, or members with predict_proba"
                )
        for uri, served in loaded.items():
            self.pool.setdefault(uri, served)
        fallback: Any = None
        target = parse_fallback(policy.fallback)
        if isinstance(target, FixedAnswer):
            fallback = target
        elif isinstance(target, ModelURI):
            key = str(target)
            if key not in self.backups:
                self.backups[key] = self._batcher(self.pool[key], self.pool[key].name)
            fallback = self.backups[key].predict
        timeout = self.timeout_s
        ensemble = policy.kind == "ensemble"

        def guard(batcher: AdaptiveBatcher, with_fallback: bool, shadow: bool = False) -> Guard:
            return Guard(
                batcher.predict,
                timeout=timeout,
                breaker=CircuitBreaker(self.breaker_failures, self.breaker_reset_s),
                fallback=fallback if with_fallback else None,
                on_fallback=self.metrics.fallbacks.labels(name).inc,
                log_level=logging.DEBUG if shadow else logging.WARNING,
            )

        members = tuple(
            Member(
                variant=v,
                served=self.pool[v.model],
                guard=guard(self._version_batcher(self.pool[v.model], False), not ensemble),
                route=Route(name, number, v.name, ensemble),
            )
            for v in policy.variants
        )

        def copy(label: str, uri: str) -> Copy:
            served = self.pool[uri]
            batcher = self._version_batcher(served, True)
            return Copy(
                label,
                served,
                batcher,
                guard(batcher, False, shadow=True),
                Route(name, number, label, True),
            )

        shadows = tuple(copy(shadow_label(uri), uri) for uri in policy.shadows)
        mirrors = {v.name: copy(v.name, v.model) for v in policy.variants} if policy.mirror else {}
        return EndpointRoute(
            name=name,
            revision=number,
            policy=policy,
            members=members,
            shadows=shadows,
            mirrors=mirrors,
            uris=frozenset(loaded),
            ensemble_route=Route(name, number, "ensemble") if ensemble else None,
        )

    async def _follow_endpoints(self, loop: asyncio.AbstractEventLoop) -> None:
        """Swap in each endpoint's new current revision (loading its new versions in the
        background first); retire versions no route uses any more."""
        current = await loop.run_in_executor(None, self._current_revisions)
        changed = False
        for name, revision in current.items():
            serving = self.routes.get(name)
            if serving is not None and serving.revision == revision.revision:
                continue
            if self.broken.get(name, (None,))[0] == revision.revision:
                continue  # failed already: wait for another revision
            try:
                loaded = await loop.run_in_executor(None, self._load_versions, revision)
                self.routes[name] = self._route(revision, loaded)
            except Exception as exc:  # keep the revision serving now, if any
                self._broken(revision, exc)
                continue
            self.broken.pop(name, None)
            changed = True
            log.info(
                "endpoint revision",
                extra={
                    "endpoint": name,
                    "from_revision": None if serving is None else serving.revision,
                    "to_revision": revision.revision,
                },
            )
        for name in [n for n in self.routes if n not in current]:
            del self.routes[name]  # the endpoint is gone (only when serving every endpoint)
            changed = True
        for name in [n for n in self.broken if n not in current]:
            del self.broken[name]
        if changed:
            settle_heap()
            self._retire(loop)

    def _broken(self, revision: Revision, exc: Exception) -> None:
        message = exc.message if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
        self.broken[revision.endpoint] = (revision.revision, message)
        log.error(
            "could not load an endpoint revision; it is not served until it changes",
            extra={"endpoint": revision.endpoint, "revision": revision.revision, "error": message},
        )

    def _retire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the batchers of versions no route uses (fallbacks included), once the
        requests already on their way to them (answers, shadows' copies) have had
        ``retire_grace_s`` to get there, and have finished."""
        used = set().union(*(r.uris for r in self.routes.values())) if self.routes else set()
        retired = []
        for batchers in (self.answering, self.copying):
            retired += [batchers.pop(u) for u in list(batchers) if u not in used]
        unused = set(self.backups) - used - self._slot_backups
        retired += [self.backups.pop(u) for u in unused]
        for batcher in retired:
            loop.create_task(self._retire_later(batcher))
        for uri in [u for u in self.pool if u not in used]:
            del self.pool[uri]

    async def _retire_later(self, batcher: AdaptiveBatcher) -> None:
        await asyncio.sleep(self.retire_grace_s)
        await batcher.drain_and_close()

    def route(self, name: str) -> EndpointRoute:
        found = self.routes.get(name)
        if found is None and name in self.broken:
            revision, why = self.broken[name]
            raise EndpointUnavailableError(
                f"endpoint {name!r} revision {revision} could not be loaded ({why}); fix it "
                f"with: shipyard endpoints update {name} (or rollback {name})"
            )
        if found is None:
            listed = ", ".join(sorted(self.routes)) or "none"
            raise EndpointNotFoundError(
                f"endpoint {name!r} is not served here; served endpoints: {listed}"
            )
        return found

    async def predict_endpoint(
        self,
        name: str,
        protocol: str,
        body: Any,
        rid: str | None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> dict[str, Any]:
        """Inference through an endpoint: route by its policy, answer, hand copies to its
        shadows, and stamp the endpoint, revision, version and variant on the answer."""
        route = self.route(name)
        decode, encode = _CODECS[protocol]
        started = time.perf_counter()
        identifier = protocols.request_id(body, rid) if isinstance(body, dict) else None
        policy = route.policy
        key = None
        if policy.sticky is not None:
            if policy.sticky.header is not None:
                wanted = policy.sticky.header.lower().encode("latin-1")
                key = next((v.decode("latin-1") for k, v in headers or () if k == wanted), None)
            else:
                assert policy.sticky.column is not None
                key = body_key(protocol, body, policy.sticky.column)
        if policy.kind == "ensemble":
            return await self._ensemble(route, protocol, body, identifier, started)
        member = route.choose(key)
        served = member.served
        original = body  # copies decode it for their own signature when it differs
        column = policy.sticky.column if policy.sticky is not None else None
        if column is not None and column not in served.loaded.signature.names:
            body = without_column(protocol, body, column)
        frame = decode(body, served.loaded.signature, served.columns)
        identifier = identifier or protocols.request_id(body, rid)
        result, used = await self._predict(
            member.guard, served, frame, identifier, protocol, started, member.route
        )
        self._copy(route, served, frame, original, identifier, protocol, member, column)
        out = encode(served.name, result, identifier, used)
        return _stamped(protocol, out, route, member.variant.name)

    async def _ensemble(
        self, route: EndpointRoute, protocol: str, body: Any, identifier: str | None, started: float
    ) -> dict[str, Any]:
        decode, encode = _CODECS[protocol]
        frames: dict[tuple[int, Any], Inputs] = {}
        for member in route.members:
            served = member.served
            shape = (id(served.loaded.signature), served.columns)
            if shape not in frames:
                frames[shape] = decode(body, served.loaded.signature, served.columns)
        identifier = identifier or protocols.request_id(body, None)
        first = route.members[0].served
        frame = frames[(id(first.loaded.signature), first.columns)]
        calls = [
            self._predict(  # each member's answer, or failure, is logged as its own
                m.guard,
                m.served,
                frames[(id(m.served.loaded.signature), m.served.columns)],
                identifier,
                protocol,
                started,
                m.route,
            )
            for m in route.members
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        problem: ShipyardError | None = None
        if failed is None:
            answers = [o[0] for o in outcomes if not isinstance(o, BaseException)]
            predictions, probabilities = combine(
                route.policy.method or "mean",
                [a.predictions for a in answers],
                [a.probabilities for a in answers],
                first.classes,
                [m.variant.weight for m in route.members],
            )
            result = Prediction(predictions, probabilities, first.classes, None)
        else:
            target = parse_fallback(route.policy.fallback)  # the members have none
            if target is None or not isinstance(
                failed, ModelFailedError | ModelTimeoutError | CircuitOpenError
            ):
                if isinstance(failed, ShipyardError):
                    where = (first, frame, identifier, protocol, started, route.ensemble_route)
                    self._log(*where, version=None, error=failed)
                raise failed
            fallback = (
                target if isinstance(target, FixedAnswer) else self.backups[str(target)].predict
            )
            result, problem = await fallback(frame), failed
        self._log(
            first,
            frame,
            identifier,
            protocol,
            started,
            route.ensemble_route,
            version=None,
            result=result,
            error=problem,
            fallback=problem is not None,
        )
        fell_back = problem is not None
        self._copy(route, first, frame, body, identifier, protocol)
        out = encode(route.name, result, identifier, fell_back)
        stamped = _stamped(protocol, out, route, "ensemble")
        members = [
            {"variant": m.variant.name, "model": m.served.name, "version": m.served.version}
            for m in route.members
        ]
        if protocol == "v1":
            stamped["members"] = members
        else:
            stamped["parameters"]["members"] = members
        return stamped

    def _copy(
        self,
        route: EndpointRoute,
        decoded_for: ServedModel,
        frame: Inputs,
        body: Any,
        identifier: str,
        protocol: str,
        member: Member | None = None,
        key_column: str | None = None,
    ) -> None:
        """Hand copies of an answered request to the route's shadows, without waiting for
        them (a shadow that is slow or fails never touches the answer). A shadow backed
        up beyond its backlog misses the copy, counted."""
        copies = route.copies_for(member)
        if not copies:
            return
        loop = asyncio.get_running_loop()
        for copy in copies:
            if copy.batcher.closed or copy.batcher.inflight >= SHADOW_BACKLOG:
                self.metrics.shadows_dropped.labels(route.name).inc()
                continue
            task = self._shadow(copy, decoded_for, frame, body, identifier, protocol, key_column)
            loop.create_task(task)

    async def _shadow(
        self,
        copy: Copy,
        decoded_for: ServedModel,
        frame: Inputs,
        body: Any,
        identifier: str,
        protocol: str,
        key_column: str | None = None,
    ) -> None:
        started = time.perf_counter()
        served = copy.served
        if copy.batcher.closed:  # retired since the copy was made: it misses this one
            self.metrics.shadows_dropped.labels(copy.route.endpoint).inc()
            return
        try:
            if not _same_inputs(served, decoded_for):  # decode for this one's signature
                try:
                    decode = _CODECS[protocol][0]
                    if key_column is not None and key_column not in served.loaded.signature.names:
                        body = without_column(protocol, body, key_column)
                    frame = decode(body, served.loaded.signature, served.columns)
                except ShipyardError as exc:
                    where = (served, frame, identifier, protocol, started, copy.route)
                    self._log(
                        *where, version=served.version, error=exc, columns=decoded_for.columns
                    )
                    return
            await self._predict(
                copy.guard, served, frame, identifier, protocol, started, copy.route
            )
        except ShipyardError:
            pass  # logged by _predict with the copy's route
        except Exception:  # a shadow never takes anything down
            log.exception("a shadow failed", extra={"endpoint": copy.route.endpoint})


def _has_probabilities(served: ServedModel) -> bool:
    output = served.loaded.signature.output
    return output is not None and bool(output.probabilities)


def _same_inputs(a: ServedModel, b: ServedModel) -> bool:
    """Whether rows decoded for ``b`` suit ``a`` as they are."""
    return a is b or (
        a.columns == b.columns and a.loaded.signature.inputs == b.loaded.signature.inputs
    )


def _stamped(
    protocol: str, out: dict[str, Any], route: EndpointRoute, variant: str
) -> dict[str, Any]:
    """An endpoint's answer: which endpoint, revision and variant gave it."""
    if protocol == "v1":
        out["endpoint"] = route.name
        out["revision"] = route.revision
        out["variant"] = variant
        return out
    parameters = out.setdefault("parameters", {})
    parameters.update({"endpoint": route.name, "revision": route.revision, "variant": variant})
    return out
