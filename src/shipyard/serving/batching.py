"""Adaptive batching, wrapped around a model's predict from outside.

Concurrent requests queue their validated rows; one task takes what is queued (up to
``max_batch_size`` rows), calls the model once on all of it in a worker thread, and
hands each caller exactly its own rows back. Nothing waits when a request arrives
alone; while the model is busy, arriving requests pile up and form the next batch. With
``max_wait_ms > 0`` a batch that has company but is not full waits that long for more.

When the server knows no other request is waiting (``alone``) and the rows can be
predicted on the event loop, the call is made at once, without the queue.

The runtime knows nothing of this: the batcher only calls ``predict(rows)``. Batches the
served model can predict in microseconds (``inline``) run on the event loop itself;
others run in the batcher's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipyard.serving.served import Inputs, Prediction

log = logging.getLogger("shipyard.serving")

Predict = Callable[[Inputs], Prediction]
OnBatch = Callable[[int], None]
#: Told of every successful model call: its rows, its outputs, and each request's tag
#: and row count, in order (the prediction log writes one entry per call).
OnResult = Callable[[Inputs, Prediction, list[Any], list[int]], None]


def _concat_frames(parts: list[Inputs]) -> Inputs:
    return pd.concat([pd.DataFrame(p) for p in parts], ignore_index=True)


@dataclass
class _Pending:
    frame: Inputs
    future: asyncio.Future[Prediction]
    tag: Any = None
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """Counters for metrics: how many model calls, rows, and the last batch size."""

    calls: int = 0
    rows: int = 0
    last_batch: int = 0


def _split(result: Prediction, sizes: list[int]) -> list[Prediction]:
    out, start = [], 0
    for size in sizes:
        stop = start + size
        probabilities = None if result.probabilities is None else result.probabilities[start:stop]
        out.append(
            Prediction(
                result.predictions[start:stop], probabilities, result.classes, result.version
            )
        )
        start = stop
    return out


class AdaptiveBatcher:
    """Merge concurrent ``predict`` calls into one model call."""

    def __init__(
        self,
        predict: Predict,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
        on_batch: OnBatch | None = None,
        concat: Callable[[list[Inputs]], Inputs] = _concat_frames,
        inline: Callable[[Inputs], bool] | None = None,
        on_queue: OnBatch | None = None,
        on_result: OnResult | None = None,
        alone: Callable[[], bool] | None = None,
    ):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.predict_fn = predict
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="predict")
        self.inflight = 0
        self.on_batch = on_batch
        self.concat = concat
        self.inline = inline
        self.on_queue = on_queue
        self.on_result = on_result
        self.alone = alone
        self._busy = False
        self.closed = False

    @property
    def queue_depth(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    async def predict(self, frame: Inputs, tag: Any = None) -> Prediction:
        """Predict ``frame``'s rows, batched with whatever else is waiting; ``tag`` is
        handed to ``on_result`` with them."""
        if (
            self.alone is not None
            and self.inline is not None
            and not self._busy
            and (self._queue is None or self._queue.empty())
            and self.inline(frame)
            and self.alone()
        ):
            return self._direct(frame, tag)
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        self.inflight += 1
        try:
            self._queue.put_nowait(_Pending(frame, future, tag))
            return await future
        finally:
            self.inflight -= 1

    def _direct(self, frame: Inputs, tag: Any) -> Prediction:
        """A request with nothing to batch with (the server says no other is waiting) and
        rows to predict on the event loop: no queue, no hand-over, the same reports."""
        result = self.predict_fn(frame)
        self._record([len(frame)])
        if self.on_result is not None:
            try:
                self.on_result(frame, result, [tag], [len(frame)])
            except Exception:  # reporting must never fail the caller
                log.exception("could not report a batch")
        return result

    async def _take(self) -> list[_Pending]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        rows = len(batch[0].frame)
        deadline = time.perf_counter() + self.max_wait
        while rows < self.max_batch_size:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            elif self.max_wait > 0 and len(batch) > 1 and time.perf_counter() < deadline:
                try:
                    item = await asyncio.wait_for(
                        self._queue.get(), timeout=deadline - time.perf_counter()
                    )
                except TimeoutError:
                    break
            else:
                break
            batch.append(item)
            rows += len(item.frame)
        if self.on_queue is not None:
            self.on_queue(self._queue.qsize())
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._take()
            live = [p for p in batch if not p.future.cancelled()]
            if not live:
                continue
            self._busy = True
            sizes = [len(p.frame) for p in live]
            try:
                frame = live[0].frame if len(live) == 1 else self.concat([p.frame for p in live])
                result = await self._call(loop, frame)
                parts = _split(result, sizes)
                self._report(frame, result, live, parts)
            except Exception as exc:
                if len(live) == 1:
                    parts = [exc]  # type: ignore[list-item]
                else:
                    parts = await self._one_by_one(live)
            self._record(sizes)
            self._busy = False
            for pending, part in zip(live, parts, strict=True):
                if pending.future.cancelled():
                    continue
                if isinstance(part, Exception):
                    pending.future.set_exception(part)
                else:
                    pending.future.set_result(part)

    async def _one_by_one(self, live: list[_Pending]) -> list[Prediction]:
        """One request's rows may be what broke the model: retry each alone, so only its
        caller gets the error."""
        loop = asyncio.get_running_loop()
        parts: list[Prediction] = []
        for pending in live:
            try:
                part = await self._call(loop, pending.frame)
                parts.append(part)
                self._report(pending.frame, part, [pending], [part])
            except Exception as exc:  # handed to that caller
                parts.append(exc)  # type: ignore[arg-type]
        return parts

    def _report(
        self, frame: Inputs, result: Prediction, live: list[_Pending], parts: list[Prediction]
    ) -> None:
        """Hand a successful call to ``on_result``: whole, or, if some callers stopped
        waiting meanwhile (timed out), only the parts of those still waiting."""
        if self.on_result is None:
            return
        try:
            if len(live) == 1:  # the usual case without concurrency: no lists to build
                if not live[0].future.cancelled():
                    self.on_result(frame, result, [live[0].tag], [len(frame)])
                return
            if not any(p.future.cancelled() for p in live):
                sizes = [len(p.frame) for p in live]
                self.on_result(frame, result, [p.tag for p in live], sizes)
                return
            for pending, part in zip(live, parts, strict=True):
                if not pending.future.cancelled():
                    self.on_result(pending.frame, part, [pending.tag], [len(pending.frame)])
        except Exception:  # reporting must never fail the callers
            log.exception("could not report a batch")

    async def _call(self, loop: asyncio.AbstractEventLoop, frame: Inputs) -> Prediction:
        if self.inline is not None and self.inline(frame):
            return self.predict_fn(frame)
        return await loop.run_in_executor(self._executor, self.predict_fn, frame)

    def _record(self, sizes: list[int]) -> None:
        self.stats.calls += 1
        self.stats.rows += sum(sizes)
        self.stats.last_batch = sum(sizes)
        if self.on_batch is not None:
            self.on_batch(sum(sizes))

    async def drain_and_close(self, timeout: float = 60.0) -> None:
        """Let every request already handed over finish, then stop."""
        deadline = time.perf_counter() + timeout
        while self.inflight and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        await self.close()

    async def close(self) -> None:
        """Stop the batching task and its thread."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=False)
