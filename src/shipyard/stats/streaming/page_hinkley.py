"""Page-Hinkley test (Page 1954; Mouss et al. 2004)."""

from __future__ import annotations

from typing import Any, Literal

from shipyard.errors import InvalidInputError
from shipyard.stats.streaming.base import DriftDetector, finite

Mode = Literal["up", "down", "both"]


class PageHinkley(DriftDetector):
    r"""Page-Hinkley test for a change in the mean of a stream (Page 1954; Mouss et al. 2004).

    With :math:`\bar x_t` the running mean of the values so far,

    .. math::

        m^+_T = \sum_{t \le T} \alpha^{T-t} (x_t - \bar x_t - \delta), \qquad
        m^-_T = \sum_{t \le T} \alpha^{T-t} (x_t - \bar x_t + \delta)

    and a change is detected once ``min_instances`` values have been seen and
    :math:`m^+_T - \min_{t \le T} m^+_t > \lambda` (an increase, mode ``up``) or
    :math:`\max_{t \le T} m^-_t - m^-_T > \lambda` (a decrease, mode ``down``); ``both``
    tests both. :math:`\delta` is the magnitude of change tolerated, :math:`\lambda`
    (``threshold``) trades detection delay for false alarms, and :math:`\alpha \le 1`
    fades old deviations (1 is the textbook test). The defaults are those of
    :class:`river.drift.PageHinkley`, and detections happen at the same positions.

    >>> detector = PageHinkley(threshold=5.0)
    >>> stream = [0.0] * 100 + [1.0] * 100
    >>> [i for i, x in enumerate(stream) if detector.update(x)]
    [105]
    """

    key = "page_hinkley"

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Mode = "both",
    ) -> None:
        if min_instances < 1:
            raise InvalidInputError(f"min_instances must be 1 or more; got {min_instances}")
        if not delta >= 0:
            raise InvalidInputError(f"delta must be 0 or more; got {delta}")
        if not threshold > 0:
            raise InvalidInputError(f"threshold must be positive; got {threshold}")
        if not 0 < alpha <= 1:
            raise InvalidInputError(f"alpha must be in (0, 1]; got {alpha}")
        if mode not in ("up", "down", "both"):
            raise InvalidInputError(f"mode must be 'up', 'down' or 'both'; got {mode!r}")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode: Mode = mode
        super().__init__()

    def _clear(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.sum_increase = 0.0
        self.sum_decrease = 0.0
        self.min_increase: float | None = None
        self.max_decrease: float | None = None

    def _step(self, value: float) -> bool:
        x = finite(value, "PageHinkley")
        self.n += 1
        self.mean += (x - self.mean) / self.n
        deviation = x - self.mean
        self.sum_increase = self.alpha * self.sum_increase + deviation - self.delta
        self.sum_decrease = self.alpha * self.sum_decrease + deviation + self.delta
        if self.min_increase is None or self.sum_increase < self.min_increase:
            self.min_increase = self.sum_increase
        if self.max_decrease is None or self.sum_decrease > self.max_decrease:
            self.max_decrease = self.sum_decrease
        if self.n < self.min_instances:
            return False
        increase = self.sum_increase - self.min_increase > self.threshold
        decrease = self.max_decrease - self.sum_decrease > self.threshold
        if self.mode == "up":
            return increase
        if self.mode == "down":
            return decrease
        return increase or decrease

    def _params(self) -> dict[str, Any]:
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "mode": self.mode,
        }

    def _variables(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "sum_increase": self.sum_increase,
            "sum_decrease": self.sum_decrease,
            "min_increase": self.min_increase,
            "max_decrease": self.max_decrease,
        }

    def _restore(self, variables: dict[str, Any]) -> None:
        self.n = int(variables["n"])
        self.mean = float(variables["mean"])
        self.sum_increase = float(variables["sum_increase"])
        self.sum_decrease = float(variables["sum_decrease"])
        low, high = variables["min_increase"], variables["max_decrease"]
        self.min_increase = None if low is None else float(low)
        self.max_decrease = None if high is None else float(high)
