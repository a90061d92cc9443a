"""The runtime contract through the registry: every flavor registered, loaded back by URI,
predicting like the framework itself, and refusing input that breaks its signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtimes.factories import CASES, TEST, TRAIN, trained_case
from shipyard.config import Settings
from shipyard.errors import SignatureError
from shipyard.registry import Registry


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    home: Path = tmp_path_factory.mktemp("registered")
    return Registry.from_settings(Settings(home=home, reference_sample_rows=200, actor="t"))


@pytest.mark.parametrize(("flavor", "kind"), CASES)
def test_registered_version_predicts_like_the_model_and_checks_its_signature(
    sqlite_registry: Registry, flavor: str, kind: str
) -> None:
    case = trained_case(flavor, kind)
    name = f"contract-{flavor}-{kind}"
    version = sqlite_registry.register_model(case.model, name, training_data=TRAIN)
    assert version.flavor == flavor
    assert version.signature.names == list(TRAIN.columns)
    assert version.signature.output is not None
    assert version.signature.output.classes == case.classes
    loaded = sqlite_registry.load(f"models:/{name}/{version.version}")
    for data in (TEST.iloc[:1], TEST):
        got = loaded.predict(data)
        want = np.asarray(case.predict(data)).reshape(-1)
        if case.labels:
            assert got.tolist() == want.tolist()
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        if case.proba is not None:
            np.testing.assert_allclose(
                loaded.predict_proba(data), np.asarray(case.proba(data)), rtol=0, atol=1e-9
            )
    wrong_type = TEST.iloc[:3].astype({"f2": str})
    with pytest.raises(SignatureError, match="'f2': expected float, got string"):
        loaded.predict(wrong_type)
    with pytest.raises(SignatureError, match="missing column.*'f4'"):
        loaded.predict(TEST.iloc[:3].drop(columns=["f4"]))
    with pytest.raises(SignatureError, match="unexpected column.*'extra'"):
        loaded.predict(TEST.iloc[:3].assign(extra=1.0))
