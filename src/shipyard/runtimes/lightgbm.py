"""LightGBM models: ``LGBMClassifier``/``LGBMRegressor``/``LGBMRanker`` and raw Boosters.

Saved in LightGBM's own text format (no pickle). On load the model comes back as a
:class:`lightgbm.Booster` and this runtime reproduces what the scikit-learn wrapper
did on top of it: for a classifier, ``predict_proba`` is the booster's output (two
columns ``[1 - p, p]`` for a binary model) and ``predict`` is
``classes[argmax(predict_proba)]``, with the class labels recorded in the metadata.

A raw Booster is called according to its objective: ``binary`` and the ``multiclass``
family classify (labels ``0 … k-1``), anything else predicts the booster's output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, cast

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, UnsupportedModelError
from shipyard.runtimes.base import JSONDict, Runtime, mro_roots, plain_labels, require

_FILE = "model.txt"
_BOOSTER = "Booster"
#: How predictions are derived from the booster's output.
Task = Literal["classifier", "regressor", "raw"]
_TASKS: tuple[Task, ...] = ("classifier", "regressor", "raw")
#: Parameter names LightGBM accepts for the objective.
_OBJECTIVE_KEYS = ("objective", "objective_type", "app", "application", "loss")
_MULTICLASS = ("multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr")


def _lgb() -> Any:
    return require("lightgbm", "lightgbm")


def _booster_task(booster: Any) -> tuple[Task, list[Any] | None]:
    """What a raw booster predicts, judged by its objective."""
    params = booster.params or {}
    objective = next((params[k] for k in _OBJECTIVE_KEYS if k in params), "regression")
    if callable(objective):
        return "raw", None
    name = str(objective).split(" ", 1)[0]
    if name == "binary":
        return "classifier", [0, 1]
    if name in _MULTICLASS:
        return "classifier", list(range(booster.num_model_per_iteration()))
    return "regressor", None


class LightGBMRuntime(Runtime):
    """LightGBM scikit-learn wrappers and raw ``lightgbm.Booster`` objects."""

    flavor = "lightgbm"
    packages = ("lightgbm", "numpy", "scipy")
    file_suffixes = (".txt",)

    def __init__(
        self,
        model: Any,
        *,
        task: Task | None = None,
        classes: Sequence[Any] | None = None,
    ) -> None:
        super().__init__(model)
        lgb = _lgb()
        self._wrapper = isinstance(model, lgb.LGBMModel)
        found: list[Any] | None
        if self._wrapper:
            if not model.__sklearn_is_fitted__():
                raise UnsupportedModelError("the LightGBM model is not fitted; call fit() first")
            self._booster = model.booster_
            if callable(model.objective_):
                found_task: Task = "raw"  # the wrapper itself then returns raw scores
                found = None
            elif isinstance(model, lgb.LGBMClassifier):
                found_task, found = "classifier", plain_labels(np.asarray(model.classes_))
            else:
                found_task, found = "regressor", None
        else:
            self._booster = model
            found_task, found = _booster_task(model)
        self._task: Task = task or found_task
        self._classes = plain_labels(classes) if classes is not None else found
        if self._task == "classifier" and self._classes is None:
            raise UnsupportedModelError("a LightGBM classifier needs its class labels")

    @classmethod
    def handles(cls, model: object) -> bool:
        if "lightgbm" not in mro_roots(model):
            return False
        lgb = _lgb()  # already imported: the model's own class comes from it
        return isinstance(model, lgb.LGBMModel | lgb.Booster)

    # -- persistence -----------------------------------------------------------------

    def save(self, path: Path) -> JSONDict:
        # Writes the best iteration when early stopping found one, which is also the
        # iteration the wrapper and the booster predict with by default.
        self._booster.save_model(path / _FILE)
        return {
            "file": _FILE,
            "format": "lightgbm-text",
            "lightgbm_class": type(self.model).__name__ if self._wrapper else _BOOSTER,
            "task": self._task,
            "classes": self._classes,
        }

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        lgb = _lgb()
        booster = lgb.Booster(model_file=str(path / str(metadata.get("file", _FILE))))
        task = metadata.get("task")
        if task is not None and task not in _TASKS:
            raise UnsupportedModelError(f"unknown LightGBM task {task!r} in the saved metadata")
        return cls(booster, task=cast(Task | None, task), classes=metadata.get("classes"))

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Read a model written by ``Booster.save_model`` (text format, ``.txt``).

        Option ``classes`` gives the labels of a classifier's classes, in the order of
        the booster's class indices (``0 … k-1`` by default).
        """
        unknown = sorted(set(options) - {"classes"})
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) for the lightgbm flavor: {', '.join(unknown)}; expected classes"
            )
        if path.suffix.lower() not in cls.file_suffixes:
            raise UnsupportedModelError(
                f"{path.name}: the lightgbm flavor reads text model files (.txt) "
                "written by Booster.save_model()"
            )
        lgb = _lgb()
        try:
            booster = lgb.Booster(model_file=str(path))
        except lgb.basic.LightGBMError as exc:
            raise UnsupportedModelError(f"LightGBM could not read {path.name}: {exc}") from exc
        runtime = cls(booster)
        classes = options.get("classes")
        if classes is not None:
            if runtime._task != "classifier" or len(classes) != len(runtime._classes or []):
                raise InvalidInputError(
                    f"{path.name} holds a model with classes {runtime._classes}; "
                    f"cannot label them with {list(classes)}"
                )
            runtime._classes = plain_labels(classes)
        return runtime

    # -- inference -------------------------------------------------------------------

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if self._wrapper:
            return np.asarray(self.model.predict(data))
        if self._task == "classifier":
            index = np.argmax(self.predict_proba(data), axis=1)
            labels: np.ndarray[Any, Any] = np.asarray(self._classes)[index]
            return labels
        return np.asarray(self._booster.predict(data))

    @property
    def has_proba(self) -> bool:
        return self._task == "classifier"

    @property
    def classes(self) -> list[Any] | None:
        return None if self._classes is None else list(self._classes)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if self._task != "classifier":
            return super().predict_proba(data)
        if self._wrapper:
            return np.asarray(self.model.predict_proba(data))
        result = np.asarray(self._booster.predict(data))
        if result.ndim == 1:
            return np.vstack((1.0 - result, result)).transpose()
        return result
