"""XGBoost models: the scikit-learn wrappers and raw Boosters, in XGBoost's own UBJ format.

A wrapper (``XGBClassifier``, ``XGBRegressor``, ``XGBRanker`` …) is rebuilt as the same
class on load. A raw :class:`xgboost.Booster` is called according to its objective, so
that ``predict`` always means labels or values: ``binary:logistic``, ``multi:softprob``
and ``multi:softmax`` boosters predict class indices and give probabilities, exactly
as the matching ``XGBClassifier`` would; any other objective predicts the raw output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, UnsupportedModelError
from shipyard.runtimes.base import JSONDict, Runtime, mro_roots, plain_labels, require

_FILE = "model.ubj"
_BOOSTER = "Booster"
#: Raw-booster objectives that classify, with what their output is.
_PROBABILITY_OBJECTIVES = ("binary:logistic", "multi:softprob")
_LABEL_OBJECTIVES = ("multi:softmax",)


def _xgb() -> Any:
    return require("xgboost", "xgboost")


def _wrapper_name(model: object) -> str:
    """Name of the public xgboost class ``model`` is (or derives from)."""
    xgb = _xgb()
    for cls in type(model).__mro__:
        if cls.__module__.split(".", 1)[0] == "xgboost" and getattr(xgb, cls.__name__, None) is cls:
            return str(cls.__name__)
    raise UnsupportedModelError(f"{type(model).__qualname__} derives from no public xgboost class")


def _booster_objective(booster: Any) -> tuple[str, int]:
    """A booster's objective name and number of classes (0 unless multi-class)."""
    learner = json.loads(booster.save_config())["learner"]
    num_class = int(learner["learner_model_param"].get("num_class", 0))
    return str(learner["objective"]["name"]), num_class


def _build(xgb: Any, name: str, file: Path, missing: float | None) -> Any:
    """Read ``file`` into a raw Booster or into the xgboost wrapper class called ``name``."""
    if name == _BOOSTER:
        booster = xgb.Booster()
        booster.load_model(file)
        return booster
    wrapper = getattr(xgb, name, None)
    if not (isinstance(wrapper, type) and issubclass(wrapper, xgb.XGBModel)):
        raise UnsupportedModelError(
            f"{name!r} is not an xgboost model class; use Booster or a scikit-learn wrapper "
            "such as XGBClassifier, XGBRegressor or XGBRanker"
        )
    model = wrapper() if missing is None else wrapper(missing=missing)
    model.load_model(file)
    return model


class XGBoostRuntime(Runtime):
    """XGBoost scikit-learn wrappers and raw ``xgboost.Booster`` objects."""

    flavor = "xgboost"
    packages = ("xgboost", "numpy", "scipy")
    file_suffixes = (".ubj", ".json")

    def __init__(self, model: Any, *, classes: Sequence[Any] | None = None) -> None:
        super().__init__(model)
        xgb = _xgb()
        self._booster = isinstance(model, xgb.Booster)
        self._objective = ""
        found: list[Any] | None = None
        if self._booster:
            self._objective, num_class = _booster_objective(model)
            if self._objective in _PROBABILITY_OBJECTIVES + _LABEL_OBJECTIVES:
                found = list(range(max(num_class, 2)))
        elif isinstance(model, xgb.XGBClassifier):
            if not model.__sklearn_is_fitted__():
                raise UnsupportedModelError("the XGBoost model is not fitted; call fit() first")
            found = plain_labels(np.asarray(model.classes_))
        if classes is not None and (found is None or len(classes) != len(found)):
            raise InvalidInputError(
                f"this XGBoost model has classes {found}; cannot label them with {list(classes)}"
            )
        self._classes = found if classes is None else plain_labels(classes)

    @classmethod
    def handles(cls, model: object) -> bool:
        if "xgboost" not in mro_roots(model):
            return False
        xgb = _xgb()  # already imported: the model's own class comes from it
        return isinstance(model, xgb.XGBModel | xgb.Booster)

    # -- persistence -----------------------------------------------------------------

    def save(self, path: Path) -> JSONDict:
        if not self._booster and not self.model.__sklearn_is_fitted__():
            raise UnsupportedModelError("the XGBoost model is not fitted; call fit() first")
        self.model.save_model(path / _FILE)
        metadata: JSONDict = {
            "file": _FILE,
            "format": "ubj",
            "xgboost_class": _BOOSTER if self._booster else _wrapper_name(self.model),
            "classes": self._classes,
        }
        # The one constructor argument that changes predictions and is not in the file.
        missing = None if self._booster else self.model.missing
        if isinstance(missing, int | float) and not math.isnan(missing):
            metadata["missing"] = float(missing)
        return metadata

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        xgb = _xgb()
        file = path / str(metadata.get("file", _FILE))
        model = _build(
            xgb, str(metadata.get("xgboost_class", _BOOSTER)), file, metadata.get("missing")
        )
        return cls(model, classes=metadata.get("classes"))

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Read a model saved with ``save_model`` as ``.json`` or ``.ubj``.

        Options: ``xgboost_class`` (``"XGBClassifier"`` … ; a raw ``Booster`` by default)
        and ``classes`` (labels for the class indices a classifier predicts).
        """
        unknown = sorted(set(options) - {"xgboost_class", "classes"})
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) for the xgboost flavor: {', '.join(unknown)}; "
                "expected xgboost_class or classes"
            )
        if path.suffix.lower() not in cls.file_suffixes:
            raise UnsupportedModelError(
                f"{path.name}: the xgboost flavor reads files written by save_model() "
                "with a .json or .ubj suffix"
            )
        xgb = _xgb()
        name = str(options.get("xgboost_class") or _BOOSTER).removeprefix("xgboost.")
        try:
            model = _build(xgb, name, path, None)
        except xgb.core.XGBoostError as exc:
            raise UnsupportedModelError(f"XGBoost could not read {path.name}: {exc}") from exc
        return cls(model, classes=options.get("classes"))

    # -- inference -------------------------------------------------------------------

    def _labels(self, index: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Map class indices to the recorded labels, when these are not just the indices."""
        classes = self._classes
        if classes is None or index.ndim != 1 or classes == list(range(len(classes))):
            return index
        return np.take(np.asarray(classes), index)

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if not self._booster:
            return self._labels(np.asarray(self.model.predict(data)))
        raw = np.asarray(self.model.inplace_predict(data))
        if self._objective == "binary:logistic":
            index = np.repeat(0, raw.shape[0])
            index[raw > 0.5] = 1  # the rule XGBClassifier.predict applies
            return self._labels(index)
        if self._objective == "multi:softprob":
            return self._labels(np.argmax(raw, axis=1))
        if self._objective == "multi:softmax":
            return self._labels(raw.astype(np.int32))
        return raw

    @property
    def has_proba(self) -> bool:
        return self._classes is not None

    @property
    def classes(self) -> list[Any] | None:
        return None if self._classes is None else list(self._classes)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if self._classes is None:
            return super().predict_proba(data)
        if not self._booster:
            return np.asarray(self.model.predict_proba(data))
        if self._objective == "multi:softmax":
            from scipy.special import softmax

            margin = self.model.inplace_predict(data, predict_type="margin")
            return np.asarray(softmax(margin, axis=1))
        raw = np.asarray(self.model.inplace_predict(data))
        if raw.ndim == 1:
            return np.vstack((1 - raw, raw)).transpose()
        return raw
