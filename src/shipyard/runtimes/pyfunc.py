"""Models written in plain Python: subclass :class:`PythonModel`.

The pyfunc flavor covers whatever no framework runtime does: a rules engine, an
ensemble of several frameworks, a model with custom pre-processing. Shipyard stores the
class's import path and whatever the instance's :meth:`PythonModel.save` writes; it
never pickles the instance. To load, it imports the class, calls it with no arguments
and hands :meth:`PythonModel.load` the same directory back::

    class Centroids(PythonModel):
        def __init__(self, centroids: np.ndarray | None = None) -> None:
            self.centroids = centroids

        def save(self, path: Path) -> None:
            np.save(path / "centroids.npy", self.centroids)

        def load(self, path: Path) -> None:
            self.centroids = np.load(path / "centroids.npy")

        def predict(self, data: pd.DataFrame) -> np.ndarray:
            distances = ((data.to_numpy()[:, None, :] - self.centroids) ** 2).sum(axis=2)
            return distances.argmin(axis=1)

The class must live in an importable module (not ``__main__``, not inside a function)
that is installed wherever the model is served.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.errors import (
    InvalidInputError,
    MissingDependencyError,
    UnsupportedModelError,
)
from shipyard.runtimes.base import JSONDict, Runtime

_DATA = "data"


class PythonModel(ABC):
    """Base class of a model written in Python, registered as the ``pyfunc`` flavor.

    Override :meth:`predict`; override :meth:`save` and :meth:`load` when the model has
    state to keep, :meth:`predict_proba` (and set :attr:`classes`) when it classifies
    with probabilities. The class must be constructible with no arguments.
    """

    #: Class labels in the column order of :meth:`predict_proba`, or ``None``.
    classes: list[Any] | None = None

    def save(self, path: Path) -> None:  # noqa: B027 - optional hook, no-op by default
        """Write the model's state into the existing empty directory ``path``."""

    def load(self, path: Path) -> None:  # noqa: B027 - optional hook, no-op by default
        """Restore the state :meth:`save` wrote into ``path`` (called on a new instance)."""

    @abstractmethod
    def predict(self, data: pd.DataFrame) -> Any:
        """One prediction per row of ``data`` (labels or values), array-like."""

    def predict_proba(self, data: pd.DataFrame) -> Any:
        """Class probabilities, shape ``(rows, len(classes))``; optional."""
        raise UnsupportedModelError(
            f"{type(self).__qualname__} gives no probabilities; call predict() instead"
        )


def _import_path(cls: type) -> str:
    """``module:QualName`` of ``cls``, checked to import back to the same class."""
    module, qualname = cls.__module__, cls.__qualname__
    where = (
        "in __main__ (a script or notebook)"
        if module == "__main__"
        else "inside a function"
        if "<locals>" in qualname
        else None
    )
    if where is not None:
        raise UnsupportedModelError(
            f"{qualname} is defined {where}, so it cannot be imported when the model is "
            "loaded; move the class into an importable module (a .py file on the Python "
            "path) and create the model from there"
        )
    path = f"{module}:{qualname}"
    try:
        found = _import_class(path)
    except (MissingDependencyError, UnsupportedModelError) as exc:
        raise UnsupportedModelError(
            f"{qualname} cannot be imported back as {path} ({exc}); "
            "move the class into an importable module"
        ) from exc
    if found is not cls:
        raise UnsupportedModelError(
            f"{path} does not import back to the class of this model; "
            "define the class once, at the top level of an importable module"
        )
    return path


def _import_class(path: str) -> type[PythonModel]:
    """The :class:`PythonModel` subclass at ``module:QualName``."""
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise InvalidInputError(f"{path!r} is not a class path of the form 'package.module:Class'")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"cannot import {module_name} for the pyfunc model {path}: {exc}; install the "
            "package that defines the model's class"
        ) from exc
    try:
        for part in qualname.split("."):
            found = getattr(found, part)
    except AttributeError as exc:
        raise UnsupportedModelError(f"{module_name} defines no {qualname}") from exc
    if not (isinstance(found, type) and issubclass(found, PythonModel)):
        raise UnsupportedModelError(f"{path} is not a shipyard.PythonModel subclass")
    return found


def _instantiate(cls: type[PythonModel]) -> PythonModel:
    try:
        return cls()
    except TypeError as exc:
        raise UnsupportedModelError(
            f"{cls.__qualname__}() failed ({exc}); a PythonModel must be constructible with "
            "no arguments and restore its state in load()"
        ) from exc


class PyfuncRuntime(Runtime):
    """Any :class:`PythonModel` instance."""

    flavor = "pyfunc"
    priority = 0  # a PythonModel may also derive from a framework's classes
    packages = ("numpy", "pandas")

    @classmethod
    def handles(cls, model: object) -> bool:
        return isinstance(model, PythonModel)

    def save(self, path: Path) -> JSONDict:
        cls = type(self.model)
        python_class = _import_path(cls)
        try:
            inspect.signature(cls).bind()
        except TypeError as exc:
            raise UnsupportedModelError(
                f"{cls.__qualname__} needs constructor arguments ({exc}); give them defaults "
                "so the model can be rebuilt with no arguments and restored by load()"
            ) from exc
        data = path / _DATA
        data.mkdir()
        self.model.save(data)
        return {"python_class": python_class, "data": _DATA}

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        python_class = metadata.get("python_class")
        if not isinstance(python_class, str):
            raise UnsupportedModelError("the saved pyfunc metadata names no python_class")
        model = _instantiate(_import_class(python_class))
        model.load(path / str(metadata.get("data", _DATA)))
        return cls(model)

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Build ``python_class`` (``"package.module:Class"``) and load it from the
        directory ``path``."""
        unknown = sorted(set(options) - {"python_class"})
        if unknown:
            raise InvalidInputError(
                f"unknown option(s) for the pyfunc flavor: {', '.join(unknown)}; "
                "expected python_class"
            )
        python_class = options.get("python_class")
        if not python_class:
            raise InvalidInputError(
                "the pyfunc flavor needs the model's class: pass --python-class "
                "package.module:Class (python_class= in Python)"
            )
        if not path.is_dir():
            raise UnsupportedModelError(
                f"{path.name} is not a directory; the pyfunc flavor loads a directory of data "
                "written by the model's save()"
            )
        model = _instantiate(_import_class(str(python_class)))
        model.load(path)
        return cls(model)

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(data))

    @property
    def has_proba(self) -> bool:
        return type(self.model).predict_proba is not PythonModel.predict_proba

    @property
    def classes(self) -> list[Any] | None:
        classes = self.model.classes
        return None if classes is None else np.asarray(classes).tolist()

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if not self.has_proba:
            return super().predict_proba(data)
        return np.asarray(self.model.predict_proba(data))
