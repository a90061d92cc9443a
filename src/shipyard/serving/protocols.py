"""Request and response bodies of the two protocols, as plain Python (no HTTP here).

- Plain JSON (``/v1/models/{name}/predict``): ``{"instances": [{col: value}, …]}`` or
  ``{"dataframe_split": {"columns": […], "data": [[…], …]}}``.
- Open Inference Protocol V2 (``/v2/models/{name}/infer``): one input tensor per column
  (what MLServer's ``content_type = "pd"`` sends), or, for a model whose inputs are all
  numeric, one ``[rows, columns]`` tensor in signature order (what generic clients send).

Every problem is an :class:`~shipyard.errors.InvalidInputError` naming the field.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.schema import Signature
from shipyard.schema.records import float_matrix, float_tensor
from shipyard.serving.served import Inputs, Prediction

V2_DATATYPES = frozenset(
    {"BOOL", "BYTES", "FP16", "FP32", "FP64"}
    | {f"{sign}INT{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)}
)


def _expect_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where} must be a JSON object; got {type(value).__name__}")
    return value


_PRINTABLE = re.compile(r"[\x20-\x7e]+")


def request_id(body: dict[str, Any], header: str | None = None) -> str:
    """The caller's request id (``X-Request-ID`` header, or V2's ``id``), or a new one."""
    given = header or body.get("id")
    if given is None:
        return f"{random.getrandbits(128):032x}"  # as unique as uuid4().hex, and cheaper
    if not isinstance(given, str) or not 0 < len(given) <= 128 or not _PRINTABLE.fullmatch(given):
        raise InvalidInputError(
            "id (or X-Request-ID) must be 1 to 128 printable ASCII characters; it is sent "
            "back as a header"
        )
    return given


def _validated(records: list[Any], signature: Signature, columns: Sequence[str] | None) -> Inputs:
    """Records as a float matrix when ``columns`` allows it and they are clean, else as the
    signature's DataFrame (or its error naming the column and row)."""
    if columns is not None:
        matrix = float_matrix(columns, records)
        if matrix is not None:
            return matrix
    return signature.validate(records)


# -- plain JSON -------------------------------------------------------------------------


def decode_v1(body: Any, signature: Signature, columns: Sequence[str] | None = None) -> Inputs:
    """Validated rows from a plain-JSON predict request. With ``columns`` (the model's
    all-float64 inputs), clean rows come back as a float matrix."""
    body = _expect_object(body, "the request body")
    unknown = sorted(set(body) - {"instances", "dataframe_split", "id"})
    if unknown:
        raise InvalidInputError(
            f"unknown field(s) {', '.join(map(repr, unknown))}; send 'instances' (a list of "
            "row objects) or 'dataframe_split' ({'columns': [...], 'data': [[...]]})"
        )
    if "instances" in body and "dataframe_split" in body:
        raise InvalidInputError("send either 'instances' or 'dataframe_split', not both")
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise InvalidInputError("instances must be a non-empty list of row objects")
        return _validated(rows, signature, columns)
    if "dataframe_split" in body:
        split = _expect_object(body["dataframe_split"], "dataframe_split")
        names, data = split.get("columns"), split.get("data")
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise InvalidInputError("dataframe_split.columns must be a list of column names")
        if not isinstance(data, list) or not data:
            raise InvalidInputError("dataframe_split.data must be a non-empty list of rows")
        records = []
        for index, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(names):
                raise InvalidInputError(
                    f"dataframe_split.data[{index}] must be a list of {len(names)} values, "
                    "one per column"
                )
            records.append(dict(zip(names, row, strict=True)))
        if len(set(names)) != len(names):
            raise InvalidInputError("dataframe_split.columns names a column twice")
        return _validated(records, signature, columns)
    raise InvalidInputError(
        "the body needs 'instances' (a list of row objects) or 'dataframe_split' "
        "({'columns': [...], 'data': [[...]]})"
    )


def _json_array(array: np.ndarray[Any, Any]) -> Any:
    """Numeric arrays go to orjson as they are (fast); labels become a list."""
    return array if array.dtype.kind in "biuf" else array.tolist()


def encode_v1(name: str, result: Prediction, rid: str, fallback: bool = False) -> dict[str, Any]:
    """The plain-JSON answer (numpy arrays are serialised by orjson)."""
    out: dict[str, Any] = {"predictions": _json_array(result.predictions)}
    if result.probabilities is not None:
        out["probabilities"] = result.probabilities
        out["classes"] = result.classes
    out.update({"model": name, "version": result.version, "request_id": rid})
    if fallback:
        out["fallback"] = True
    return out


# -- Open Inference Protocol V2 -----------------------------------------------------------


