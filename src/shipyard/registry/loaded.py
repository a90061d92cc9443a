"""A loaded version: its runtime behind its signature."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import SignatureError
from shipyard.registry.types import ModelVersion
from shipyard.runtimes import Runtime
from shipyard.schema import Rows, Signature


class LoadedModel:
    """A model version ready to predict. Every call validates its input against the
    version's signature first, so wrong columns or types fail with a
    :class:`~shipyard.errors.SignatureError` before the model sees them."""

    def __init__(self, version: ModelVersion, runtime: Runtime) -> None:
        self.version = version
        self.runtime = runtime

    def __repr__(self) -> str:
        return f"<LoadedModel {self.version.uri} flavor={self.version.flavor}>"

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def signature(self) -> Signature:
        return self.version.signature

    @property
    def classes(self) -> list[Any] | None:
        """Class labels in ``predict_proba`` column order, or ``None``."""
        return self.runtime.classes

    def validate(self, rows: Rows) -> pd.DataFrame:
        """Check rows against the signature; returns them in signature order and dtypes."""
        frame = self.version.signature.validate(rows)
        if len(frame) == 0:
            raise SignatureError("no rows to predict; send at least one row")
        return frame

    def predict(self, rows: Rows) -> np.ndarray[Any, Any]:
        """Validated predictions: class labels or regression values, one per row."""
        return self.runtime.predict(self.validate(rows))

    def predict_proba(self, rows: Rows) -> np.ndarray[Any, Any]:
        """Validated class probabilities, shape ``(rows, classes)``."""
        return self.runtime.predict_proba(self.validate(rows))

    def learn(self, rows: Rows, target: Any) -> None:
        """Update an online model (river flavor) in place with labelled rows."""
        self.runtime.learn(self.validate(rows), np.asarray(target))
