"""scikit-learn estimators and pipelines, saved with skops (no pickle)."""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.errors import UnsupportedModelError, UntrustedArtifactError
from shipyard.runtimes.base import JSONDict, Kernel, Runtime, check_pickle_trusted, mro_roots

_FILE = "model.skops"
#: Libraries whose types a user-supplied skops file may contain without a trust flag.
_SAFE_ROOTS = ("sklearn", "numpy", "scipy")


def _untrusted(path: Path) -> list[str]:
    import skops.io

    return sorted(skops.io.get_untrusted_types(file=path))


_ID = re.compile(rb'"__id__": (\d+)|"(\d+)\.npy"')


def _stable_zip(data: bytes) -> bytes:
    """Make a skops archive reproducible: equal models give equal bytes (and so one blob in
    the artifact store).

    skops names objects by their ``id()`` in memory and stamps zip entries with the current
    time; both are renumbered / fixed here, consistently in ``schema.json`` and in the
    names of the array files it refers to.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json")
    numbers: dict[bytes, bytes] = {}
    for match in _ID.finditer(schema):
        found = match.group(1) or match.group(2)
        numbers.setdefault(found, str(len(numbers) + 1).encode())

    def renumber(match: re.Match[bytes]) -> bytes:
        if match.group(1) is not None:
            return b'"__id__": ' + numbers[match.group(1)]
        return b'"' + numbers[match.group(2)] + b'.npy"'

    entries = {"schema.json": _ID.sub(renumber, schema)}
    for info in source.infolist():
        if info.filename == "schema.json":
            continue
        stem, dot, suffix = info.filename.partition(".")
        name = (
            numbers[stem.encode()].decode() + dot + suffix
            if stem.encode() in numbers
            else info.filename
        )
        entries[name] = source.read(info)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, entries[name])
    return out.getvalue()


class SklearnRuntime(Runtime):
    """Any scikit-learn estimator with ``predict`` (and ``predict_proba`` when it has one)."""

    flavor = "sklearn"
    priority = 100  # after the flavors that subclass scikit-learn's base classes
    packages = ("scikit-learn", "skops", "numpy", "scipy")
    file_suffixes = (".skops", ".pkl", ".pickle", ".joblib")

    @classmethod
    def handles(cls, model: object) -> bool:
        return "sklearn" in mro_roots(model) and hasattr(model, "predict")

    def save(self, path: Path) -> JSONDict:
        import skops.io

        file = path / _FILE
        try:
            file.write_bytes(_stable_zip(skops.io.dumps(self.model)))
        except Exception as exc:  # skops raises several types for unsupported objects
            raise UnsupportedModelError(
                f"skops could not save this {type(self.model).__qualname__}: {exc}; "
                "wrap the model in a shipyard.PythonModel to register it as pyfunc"
            ) from exc
        types = _untrusted(file)
        local = [t for t in types if t.startswith("__main__.")]
        if local:
            raise UnsupportedModelError(
                f"the model uses {', '.join(local)}, defined in a script or notebook "
                "(__main__), which no other process can import; move it into a module on the "
                "Python path (a .py file you import) and register again"
            )
        # The file was written from a live object the caller handed us, so the types it
        # holds are trusted as of now; load() refuses any type beyond these.
        return {"file": _FILE, "format": "skops", "trusted_types": types}

    @classmethod
    def load(cls, path: Path, metadata: Mapping[str, Any]) -> Self:
        import skops.io

        file = path / str(metadata.get("file", _FILE))
        trusted = list(metadata.get("trusted_types", []))
        unexpected = sorted(set(_untrusted(file)) - set(trusted))
        if unexpected:
            raise UntrustedArtifactError(
                f"the saved model holds types not recorded when it was registered: "
                f"{', '.join(unexpected)}; register it again from a trusted source"
            )
        try:
            return cls(skops.io.load(file, trusted=trusted))
        except (ImportError, AttributeError) as exc:
            raise UnsupportedModelError(
                f"the saved model needs code this process cannot import ({exc}); install or "
                "put on the Python path the package that defines the model's classes"
            ) from exc

    @classmethod
    def from_file(cls, path: Path, *, trust_pickle: bool = False, **options: Any) -> Self:
        suffix = path.suffix.lower()
        if suffix == ".skops":
            import skops.io

            types = _untrusted(path)
            unknown = [t for t in types if t.split(".", 1)[0] not in _SAFE_ROOTS]
            if unknown and not trust_pickle:
                raise UntrustedArtifactError(
                    f"{path.name} holds types outside scikit-learn, numpy and scipy "
                    f"({', '.join(unknown)}); if you made this file yourself, "
                    "pass --trust-pickle (trust_pickle=True) to load it"
                )
            model = skops.io.load(path, trusted=types)
        elif suffix in (".pkl", ".pickle", ".joblib"):
            check_pickle_trusted(path, trust_pickle, "save the model with skops instead, or, ")
            if suffix == ".joblib":
                import joblib  # type: ignore[import-untyped]

                model = joblib.load(path)
            else:
                with path.open("rb") as handle:
                    model = pickle.load(handle)  # noqa: S301 - explicitly trusted above
        else:
            raise UnsupportedModelError(
                f"{path.name}: the sklearn flavor reads .skops, .pkl, .pickle or .joblib files"
            )
        if not cls.handles(model):
            raise UnsupportedModelError(
                f"{path.name} holds a {type(model).__qualname__}, not a scikit-learn estimator; "
                "register it with the matching --flavor"
            )
        return cls(model)

    def _inputs(self, data: pd.DataFrame) -> Any:
        # A model fitted on a bare array (it knows its width but no names) warns when handed
        # named columns: give it the array. Anything else, e.g. a pipeline whose first step
        # is a hand-written transformer, gets the DataFrame it was trained on.
        fitted_on_array = hasattr(self.model, "n_features_in_") and not hasattr(
            self.model, "feature_names_in_"
        )
        return data.to_numpy() if fitted_on_array else data

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(self._inputs(data)))

    def compile(self, columns: Sequence[str]) -> Kernel | None:
        from shipyard.runtimes.sklearn_kernels import compile_sklearn

        return compile_sklearn(self.model, columns)

    @property
    def has_proba(self) -> bool:
        return hasattr(self.model, "predict_proba")

    @property
    def classes(self) -> list[Any] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else np.asarray(classes).tolist()

    def predict_both(
        self, data: pd.DataFrame
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        # Single-output tree and forest classifiers predict the class of the largest
        # probability (scikit-learn's own predict does exactly this): one pass, not two.
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
        from sklearn.tree import DecisionTreeClassifier

        model = self.model
        one_output = getattr(model, "n_outputs_", 1) == 1
        trees = (RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier)
        if isinstance(model, trees) and one_output:
            proba = np.asarray(model.predict_proba(self._inputs(data)))
            return np.asarray(model.classes_).take(np.argmax(proba, axis=1)), proba
        return super().predict_both(data)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if not self.has_proba:
            return super().predict_proba(data)
        return np.asarray(self.model.predict_proba(self._inputs(data)))
