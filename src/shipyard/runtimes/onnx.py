"""ONNX graphs, run with onnxruntime on the CPU.

Inputs: a graph with one input gets the whole frame as one 2-D tensor, columns in
signature order, cast to the input's element type; a graph with several inputs gets one
``[rows, 1]`` tensor per column, matched by name (what skl2onnx makes of a DataFrame).

Outputs: the first is the prediction (flattened to one value per row); a second, when
present, is the class probabilities, either a plain ``[rows, classes]`` tensor or
skl2onnx's ZipMap (a list of ``{class: probability}`` dicts). Class labels come from the
saved metadata, else from the graph's ZipMap or classifier node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, SignatureError, UnsupportedModelError
from shipyard.runtimes.base import JSONDict, Runtime, mro_roots, plain_labels, require

_FILE = "model.onnx"
_PROVIDERS = ["CPUExecutionProvider"]
#: numpy dtypes of onnxruntime's tensor element types.
_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
#: Attributes of ai.onnx.ml nodes (ZipMap first) that list class labels.
_CLASS_ATTRIBUTES = ("classlabels_int64s", "classlabels_strings", "classlabels_ints")


def _onnx() -> Any:
    return require("onnx", "onnx")


def _graph_classes(model: Any) -> list[Any] | None:
    """Class labels a ZipMap or classifier node of the graph declares, if any."""
    onnx = _onnx()
    nodes = sorted(model.graph.node, key=lambda node: node.op_type != "ZipMap")
    for node in nodes:
        for attribute in node.attribute:
            if attribute.name in _CLASS_ATTRIBUTES:
                values = onnx.helper.get_attribute_value(attribute)
                return [v.decode() if isinstance(v, bytes) else v for v in values]
    return None


class OnnxRuntime(Runtime):
    """An ``onnx.ModelProto``, run by one onnxruntime session made when it is wrapped."""

    flavor = "onnx"
    packages = ("onnx", "onnxruntime", "numpy")
    file_suffixes = (".onnx",)

    def __init__(self, model: Any, *, classes: Sequence[Any] | None = None) -> None:
        super().__init__(model)
        ort = require("onnxruntime", "onnx")
        try:
            self._session = ort.InferenceSession(model.SerializeToString(), providers=_PROVIDERS)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise UnsupportedModelError(f"onnxruntime cannot run this graph: {exc}") from exc
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        if not outputs:
            raise UnsupportedModelError("the ONNX graph has no outputs")
        unknown = [i.type for i in inputs if i.type not in _DTYPES]
        if unknown:
            raise UnsupportedModelError(
                f"the ONNX graph has inputs of types shipyard cannot feed: {', '.join(unknown)}"
            )
        self._inputs: list[tuple[str, Any]] = [(i.name, _DTYPES[i.type]) for i in inputs]
        self._outputs: list[str] = [o.name for o in outputs]
        self._zipmap = len(outputs) > 1 and outputs[1].type.startswith("seq(map(")
        self._classes: list[Any] | None = None
        if len(outputs) > 1:  # only a graph that gives probabilities has classes
            self._classes = plain_labels(classes) if classes is not None else _graph_classes(model)

    @classmethod
    def handles(cls, model: object) -> bool:
        if "onnx" not in mro_roots(model):
            return False
        return isinstance(model, _onnx().ModelProto)

    # -- persistence -----------------------------------------------------------------

    def save(self, path: Path) -> JSONDict:
        _onnx().save_model(self.model, str(path / _FILE))
        return {"file": _FILE, "format": "onnx", "classes": self._classes}

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        model = _onnx().load_model(str(path / str(metadata.get("file", _FILE))))
        return cls(model, classes=metadata.get("classes"))

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Read an ``.onnx`` file. Option ``classes`` labels the probability columns."""
        unknown = sorted(set(options) - {"classes"})
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) for the onnx flavor: {', '.join(unknown)}; expected classes"
            )
        if path.suffix.lower() not in cls.file_suffixes:
            raise UnsupportedModelError(f"{path.name}: the onnx flavor reads .onnx files")
        onnx = _onnx()
        try:
            model = onnx.load_model(str(path))
        except Exception as exc:  # protobuf's DecodeError and onnx's own errors
            raise UnsupportedModelError(f"{path.name} is not a readable ONNX model: {exc}") from exc
        return cls(model, classes=options.get("classes"))

    # -- inference -------------------------------------------------------------------

    def _feeds(self, data: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        if len(self._inputs) == 1:
            name, dtype = self._inputs[0]
            return {name: data.to_numpy(dtype=dtype)}
        feeds: dict[str, np.ndarray[Any, Any]] = {}
        for name, dtype in self._inputs:
            if name not in data.columns:
                raise SignatureError(
                    f"the ONNX graph takes an input named {name!r} but the data has no such "
                    f"column (columns: {', '.join(map(str, data.columns))})",
                    column=name,
                )
            feeds[name] = data[name].to_numpy(dtype=dtype).reshape(-1, 1)
        return feeds

    def _run(self, output: str, data: pd.DataFrame) -> Any:
        return self._session.run([output], self._feeds(data))[0]

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        out = np.asarray(self._run(self._outputs[0], data))
        return out.reshape(-1) if out.size == len(data) else out

    @property
    def has_proba(self) -> bool:
        return len(self._outputs) > 1

    @property
    def classes(self) -> list[Any] | None:
        return None if self._classes is None else list(self._classes)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if not self.has_proba:
            return super().predict_proba(data)
        out = self._run(self._outputs[1], data)
        if not self._zipmap:
            return np.asarray(out)
        # ZipMap: one {class: probability} dict per row.
        classes = self._classes if self._classes is not None else list(out[0]) if out else []
        table = [[row[c] for c in classes] for row in out]
        return np.array(table, dtype=np.float64).reshape(len(out), len(classes))
