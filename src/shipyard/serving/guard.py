"""Timeouts, fallbacks and a circuit breaker around a served model.

A request gets ``timeout`` seconds. When the model raises or runs out of time, the
fallback answers instead (another version, or a fixed value) and the response says
``"fallback": true``. After ``failures`` consecutive failures the breaker opens: the model
is not called at all for ``reset_after`` seconds, then one request probes it; a success
closes the breaker again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.errors import (
    CircuitOpenError,
    ModelFailedError,
    ModelTimeoutError,
    ShipyardError,
)
from shipyard.serving.served import Inputs, Prediction

log = logging.getLogger("shipyard.serving")

PredictAsync = Callable[[Inputs], Awaitable[Prediction]]
#: The guarded model's predict, which also takes a tag for what reports its calls.
PredictTagged = Callable[[Inputs, Any], Awaitable[Prediction]]


class CircuitBreaker:
    """Closed (calls pass), open (calls refused), half-open (one probe at a time)."""

    def __init__(self, failures: int = 5, reset_after: float = 30.0) -> None:
        self.threshold = failures
        self.reset_after = reset_after
        self.consecutive = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._cooled() else "open"

    def _cooled(self) -> bool:
        return self.opened_at is not None and time.monotonic() - self.opened_at >= self.reset_after

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self._cooled() and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.consecutive += 1
        self.probing = False
        if self.consecutive >= self.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()


@dataclass
class FixedAnswer:
    """A fallback that answers every row with the same value."""

    value: Any

    async def __call__(self, frame: Inputs) -> Prediction:
        predictions = np.array([self.value] * len(frame))
        return Prediction(predictions, None, None, None)


class Guard:
    """Calls ``primary`` under a timeout and a breaker, with an optional fallback."""

    def __init__(
        self,
        primary: PredictTagged,
        *,
        timeout: float,
        breaker: CircuitBreaker,
        fallback: PredictAsync | None = None,
        on_fallback: Callable[[], None] | None = None,
        log_level: int = logging.WARNING,
    ) -> None:
        self.primary = primary
        self.timeout = timeout
        self.breaker = breaker
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.log_level = log_level
        """Level of the log line a failure or timeout writes (a shadow's: debug; its
        failures are in the prediction log)."""

    async def predict(
        self, frame: Inputs, tag: Any = None
    ) -> tuple[Prediction, ShipyardError | None]:
        """The prediction and, when the fallback gave it, why the model could not (``tag``
        goes to the model's batcher, which reports successful calls with it)."""
        if not self.breaker.allow():
            return await self._fall_back(
                frame,
                CircuitOpenError(
                    "the model failed repeatedly and is paused; it will be tried again in "
                    f"{self.breaker.reset_after:g} s. Configure a fallback to answer meanwhile"
                ),
            )
        try:
            async with asyncio.timeout(self.timeout):
                result = await self.primary(frame, tag)
        except TimeoutError:
            self.breaker.failure()
            problem: ShipyardError = ModelTimeoutError(
                f"the model took longer than {self.timeout:g} s; send fewer rows, or raise "
                "SHIPYARD_REQUEST_TIMEOUT_MS"
            )
            log.log(self.log_level, "model timed out", extra={"timeout_s": self.timeout})
            return await self._fall_back(frame, problem)
        except ShipyardError:
            raise  # the caller's input, not the model's failure
        except Exception as exc:
            self.breaker.failure()
            log.log(self.log_level, "model failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return await self._fall_back(
                frame, ModelFailedError(f"the model failed: {type(exc).__name__}: {exc}")
            )
        self.breaker.success()
        return result, None

    async def _fall_back(
        self, frame: Inputs, problem: ShipyardError
    ) -> tuple[Prediction, ShipyardError | None]:
        if self.fallback is None:
            raise problem
        if self.on_fallback is not None:
            self.on_fallback()
        return await self.fallback(frame), problem
