"""The data plane without HTTP: which models are served, their metadata, and inference
for both protocols. :mod:`shipyard.serving.app` maps HTTP onto it."""

from __future__ import annotations

from typing import Any

from shipyard import __version__
from shipyard.errors import InvalidInputError, ModelNotFoundError, VersionNotFoundError
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.schema import ColumnSpec
from shipyard.serving import protocols
from shipyard.serving.batching import AdaptiveBatcher
from shipyard.serving.served import ServedModel


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


class DataPlane:
    """The models one server process serves, by name."""

    def __init__(
        self,
        registry: Registry,
        targets: list[ModelURI],
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 1.0,
    ) -> None:
        self.registry = registry
        self.targets = targets
        self.models: dict[str, ServedModel] = {}
        self.batchers: dict[str, AdaptiveBatcher] = {}
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms

    def start(self) -> None:
        """Load and warm every model; the server is ready once this returns."""
        for uri in self.targets:
            served = self.models[uri.name] = ServedModel.load(self.registry, uri)
            self.batchers[uri.name] = AdaptiveBatcher(
                served.predict, max_batch_size=self.max_batch_size, max_wait_ms=self.max_wait_ms
            )

    async def stop(self) -> None:
        """Stop the batchers."""
        for batcher in self.batchers.values():
            await batcher.close()

    @property
    def ready(self) -> bool:
        return bool(self.models) and all(m.ready for m in self.models.values())

    def model(self, name: str, version: str | None = None) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            listed = ", ".join(sorted(self.models)) or "none"
            raise ModelNotFoundError(f"model {name!r} is not served here; served models: {listed}")
        if version is not None and version != str(served.version):
            raise VersionNotFoundError(
                f"model {name!r} is served at version {served.version}, not {version!r}"
            )
        return served

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
        served = self.model(name)
        frame = protocols.decode_v1(body, served.loaded.signature)
        identifier = protocols.request_id(body, rid)
        result = await self.batchers[name].predict(frame)
        return protocols.encode_v1(name, result, identifier)

    async def infer_v2(
        self, name: str, version: str | None, body: Any, rid: str | None
    ) -> dict[str, Any]:
        """V2 inference."""
        served = self.model(name, version)
        frame = protocols.decode_v2(body, served.loaded.signature)
        identifier = protocols.request_id(body, rid)
        result = await self.batchers[name].predict(frame)
        return protocols.encode_v2(name, result, identifier)
