"""One contract, every flavor (in the manner of river's ``checks/common.py``).

``FACTORIES`` trains small real models, one classifier and one regressor per framework
at least, and says how the framework itself predicts with each. Every flavor that
:func:`shipyard.runtimes.flavors` knows is run through the same checks, so a new flavor
without a factory fails here.
"""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from runtimes.factories import (
    CASES,
    FACTORIES,
    OPTIONAL_MODULES,
    TEST,
    Case,
    binary_target,
    make_frame,
    regression_target,
    river_rows,
    three_classes,
    trained_case,
)
from shipyard.errors import (
    MissingDependencyError,
    UnsupportedModelError,
    UntrustedArtifactError,
)
from shipyard.runtimes import Runtime, detect_flavor, flavors, get_runtime, runtime_for
from shipyard.runtimes.pyfunc import PythonModel


def _assert_same(runtime: Runtime, case: Case) -> None:
    """``runtime`` answers as the framework itself does, on one row and on many."""
    assert runtime.has_proba == (case.proba is not None)
    for data in (TEST.iloc[:1], TEST):
        got = runtime.predict(data)
        want = np.asarray(case.predict(data))
        assert isinstance(got, np.ndarray)
        assert got.shape == (len(data),)
        if case.labels:
            assert got.tolist() == want.reshape(-1).tolist()
        else:
            np.testing.assert_allclose(got, want.reshape(-1), rtol=0, atol=1e-9)
        if case.proba is not None:
            proba = runtime.predict_proba(data)
            assert isinstance(proba, np.ndarray)
            assert proba.shape == (len(data), len(case.classes or []))
            np.testing.assert_allclose(proba, np.asarray(case.proba(data)), rtol=0, atol=1e-9)
    assert runtime.classes == case.classes


# -- the contract -------------------------------------------------------------------------


def test_every_flavor_has_a_factory() -> None:
    assert sorted(FACTORIES) == flavors()


@pytest.mark.parametrize(("flavor", "kind"), CASES)
def test_detects_its_flavor(flavor: str, kind: str) -> None:
    model = trained_case(flavor, kind).model
    assert detect_flavor(model) == flavor
    runtime = runtime_for(model)
    assert type(runtime) is get_runtime(flavor)
    assert runtime.flavor == flavor


@pytest.mark.parametrize(("flavor", "kind"), CASES)
def test_in_memory_predictions_match_the_model(flavor: str, kind: str) -> None:
    case = trained_case(flavor, kind)
    _assert_same(runtime_for(case.model), case)


@pytest.mark.parametrize(("flavor", "kind"), CASES)
def test_saved_and_loaded_predictions_match_the_model(
    flavor: str, kind: str, tmp_path: Path
) -> None:
    case = trained_case(flavor, kind)
    metadata = runtime_for(case.model).save(tmp_path)
    stored = json.loads(json.dumps(metadata))  # what the registry keeps is JSON
    loaded = get_runtime(flavor).load(tmp_path, stored)
    assert type(loaded) is get_runtime(flavor)
    assert loaded.classes == case.classes  # known from the metadata, before any call
    _assert_same(loaded, case)


@pytest.mark.parametrize("flavor", flavors())
def test_declares_lineage_packages_and_suffixes(flavor: str) -> None:
    runtime = get_runtime(flavor)
    assert runtime.packages and all(isinstance(p, str) for p in runtime.packages)
    assert set(runtime.library_versions()) == set(runtime.packages)  # all installed here
    assert all(s.startswith(".") and s == s.lower() for s in runtime.file_suffixes)


