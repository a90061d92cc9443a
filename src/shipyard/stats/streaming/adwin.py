"""ADaptive WINdowing, ADWIN2 (Bifet and Gavaldà 2007)."""

from __future__ import annotations

import math
from typing import Any

from shipyard.errors import InvalidInputError
from shipyard.stats.streaming.base import DriftDetector, finite


class ADWIN(DriftDetector):
    r"""ADaptive WINdowing (A. Bifet and R. Gavaldà, "Learning from time-changing data
    with adaptive windowing", SIAM International Conference on Data Mining, 2007; the
    ADWIN2 variant).

    The window of recent values is kept in an exponential histogram: rows of at most
    ``max_buckets`` buckets, row ``i`` summarising :math:`2^i` values each (count, sum and
    sum of squared deviations), so memory and time are logarithmic in the window length.
    Every ``clock`` values (once more than ``grace_period`` are held) each split of the
    window at a bucket boundary into an older part :math:`W_0` and a newer :math:`W_1`,
    both at least ``min_window_length`` long, is tested:

    .. math::

        |\hat\mu_{W_0} - \hat\mu_{W_1}| > \epsilon_{cut} =
        \sqrt{\frac{2}{m} \sigma_W^2 \ln\frac{2}{\delta'}} + \frac{2}{3m} \ln\frac{2}{\delta'},
        \quad m = \frac{1}{1/n_0 + 1/n_1}, \quad \delta' = \frac{\delta}{\ln n}

    with :math:`\sigma_W^2` the variance of the whole window and :math:`n` its length.
    While a split passes, the oldest bucket is dropped; a change is detected when any
    was. The defaults are those of :class:`river.drift.ADWIN`; river's cut test differs
    slightly (it shrinks :math:`n_0, n_1` by ``min_window_length``, so its cut is a little
    harder to pass): a detection may come one ``clock`` period before river's (tests
    check the first detection is at river's position or one period either side).

    >>> detector = ADWIN()
    >>> stream = [0.0, 1.0] * 200 + [3.0, 4.0] * 200
    >>> [i for i, x in enumerate(stream) if detector.update(x)]
    [415]
    """

    key = "adwin"

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise InvalidInputError(f"delta must be in (0, 1); got {delta}")
        for name, value, low in (
            ("clock", clock, 1),
            ("max_buckets", max_buckets, 2),
            ("min_window_length", min_window_length, 1),
            ("grace_period", grace_period, 2),
        ):
            if value < low:
                raise InvalidInputError(f"{name} must be {low} or more; got {value}")
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        super().__init__()

    def _clear(self) -> None:
        self.rows: list[list[list[float]]] = []
        """``rows[i]``: buckets of ``2**i`` values, oldest first, as ``[sum, squared
        deviations]``; higher rows hold older values."""
        self.width = 0
        self.total = 0.0
        self.variance = 0.0
        """Sum of squared deviations from the mean over the window."""
        self.ticks = 0

    @property
    def mean(self) -> float:
        """Mean of the values in the window."""
        return self.total / self.width if self.width else 0.0

    def _step(self, value: float) -> bool:
        x = finite(value, "ADWIN")
        if self.width:
            self.variance += self.width * (x - self.mean) ** 2 / (self.width + 1)
        self.width += 1
        self.total += x
        if not self.rows:
            self.rows.append([])
        self.rows[0].append([x, 0.0])
        self._compress()
        self.ticks += 1
        if self.ticks % self.clock or self.width <= self.grace_period:
            return False
        detected = False
        while self._cut_found():
            self._drop_oldest()
            detected = True
        return detected

    def _compress(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) <= self.max_buckets:
                return
            (sum1, var1), (sum2, var2) = row[0], row[1]
            size = 2.0**i
            merged = [
                sum1 + sum2,
                var1 + var2 + size * size * (sum1 / size - sum2 / size) ** 2 / (2 * size),
            ]
            del row[:2]
            if i + 1 == len(self.rows):
                self.rows.append([])
            self.rows[i + 1].append(merged)

    def _cut_found(self) -> bool:
        if self.width < 2:
            return False
        log_term = math.log(2 * math.log(self.width) / self.delta)
        spread = self.variance / self.width
        n0, sum0 = 0, 0.0
        buckets = [
            (2**i, bucket[0]) for i in reversed(range(len(self.rows))) for bucket in self.rows[i]
        ]
        for size, bucket_sum in buckets[:-1]:
            n0 += size
            sum0 += bucket_sum
            n1 = self.width - n0
            if n0 < self.min_window_length or n1 < self.min_window_length:
                continue
            m = 1 / (1 / n0 + 1 / n1)
            epsilon = math.sqrt(2 / m * spread * log_term) + 2 / (3 * m) * log_term
            if abs(sum0 / n0 - (self.total - sum0) / n1) > epsilon:
                return True
        return False

    def _drop_oldest(self) -> None:
        i = len(self.rows) - 1
        bucket_sum, bucket_var = self.rows[i].pop(0)
        if not self.rows[i]:
            self.rows.pop()
        size = 2**i
        self.width -= size
        self.total -= bucket_sum
        if self.width:
            gap = bucket_sum / size - self.total / self.width
            self.variance -= bucket_var + size * self.width * gap**2 / (size + self.width)
        else:
            self.total = self.variance = 0.0

    def _params(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
        }

    def _variables(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "width": self.width,
            "total": self.total,
            "variance": self.variance,
            "ticks": self.ticks,
        }

    def _restore(self, variables: dict[str, Any]) -> None:
        self.rows = [[[float(s), float(v)] for s, v in row] for row in variables["rows"]]
        self.width = int(variables["width"])
        self.total = float(variables["total"])
        self.variance = float(variables["variance"])
        self.ticks = int(variables["ticks"])
