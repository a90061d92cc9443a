"""The interface every online drift detector implements."""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

from shipyard.errors import InvalidInputError


def finite(value: float, kind: str) -> float:
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
