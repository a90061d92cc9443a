"""Drift Detection Method (Gama, Medas, Castillo and Rodrigues 2004)."""

from __future__ import annotations

import math
from typing import Any

from shipyard.errors import InvalidInputError
from shipyard.stats.streaming.base import DriftDetector, finite


class DDM(DriftDetector):
    r"""Drift Detection Method on binary errors (Gama, Medas, Castillo and Rodrigues 2004).

    The error rate :math:`p_i` after :math:`i` values is a binomial proportion with
    standard deviation :math:`s_i = \sqrt{p_i (1 - p_i) / i}`. After ``warm_start``
    values the detector keeps :math:`p_{min}, s_{min}` at the smallest
    :math:`p_i + s_i` seen; it is in the *warning* zone while
    :math:`p_i + s_i > p_{min} + w \, s_{min}` and detects a change when
    :math:`p_i + s_i > p_{min} + d \, s_{min}` (``w = 2``, ``d = 3`` in the paper). The
    defaults are those of :class:`river.drift.binary.DDM`, and detections happen at the
    same positions.

    >>> detector = DDM()
    >>> stream = [0, 0, 0, 0, 1] * 40 + [1, 1, 0, 1, 1] * 40
    >>> [i for i, x in enumerate(stream) if detector.update(x)]
    [218]
    """

    key = "ddm"

    def __init__(
        self, *, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        if warm_start < 0:
            raise InvalidInputError(f"warm_start must be 0 or more; got {warm_start}")
        if not 0 < warning_threshold <= drift_threshold:
            raise InvalidInputError(
                "need 0 < warning_threshold <= drift_threshold; got "
                f"{warning_threshold} and {drift_threshold}"
            )
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        super().__init__()

    def _clear(self) -> None:
        self.n = 0
        self.p = 0.0
        self.p_min: float | None = None
        self.s_min: float | None = None
        self.warning = False
        """Whether the last value put the detector in the warning zone."""

    def _step(self, value: float) -> bool:
        x = finite(value, "DDM")
        if x not in (0.0, 1.0):
            raise InvalidInputError(
                f"DDM takes binary errors (1 for a wrong prediction, 0 for a right one); "
                f"got {value!r}; use PageHinkley for real-valued errors"
            )
        self.n += 1
        self.p += (x - self.p) / self.n
        s = math.sqrt(self.p * (1 - self.p) / self.n)
        if self.n <= self.warm_start:
            return False
        if self.p_min is None or self.s_min is None or self.p + s <= self.p_min + self.s_min:
            self.p_min, self.s_min = self.p, s
        self.warning = self.p + s > self.p_min + self.warning_threshold * self.s_min
        drift = self.p + s > self.p_min + self.drift_threshold * self.s_min
        if drift:
            self.warning = False
        return drift

    def _params(self) -> dict[str, Any]:
        return {
            "warm_start": self.warm_start,
            "warning_threshold": self.warning_threshold,
            "drift_threshold": self.drift_threshold,
        }

    def _variables(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "p": self.p,
            "p_min": self.p_min,
            "s_min": self.s_min,
            "warning": self.warning,
        }

    def _restore(self, variables: dict[str, Any]) -> None:
        self.n = int(variables["n"])
        self.p = float(variables["p"])
        self.p_min = None if variables["p_min"] is None else float(variables["p_min"])
        self.s_min = None if variables["s_min"] is None else float(variables["s_min"])
        self.warning = bool(variables["warning"])
