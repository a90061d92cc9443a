"""Online concept-drift detection on a stream of per-prediction errors.

As labels arrive, a monitor feeds each prediction's error (``1``/``0`` for a wrong or
right class, or an absolute error for a regression) to a detector one value at a time;
the detector says when the error's level has changed. Detectors are tiny state machines
with one interface (:class:`DriftDetector`)::

    detector = PageHinkley(threshold=50)
    for position, error in enumerate(errors):
        if detector.update(error):
            print("drift at", position)
    saved = detector.state()            # JSON-ready; persist it between monitor runs
    detector = detector_from_state(saved)

After a detection the next :meth:`~DriftDetector.update` starts afresh (the detector
forgets the old concept), as :mod:`river.drift` does, so positions of successive
detections can be collected over one long stream (:func:`detect`).

Detectors, by key in :data:`DETECTORS`:

``page_hinkley``
    :class:`PageHinkley` — the Page-Hinkley test (E. S. Page, "Continuous inspection
    schemes", Biometrika 41, 1954; as used for drift by H. Mouss, D. Mouss, N. Mouss and
    L. Sefouhi, "Test of Page-Hinkley, an approach for fault detection in an
    agro-alimentary production system", Asian Control Conference, 2004). Any real values.
``ddm``
    :class:`DDM` — the Drift Detection Method (J. Gama, P. Medas, G. Castillo and
    P. Rodrigues, "Learning with drift detection", SBIA 2004, LNCS 3171). Binary errors.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from shipyard.errors import InvalidInputError

Mode = Literal["up", "down", "both"]


def _finite(value: float, kind: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{kind} takes numbers; got {value!r} (drop rows without a label first)"
        ) from exc
    if not math.isfinite(number):
        raise InvalidInputError(
            f"{kind} takes finite numbers; got {number} (drop rows without a label first)"
        )
    return number


class DriftDetector(abc.ABC):
    """One online change detector: feed it values with :meth:`update`.

    Subclasses set :attr:`key`, implement :meth:`_step`, :meth:`_clear`,
    :meth:`_params` and :meth:`_variables`, and are listed in :data:`DETECTORS`.
    """

    key: ClassVar[str]

    def __init__(self) -> None:
        self.seen = 0
        """Values seen since construction (not reset by a detection)."""
        self._detected = False
        self._clear()

    @property
    def detected(self) -> bool:
        """Whether the last :meth:`update` detected a change."""
        return self._detected

    def update(self, value: float) -> bool:
        """Add one value; return whether a change is detected at this value.

        The call after a detection first resets the detector (see :meth:`reset`).
        """
        if self._detected:
            self.reset()
        self._detected = self._step(value)
        self.seen += 1
        return self._detected

    def reset(self) -> None:
        """Forget the values seen (the parameters stay)."""
        self._detected = False
        self._clear()

    def state(self) -> dict[str, Any]:
        """Everything needed to carry on later, JSON-ready (see :func:`detector_from_state`)."""
        return {
            "detector": self.key,
            "params": self._params(),
            "seen": self.seen,
            "detected": self._detected,
            "variables": self._variables(),
        }

    @abc.abstractmethod
    def _step(self, value: float) -> bool:
        """Update the statistics with ``value``; return whether a change is detected."""

    @abc.abstractmethod
    def _clear(self) -> None:
        """Set the statistics to their initial values."""

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor's keyword arguments."""

    @abc.abstractmethod
    def _variables(self) -> dict[str, Any]:
        """The statistics, as JSON values (no NaN or infinity)."""

    @abc.abstractmethod
    def _restore(self, variables: dict[str, Any]) -> None:
        """Set the statistics from :meth:`_variables`' output."""


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
        x = _finite(value, "PageHinkley")
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
        x = _finite(value, "DDM")
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


#: Detector classes by key.
DETECTORS: dict[str, type[DriftDetector]] = {PageHinkley.key: PageHinkley, DDM.key: DDM}


def detector_from_state(state: dict[str, Any]) -> DriftDetector:
    """Rebuild a detector from :meth:`DriftDetector.state`; it carries on where it stopped."""
    try:
        cls = DETECTORS[state["detector"]]
        detector = cls(**state["params"])
        detector._restore(state["variables"])
        detector.seen = int(state["seen"])
        detector._detected = bool(state["detected"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"not a saved drift detector state ({exc!r}); save one with detector.state(); "
            f"known detectors: {', '.join(DETECTORS)}"
        ) from exc
    return detector


def detect(detector: DriftDetector, values: Iterable[float]) -> list[int]:
    """Feed ``values`` to ``detector``; the positions (from 0, within ``values``) where it
    detected a change."""
    return [i for i, value in enumerate(values) if detector.update(value)]