def test_importing_the_registry_imports_no_optional_library() -> None:
    script = (
        "import sys\n"
        "from sklearn.linear_model import LinearRegression\n"
        "from shipyard.runtimes import detect_flavor, flavors\n"
        "flavors()\n"
        "assert detect_flavor(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])) == 'sklearn'\n"
        "loaded = {'xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'river'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


@pytest.mark.parametrize(
    ("flavor", "module"),
    [(flavor, module) for flavor, modules in OPTIONAL_MODULES.items() for module in modules],
)
def test_missing_library_is_reported_with_its_extra(
    flavor: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = next(iter(FACTORIES[flavor]))
    metadata = runtime_for(trained_case(flavor, kind).model).save(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=rf"shipyard\[{flavor}\]"):
        get_runtime(flavor).load(tmp_path, metadata)


# -- river: online learning ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FACTORIES["river"]))
def test_river_learns_and_a_loaded_copy_continues_identically(kind: str, tmp_path: Path) -> None:
    case = FACTORIES["river"][kind]()  # a fresh model: this test changes it
    runtime = runtime_for(case.model)
    assert runtime.online
    loaded = get_runtime("river").load(tmp_path, json.loads(json.dumps(runtime.save(tmp_path))))
    direct = copy.deepcopy(case.model)

    batch = make_frame(300, seed=7)
    target = {
        "classifier": binary_target(batch).astype(bool),
        "multiclass": three_classes(batch),
    }.get(kind, regression_target(batch, seed=7))
    sample = TEST.iloc[:500]

    def answers(rt: Runtime) -> np.ndarray[Any, Any]:
        return rt.predict_proba(sample) if rt.has_proba else rt.predict(sample)

    before = answers(runtime)
    runtime.learn(batch, target.to_numpy())  # learn_one, row by row
    loaded.learn(batch, target.to_numpy())
    for row, label in zip(river_rows(batch), target.tolist(), strict=True):
        direct.learn_one(row, label)
    after = answers(runtime)
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, answers(loaded))
    assert runtime.predict(sample).tolist() == [direct.predict_one(r) for r in river_rows(sample)]

    runtime.learn(batch, target)  # a Series: learn_many, which all these models have
    loaded.learn(batch, target)
    direct.learn_many(batch, target)
    np.testing.assert_array_equal(answers(runtime), answers(loaded))
    assert runtime.predict(sample).tolist() == loaded.predict(sample).tolist()
    assert runtime.predict(sample).tolist() == [direct.predict_one(r) for r in river_rows(sample)]
    assert runtime.classes == loaded.classes == case.classes


def test_river_multiclass_learns_a_new_class(tmp_path: Path) -> None:
    runtime = runtime_for(FACTORIES["river"]["multiclass"]().model)
    batch = make_frame(50, seed=8)
    runtime.learn(batch, three_classes(batch, labels=("a", "b", "d")).to_numpy())
    assert runtime.classes == ["a", "b", "c", "d"]
    assert runtime.predict_proba(TEST.iloc[:3]).shape == (3, 4)
    loaded = get_runtime("river").load(tmp_path, runtime.save(tmp_path))
    assert loaded.classes == ["a", "b", "c", "d"]


# -- files users bring --------------------------------------------------------------------


@pytest.mark.parametrize("flavor", [f for f in flavors() if ".pkl" in get_runtime(f).file_suffixes])
def test_pickle_needs_the_trust_flag(flavor: str, tmp_path: Path) -> None:
    case = trained_case(flavor, next(iter(FACTORIES[flavor])))
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(case.model))
    with pytest.raises(UntrustedArtifactError, match="--trust-pickle"):
        get_runtime(flavor).from_file(path)
    _assert_same(get_runtime(flavor).from_file(path, trust_pickle=True), case)


def _native_file(flavor: str, kind: str, model: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Write ``model`` with its framework's own tools; return the path and from_file options."""
    if flavor == "xgboost":
        path = tmp_path / ("model.json" if kind == "classifier" else "model.ubj")
        model.save_model(path)
        name = {"classifier": "XGBClassifier", "regressor": "XGBRegressor"}.get(kind)
        return path, {} if name is None else {"xgboost_class": name}
    if flavor == "lightgbm":
        path = tmp_path / "model.txt"
        booster = getattr(model, "booster_", model)
        booster.save_model(path)
        classes = getattr(model, "classes_", None)
        return path, {} if classes is None else {"classes": classes.tolist()}
    if flavor == "onnx":
        import onnx

        onnx.save_model(model, tmp_path / "model.onnx")
        return tmp_path / "model.onnx", {}
    assert flavor == "pyfunc"
    model.save(tmp_path)
    return tmp_path, {"python_class": f"{type(model).__module__}:{type(model).__qualname__}"}


@pytest.mark.parametrize(
    ("flavor", "kind"),
    [c for c in CASES if c.values[0] in ("xgboost", "lightgbm", "onnx", "pyfunc")],
)
def test_from_native_file_matches_the_model(flavor: str, kind: str, tmp_path: Path) -> None:
    case = trained_case(flavor, kind)
    path, options = _native_file(flavor, kind, case.model, tmp_path)
    _assert_same(get_runtime(flavor).from_file(path, **options), case)


def test_xgboost_classifier_file_read_as_a_raw_booster_predicts_the_same(tmp_path: Path) -> None:
    case = trained_case("xgboost", "classifier")
    case.model.save_model(tmp_path / "model.ubj")
    _assert_same(get_runtime("xgboost").from_file(tmp_path / "model.ubj"), case)


@pytest.mark.parametrize("flavor", [f for f in flavors() if get_runtime(f).file_suffixes])
def test_from_file_refuses_an_unknown_suffix(flavor: str, tmp_path: Path) -> None:
    path = tmp_path / "model.unknown"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedModelError):
        get_runtime(flavor).from_file(path, trust_pickle=True)


# -- pyfunc: the class must be importable -------------------------------------------------


def test_pyfunc_refuses_a_class_defined_in_a_function(tmp_path: Path) -> None:
    class Local(PythonModel):
        def predict(self, data: pd.DataFrame) -> Any:
            return np.zeros(len(data))

    runtime = runtime_for(Local())
    assert runtime.flavor == "pyfunc"
    with pytest.raises(UnsupportedModelError, match="importable module"):
        runtime.save(tmp_path)


def test_pyfunc_refuses_a_class_defined_in_main(tmp_path: Path) -> None:
    main_class = type(
        "Script", (PythonModel,), {"predict": lambda self, data: data, "__module__": "__main__"}
    )
    with pytest.raises(UnsupportedModelError, match="importable module"):
        runtime_for(main_class()).save(tmp_path)


def test_pyfunc_records_the_import_path(tmp_path: Path) -> None:
    model = trained_case("pyfunc", "regressor").model
    metadata = runtime_for(model).save(tmp_path)
    assert metadata["python_class"] == "runtimes.pyfunc_models:LeastSquaresRegressor"
    assert (tmp_path / "data" / "coef.npy").is_file()
