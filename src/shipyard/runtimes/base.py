"""The runtime contract: how one flavor of model is saved, loaded and called.

A runtime wraps a live model object. It does no I/O of its own beyond the directory
it is handed, and knows nothing of the registry, signatures or HTTP: input arrives as a
validated :class:`pandas.DataFrame` whose columns are in signature order.

Adding a flavor is one new module in this package defining a subclass with a
``flavor`` key; it is discovered automatically (see :mod:`shipyard.runtimes`).
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shipyard.errors import MissingDependencyError, UnsupportedModelError, UntrustedArtifactError

JSONDict = dict[str, Any]

#: What a kernel returns: labels (or regression values), and probabilities or ``None``.
KernelOutput = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]
#: A compiled form of a model (see :meth:`Runtime.compile`): it takes a finite,
#: C-contiguous float64 matrix with the columns in signature order and returns what the
#: runtime's ``predict`` and ``predict_proba`` would, or ``None`` to decline an input.
Kernel = Callable[[np.ndarray[Any, Any]], KernelOutput | None]


def module_root(obj: object) -> str:
    """Top-level package of ``obj``'s class (``"xgboost"`` for an ``XGBClassifier``)."""
    return type(obj).__module__.split(".", 1)[0]


def mro_roots(obj: object) -> set[str]:
    """Top-level packages of every class in ``obj``'s method resolution order."""
    return {cls.__module__.split(".", 1)[0] for cls in type(obj).__mro__}


def require(module: str, extra: str) -> Any:
    """Import an optional library or raise an error that says which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the '{extra}' flavor needs the {module} package; install it with "
            f"pip install 'shipyard[{extra}]'"
        ) from exc


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (absent ones are left out)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def plain_labels(values: Iterable[Any]) -> list[Any]:
    """Class labels as JSON-serialisable Python scalars (numpy scalars unwrapped)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def check_pickle_trusted(path: Path, trust_pickle: bool, advice: str = "") -> None:
    """Refuse a user-supplied pickle unless the caller explicitly trusts it."""
    if not trust_pickle:
        raise UntrustedArtifactError(
            f"{path.name} is a pickle, which can run arbitrary code when loaded; {advice}"
            "if you made this file yourself, pass --trust-pickle (trust_pickle=True, "
            "SHIPYARD_TRUST_PICKLE=1) to load it"
        )


class Runtime(ABC):
    """One flavor's way of saving, loading and calling a model.

    Subclasses set ``flavor`` (the registry key), ``priority`` (lower is asked first
    by :func:`shipyard.runtimes.detect_flavor`) and ``packages`` (distributions whose
    versions are recorded in a version's lineage).
    """

    flavor: ClassVar[str]
    priority: ClassVar[int] = 50
    packages: ClassVar[tuple[str, ...]] = ()
    #: File suffixes :meth:`from_file` understands, for ``shipyard models register PATH``.
    file_suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: Any) -> None:
        self.model = model

    # -- identification --------------------------------------------------------------

    @classmethod
    @abstractmethod
    def handles(cls, model: object) -> bool:
        """Whether ``model`` is an object of this flavor. Must not import optional libraries
        the model's own module has not already imported."""

    # -- persistence -----------------------------------------------------------------

    @abstractmethod
    def save(self, path: Path) -> JSONDict:
        """Write the model into the existing empty directory ``path``.

        Returns the JSON-serialisable metadata :meth:`load` needs to read it back.
        """

    @classmethod
    @abstractmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        """Read back what :meth:`save` wrote into ``path``.

        The caller has checked every file's sha256 against the registry, so a runtime may
        read formats it wrote itself (river's pickle) without a trust flag; files a user
        brings go through :meth:`from_file`, which refuses pickles unless trusted.
        Runtimes that need more than the model object take it as keyword-only
        constructor arguments filled from ``metadata``.
        """

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        """Load a model file or directory a user saved with the framework's own tools."""
        raise UnsupportedModelError(
            f"the {cls.flavor} flavor cannot register a model from a file; "
            "register the model object with shipyard.register_model() instead"
        )

    # -- inference -------------------------------------------------------------------

    @abstractmethod
    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions for each row: class labels or regression values, shape ``(rows,)``."""

    @property
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""
        return False

    @property
    def classes(self) -> list[Any] | None:
        """Class labels in the column order of :meth:`predict_proba`, or ``None``."""
        return None

    def predict_both(
        self, data: pd.DataFrame
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Predictions and, when the model gives them, class probabilities: what
        :meth:`predict` and :meth:`predict_proba` return (a runtime may compute both in
        one pass where its library does the same)."""
        labels = self.predict(data)
        return labels, self.predict_proba(data) if self.has_proba else None

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Class probabilities, shape ``(rows, classes)``."""
        raise UnsupportedModelError(
            f"this {self.flavor} model gives no probabilities; call predict() instead"
        )

    def compile(self, columns: Sequence[str]) -> Kernel | None:
        """A compiled form of :meth:`predict` and :meth:`predict_proba` for all-float
        inputs with these columns, equal to them bit for bit, or ``None`` (the default).

        Use it only after :func:`kernel_mismatch` found no difference on sample rows.
        """
        return None

    # -- online learning -------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Whether :meth:`learn` updates the model in place."""
        return False

    def learn(self, data: pd.DataFrame, target: pd.Series[Any] | np.ndarray[Any, Any]) -> None:
        """Update an online model with labelled rows."""
        raise UnsupportedModelError(
            f"{self.flavor} models do not learn online; train a new version and register it"
        )

    # -- lineage -----------------------------------------------------------------------

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        """Versions of the libraries this flavor depends on."""
        return package_versions(*cls.packages)


def float_frame(matrix: np.ndarray[Any, Any], columns: Sequence[str]) -> pd.DataFrame:
    """A float64 matrix as the DataFrame signature validation would have built."""
    return pd.DataFrame(
        {name: matrix[:, j] for j, name in enumerate(columns)},
        index=pd.RangeIndex(len(matrix)),
    )


def kernel_mismatch(
    runtime: Runtime, kernel: Kernel, matrix: np.ndarray[Any, Any], columns: Sequence[str]
) -> str | None:
    """Where ``kernel`` differs from ``runtime`` on the rows of ``matrix`` (finite float64,
    columns in signature order), or ``None`` when every output is equal bit for bit:
    labels, values and probabilities, for all rows at once and for single rows."""
    batches = [matrix] + [matrix[i : i + 1] for i in range(min(len(matrix), 16))]
    for batch in batches:
        batch = np.ascontiguousarray(batch, dtype=np.float64)
        got = kernel(batch)
        if got is None:
            continue
        predictions, probabilities = got
        frame = float_frame(batch, columns)
        expected = np.asarray(runtime.predict(frame))
        if expected.shape != predictions.shape or not np.array_equal(expected, predictions):
            return f"predictions differ on {len(batch)} row(s)"
        if runtime.has_proba:
            proba = np.asarray(runtime.predict_proba(frame))
            if probabilities is None or not np.array_equal(proba, probabilities):
                return f"probabilities differ on {len(batch)} row(s)"
    return None
