"""A registered classifier and inputs of any size for batch scoring tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from shipyard.registry import Registry
from shipyard.registry.loaded import LoadedModel

FEATURES = [f"f{i}" for i in range(5)]
#: Rows of :func:`inputs` that break the signature: a missing value in a column whose
#: training data had none.
BAD_ROWS = (3, 1_234, 20_001)


def classifier(registry: Registry) -> tuple[LoadedModel, Any]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2_000, 5)), columns=FEATURES)
    target = (frame["f0"] + frame["f1"] > 0).astype(int)
    model = LogisticRegression().fit(frame, target)
    version = registry.register_model(model, "clf", training_data=frame)
    return registry.load(version.uri), model


def inputs(rows: int, *, seed: int = 1, bad: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 5)), columns=FEATURES)
    frame.insert(0, "id", [f"c{i}" for i in range(rows)])
    if bad:
        for row, column in zip(BAD_ROWS, ("f2", "f4", "f0"), strict=True):
            if row < rows:
                frame.loc[row, column] = np.nan
    return frame


def write(frame: pd.DataFrame, path: Path, *, row_group_size: int = 10_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, row_group_size=row_group_size)
    return path
