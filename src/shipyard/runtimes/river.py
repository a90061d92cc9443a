"""River online models: classifiers, regressors and pipelines that learn one row at a time.

River has no file format of its own, so a model is pickled. :meth:`RiverRuntime.load`
reads only the file :meth:`RiverRuntime.save` wrote (the registry checks its sha256
before calling it); a pickle a user brings with :meth:`RiverRuntime.from_file` needs
an explicit trust flag, since unpickling can run arbitrary code.

Class labels: a binary river classifier always answers ``False``/``True``. A
multi-class one knows the labels it has seen and has no common attribute listing them,
so this runtime collects them: from the saved metadata, from the model's answer to an
empty row when it is wrapped, from the targets it learns and from the probabilities it
gives; it keeps them in sorted order.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInputError, UnsupportedModelError
from shipyard.runtimes.base import JSONDict, Runtime, check_pickle_trusted, mro_roots, require

_FILE = "model.pkl"
_PICKLE_SUFFIXES = (".pkl", ".pickle")


def _river_base() -> Any:
    require("river", "river")
    return require("river.base", "river")


def _plain(value: Any) -> Any:
    """A class label as a JSON-serialisable Python scalar."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted(labels: Iterable[Any]) -> list[Any]:
    """Labels in a stable order: sorted, or by type and text when they do not compare."""
    unique = list(dict.fromkeys(_plain(label) for label in labels))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=lambda label: (type(label).__name__, repr(label)))


def _learns_many(model: Any) -> bool:
    """Whether ``model`` (every step of it, for a pipeline) can learn from a whole frame."""
    compose = require("river.compose", "river")
    if isinstance(model, compose.Pipeline):
        steps = list(model.steps.values())
        return all(_learns_many(step) for step in steps) and all(
            hasattr(step, "transform_many") for step in steps[:-1]
        )
    if isinstance(model, compose.TransformerUnion):
        return all(_learns_many(step) for step in model.transformers.values())
    return callable(getattr(model, "learn_many", None))


def _probe_classes(model: Any) -> list[Any]:
    """Labels a multi-class model answers for a row with no features (its priors, for
    most river classifiers); none when it cannot answer that."""
    try:
        answer = model.predict_proba_one({})
    except Exception:  # a model is free to need features; then there is nothing to learn here
        return []
    return list(answer) if isinstance(answer, Mapping) else []


def _rows(data: pd.DataFrame) -> list[dict[Any, Any]]:
    return data.to_dict(orient="records")


class RiverRuntime(Runtime):
    """A river classifier, regressor or pipeline ending in one (``predict_one``)."""

    flavor = "river"
    packages = ("river", "numpy", "pandas")
    file_suffixes = _PICKLE_SUFFIXES

    def __init__(self, model: Any, *, classes: Sequence[Any] | None = None) -> None:
        super().__init__(model)
        base = _river_base()
        self._classifier = isinstance(model, base.Classifier)
        self._multiclass = self._classifier and bool(model._multiclass)
        if not self._classifier:
            self._classes: list[Any] = []
        elif not self._multiclass:
            self._classes = [False, True]  # river's binary classifiers answer with booleans
        else:
            self._classes = _sorted([*(classes or []), *_probe_classes(model)])

    @classmethod
    def handles(cls, model: object) -> bool:
        return "river" in mro_roots(model) and callable(getattr(model, "predict_one", None))

    # -- persistence -----------------------------------------------------------------

    def save(self, path: Path) -> JSONDict:
        with (path / _FILE).open("wb") as handle:
            pickle.dump(self.model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return {"file": _FILE, "format": "pickle", "classes": self.classes}

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        # The registry wrote this file itself and verified its sha256 before this call.
        _river_base()
        with (path / str(metadata.get("file", _FILE))).open("rb") as handle:
            model = pickle.load(handle)  # noqa: S301 - our own artifact, hash checked
        return cls(model, classes=metadata.get("classes"))

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Unpickle a river model a user saved, only when ``trust_pickle`` is set."""
        if path.suffix.lower() not in _PICKLE_SUFFIXES:
            raise UnsupportedModelError(
                f"{path.name}: the river flavor reads .pkl or .pickle files"
            )
        check_pickle_trusted(path, trust_pickle)
        _river_base()
        with path.open("rb") as handle:
            model = pickle.load(handle)  # noqa: S301 - explicitly trusted above
        if not cls.handles(model):
            raise UnsupportedModelError(
                f"{path.name} holds a {type(model).__qualname__}, not a river model; "
                "register it with the matching --flavor"
            )
        return cls(model, classes=options.get("classes"))

    # -- inference -------------------------------------------------------------------

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        predict_one = self.model.predict_one
        return np.asarray([predict_one(row) for row in _rows(data)])

    @property
    def has_proba(self) -> bool:
        return self._classifier

    @property
    def classes(self) -> list[Any] | None:
        """Classes seen so far, in sorted order (``None`` for a regressor)."""
        return list(self._classes) if self._classifier else None

    def _remember(self, labels: Iterable[Any]) -> None:
        if self._multiclass:
            new = set(labels) - set(self._classes)
            if new:
                self._classes = _sorted([*self._classes, *new])

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Probabilities of the classes seen so far; a class a row's answer leaves out is 0."""
        if not self._classifier:
            return super().predict_proba(data)
        predict_proba_one = self.model.predict_proba_one
        answers = [predict_proba_one(row) for row in _rows(data)]
        self._remember(label for answer in answers for label in answer)
        classes = self._classes
        return np.array(
            [[answer.get(c, 0.0) for c in classes] for answer in answers], dtype=np.float64
        ).reshape(len(answers), len(classes))

    # -- online learning -------------------------------------------------------------

    @property
    def online(self) -> bool:
        return True

    def learn(self, data: pd.DataFrame, target: pd.Series[Any] | np.ndarray[Any, Any]) -> None:
        """Learn from labelled rows, in order: ``learn_many`` when the model (every step
        of a pipeline) has it and ``target`` is a Series, else ``learn_one`` per row."""
        if len(target) != len(data):
            raise InvalidInputError(f"learn() got {len(data)} rows but {len(target)} target values")
        if isinstance(target, pd.Series) and _learns_many(self.model):
            # river aligns on the index; the target belongs to the rows by position.
            aligned = pd.Series(target.to_numpy(), index=data.index, name=target.name)
            self.model.learn_many(data, aligned)
            labels: list[Any] = aligned.tolist()
        else:
            labels = np.asarray(target).tolist()
            learn_one = self.model.learn_one
            for row, label in zip(_rows(data), labels, strict=True):
                learn_one(row, label)
        if self._classifier:
            self._remember(labels)
