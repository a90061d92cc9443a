"""The kinds of values a signature knows, and the input shapes it accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

Kind = Literal["bool", "int", "float", "string", "category", "datetime"]


OutputKind = Literal["class_labels", "probabilities", "regression_value", "other"]


Rows = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any] | np.ndarray[Any, Any]
