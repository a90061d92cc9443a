"""scikit-learn files a user brings: skops types and pickles need explicit trust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from shipyard.errors import UntrustedArtifactError
from shipyard.runtimes.sklearn import SklearnRuntime


def test_skops_file_with_a_builtin_function_needs_trust(tmp_path: Path) -> None:
    x = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 1] * 5)
    model = make_pipeline(FunctionTransformer(func=abs), LogisticRegression()).fit(x, y)
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    with pytest.raises(UntrustedArtifactError, match="builtins.abs.*--trust-pickle"):
        SklearnRuntime.from_file(path)
    trusted = SklearnRuntime.from_file(path, trust_pickle=True)
    assert (trusted.predict(pd.DataFrame(x, columns=["a", "b"])) == model.predict(x)).all()


def test_plain_scikit_learn_skops_file_needs_no_trust(tmp_path: Path) -> None:
    x = np.arange(20, dtype=float).reshape(10, 2)
    y = np.array([0, 1] * 5)
    model = LogisticRegression().fit(x, y)
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    loaded = SklearnRuntime.from_file(path)
    assert (loaded.predict(pd.DataFrame(x, columns=["a", "b"])) == model.predict(x)).all()
