"""Dynamic batching: concurrent requests gathered into shared forward passes, run in one worker thread.

A request hands the batcher its token lists and a *job key* (the prediction method and its options, e.g.
``("predict_details", (("confidence", True), ("nbest", 0)))``); the coroutine awaits a future while the
worker thread runs the model, so the event loop never waits on it. The worker takes the oldest job and
every later job with the same key, up to ``max_batch`` token lists in all (a single larger job runs
alone), waiting for more to come at most ``max_wait`` seconds after the oldest job arrived or the last pass
ended, whichever is later, unless the batch is full or every request in the server (``crowd()``, counted
by the server from the moment a request's headers are read) is already queued. Counting from the end of
the last pass matters under load: the clients that pass has just answered send their next requests within
a few milliseconds, and without the wait the jobs queued during the pass would run alone, splitting the
clients into two half-size passes for good (measured: +13 % sentences/s with 32 single-sentence clients).
One forward pass serves them all; each job gets its own slice of the predictions back.

If a pass over several jobs raises, each job is run again alone, so one bad request fails alone.
:meth:`Batcher.close` lets the worker finish every queued job and then stops it.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("seqtag.serve")


class Closed(RuntimeError):
    """The batcher no longer takes jobs (the server is shutting down)."""


@dataclass(eq=False)
class _Job:
    key: Hashable
    token_lists: Sequence[Sequence[str]]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    arrived: float = field(default_factory=time.monotonic)


def _deliver(future: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    """Resolve ``future`` in its event loop, unless its request has gone (cancelled)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Batcher:
    """Runs ``run(key, token_lists) -> predictions`` (one per token list, in order) in a worker thread on
    batches gathered from concurrent :meth:`submit` calls."""

    def __init__(self, run: Callable[[Hashable, list[Sequence[str]]], list[Any]], max_batch: int = 32,
                 max_wait: float = 0.002, name: str = "model", crowd: Callable[[], int] = lambda: 0,
                 setup: Callable[[], None] | None = None) -> None:
        self._run = run
        self._setup = setup  # run first in the worker thread (e.g. its torch threads)
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        self.crowd = crowd  # how many requests are in the server now (queued ones included)
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._closed = False
        self._free_since = 0.0  # when the last pass ended
        self._thread = threading.Thread(target=self._work, name=f"seqtag-batcher-{name}", daemon=True)
        self._thread.start()

    # ---- the event-loop side ----

    def poke(self) -> None:
        """A request left the server: a pass waiting for company may be able to start."""
        with self._cond:
            self._cond.notify()

    async def submit(self, key: Hashable, token_lists: Sequence[Sequence[str]]) -> list[Any]:
        """The predictions for ``token_lists`` (one per list, in order), computed in a shared pass."""
        if not token_lists:
            return []
        loop = asyncio.get_running_loop()
        job = _Job(key, token_lists, loop.create_future(), loop)
        with self._cond:
            if self._closed:
                raise Closed("the server is shutting down")
            self._jobs.append(job)
            self._cond.notify()
        return await job.future

    def close(self, timeout: float | None = None) -> None:
        """Take no more jobs; finish the queued ones, then stop the worker (waiting ``timeout`` seconds)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def queued_keys(self) -> list[Hashable]:
        """The key of each queued job (for /healthz)."""
        with self._cond:
            return [job.key for job in self._jobs]

    # ---- the worker thread ----

    def _take(self) -> list[_Job] | None:
        """The next batch of jobs (None when closed and drained), waiting as the module docstring says."""
        with self._cond:
            while not self._jobs:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._jobs[0]
            # Counted from when the worker became free: jobs that queued during the last pass wait for
            # the requests that pass has just answered, which are on their way back.
            deadline = max(first.arrived, self._free_since) + self.max_wait
            while not self._closed:
                same = sum(len(job.token_lists) for job in self._jobs if job.key == first.key)
                # The crowd counts the queued requests too: any beyond them are on their way.
                if same >= self.max_batch or self.crowd() <= len(self._jobs):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, size, rest = [], 0, deque()
            while self._jobs:
                job = self._jobs.popleft()
                if job.key == first.key and (not batch or size + len(job.token_lists) <= self.max_batch):
                    batch.append(job)
                    size += len(job.token_lists)
                else:
                    rest.append(job)
            self._jobs = rest
            return batch

    def _work(self) -> None:
        if self._setup is not None:
            self._setup()
        while (batch := self._take()) is not None:
            self._pass(batch)
            self._free_since = time.monotonic()

    def _pass(self, batch: list[_Job]) -> None:
        token_lists = [tokens for job in batch for tokens in job.token_lists]
        try:
            predictions = self._run(batch[0].key, token_lists)
        except Exception as error:  # noqa: BLE001 - handed to the request(s) that caused it
            if len(batch) > 1:
                for job in batch:  # find the job that fails; the others still get their answers
                    self._pass([job])
                return
            log.exception("prediction failed")
            job = batch[0]
            job.loop.call_soon_threadsafe(_deliver, job.future, None, error)
            return
        at = 0
        for job in batch:
            part = predictions[at : at + len(job.token_lists)]
            at += len(job.token_lists)
            try:
                job.loop.call_soon_threadsafe(_deliver, job.future, part)
            except RuntimeError:  # the event loop is closed: nobody is waiting any more
                pass