def _flatten(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInputError(f"{where}.data must be a list")
    if data and isinstance(data[0], list):
        try:
            return np.asarray(data, dtype=object).reshape(-1).tolist()
        except ValueError:
            raise InvalidInputError(f"{where}.data is a ragged nested list") from None
    return data


_EXPECTED = {"BOOL": "true/false", "BYTES": "strings", "INT": "integers", "FP": "numbers"}


def _family(datatype: str) -> str:
    if datatype in ("BOOL", "BYTES"):
        return datatype
    return "FP" if datatype.startswith("FP") else "INT"


def _typed_one(value: Any, family: str) -> bool:
    if value is None:  # a missing value: the signature decides whether it is allowed
        return True
    if family == "BOOL":
        return type(value) is bool
    if family == "BYTES":
        return isinstance(value, str)
    if family == "INT":
        return type(value) is int
    return type(value) in (int, float)


#: Python types each datatype family accepts (``None``: a missing value, which the
#: signature then allows or refuses).
_ACCEPTS = {
    "BOOL": frozenset({bool, type(None)}),
    "BYTES": frozenset({str, type(None)}),
    "INT": frozenset({int, type(None)}),
    "FP": frozenset({int, float, type(None)}),
}


def _typed(values: list[Any], datatype: str, where: str) -> list[Any]:
    """Check the values are what the datatype says; the signature checks them after."""
    family = _family(datatype)
    if {type(v) for v in values} <= _ACCEPTS[family]:
        return values
    for value in values:
        if not _typed_one(value, family):
            raise InvalidInputError(
                f"{where}: datatype {datatype} expects {_EXPECTED[family]}; got {value!r}"
            )
    return values


def _tensor(raw: Any, index: int) -> tuple[str, list[int], list[Any]]:
    where = f"inputs[{index}]"
    tensor = _expect_object(raw, where)
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"{where}.name must be a non-empty string")
    where = f"input {name!r}"
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise InvalidInputError(f"{where}: shape must be a list of non-negative integers")
    if datatype not in V2_DATATYPES:
        raise InvalidInputError(
            f"{where}: datatype {datatype!r} is not one of {', '.join(sorted(V2_DATATYPES))}"
        )
    values = _flatten(tensor.get("data"), where)
    if len(values) != math.prod(shape):
        raise InvalidInputError(
            f"{where}: shape {shape} holds {math.prod(shape)} values but data has {len(values)}"
        )
    return name, shape, _typed(values, datatype, where)


def decode_v2(body: Any, signature: Signature, columns: Sequence[str] | None = None) -> Inputs:
    """Validated rows from a V2 inference request (a float matrix when ``columns``, the
    model's all-float64 inputs, allows it; see :func:`decode_v1`)."""
    body = _expect_object(body, "the request body")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("inputs must be a non-empty list of tensors")
    tensors = [_tensor(raw, i) for i, raw in enumerate(inputs)]
    names = list(columns) if columns is not None else signature.names
    if len(tensors) == 1 and tensors[0][0] not in names:
        name, shape, values = tensors[0]
        numeric = columns is not None or all(
            spec.kind in ("float", "int", "bool") for spec in signature.inputs
        )
        if not numeric:
            raise InvalidInputError(
                f"input {name!r} is not a column of this model; send one input per column "
                f"({', '.join(names)})"
            )
        if len(shape) != 2 or shape[1] != len(names):
            raise InvalidInputError(
                f"input {name!r}: expected shape [rows, {len(names)}] with columns in the order "
                f"{', '.join(names)}; got {shape}"
            )
        width = len(names)
        if columns is not None:
            matrix = float_tensor(values, width)
            if matrix is not None:
                return matrix
        records = [
            dict(zip(names, values[start : start + width], strict=True))
            for start in range(0, len(values), width)
        ]
        return signature.validate(records)
    by_name: dict[str, list[Any]] = {}
    rows: int | None = None
    for name, shape, values in tensors:
        if name not in names:
            raise InvalidInputError(
                f"input {name!r} is not a column of this model; its columns are: {', '.join(names)}"
            )
        if name in by_name:
            raise InvalidInputError(f"input {name!r} is given twice")
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInputError(
                f"input {name!r}: a column tensor has shape [rows] or [rows, 1]; got {shape}"
            )
        if rows is not None and shape[0] != rows:
            raise InvalidInputError(
                f"input {name!r} has {shape[0]} rows but the others have {rows}"
            )
        rows = shape[0]
        by_name[name] = values
    assert rows is not None
    records = [{name: by_name[name][i] for name in by_name} for i in range(rows)]
    return _validated(records, signature, columns)


def _datatype(array: np.ndarray[Any, Any]) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{array.dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{array.dtype.itemsize * 8}"
    return "BYTES"  # labels: sent as strings


def encode_v2(name: str, result: Prediction, rid: str, fallback: bool = False) -> dict[str, Any]:
    """The V2 inference response: ``predict`` and, for classifiers, ``predict_proba``."""
    predictions = result.predictions
    outputs: list[dict[str, Any]] = [
        {
            "name": "predict",
            "shape": list(predictions.shape),
            "datatype": _datatype(predictions),
            "data": _json_array(predictions.reshape(-1))
            if predictions.dtype.kind in "biuf"
            else [str(v) for v in predictions.reshape(-1).tolist()],
        }
    ]
    if result.probabilities is not None:
        outputs.append(
            {
                "name": "predict_proba",
                "shape": list(result.probabilities.shape),
                "datatype": _datatype(result.probabilities),
                "data": result.probabilities.reshape(-1),
                "parameters": {"classes": [str(c) for c in result.classes or []]},
            }
        )
    out: dict[str, Any] = {
        "model_name": name,
        "model_version": "" if result.version is None else str(result.version),
        "id": rid,
        "outputs": outputs,
    }
    if fallback:
        out["parameters"] = {"fallback": True}
    return out
