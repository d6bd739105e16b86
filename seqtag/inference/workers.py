"""`predict --workers N`: N processes that each hold the model and predict whole chunks, results in input order.

The parent reads (and tokenizes) the input and cuts it into exactly the chunks the single-process path
forms (``--chunk`` items at a time, in order). Each chunk is one task, so a worker runs the very computation
``--workers 1`` runs on it (same batches, same sort), and the output is byte-identical. Results are written
in input order as they arrive; at most ``N + 1`` chunks are in flight, so memory stays bounded on a stream of
any length.

Start method: fork on Linux. The command loads the model under one torch thread, so this process starts no
OpenMP pool before it forks, and the workers are forked at once, before the parent starts a thread:
they inherit the loaded model (its memory pages shared, no second load, no second ``import torch``).
Workers then run with one torch thread, as torch's own DataLoader workers do, so even an OpenMP pool that a
library caller started earlier in the parent (a test process, a notebook) is never entered in a child --
entering it is what hangs after a fork. Elsewhere (macOS, Windows) the workers are spawned, and each
imports torch and loads the model file itself.

Failures: an :class:`~seqtag.errors.InputError` raised in a worker is raised again in the parent (one
``seqtag: error:`` line); a worker that dies (killed, out of memory) raises :class:`WorkerDied` in the
parent instead of leaving it waiting; on any error, Ctrl-C or a closed stdout the workers are terminated.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

from seqtag.data.context import model_input
from seqtag.errors import InputError

# In a worker: the model it predicts with, or why it has none. In the parent, ``_model`` is set only while
# the workers are forked, so that they inherit it.
_model: Any = None
_failure: str | None = None


class WorkerDied(RuntimeError):
    """A worker process ended abruptly (killed, out of memory); the run cannot complete."""


def start_method() -> str:
    """fork on Linux (see the module docstring), spawn elsewhere (fork is unsafe on macOS)."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


class WorkerPool:
    """``with WorkerPool(model, path, n) as pool: pool.predict(items, chunk, "predict_chunk", batch_size=…)``

    ``model`` is the loaded model (inherited by forked workers); spawned workers load ``path``.
    """

    def __init__(self, model: Any, path: str | Path, workers: int, method: str | None = None) -> None:
        global _model
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.in_flight = workers + 1  # chunks submitted, not yet written: one queued while every worker is busy
        context = multiprocessing.get_context(method or start_method())
        forking = context.get_start_method() == "fork"
        parent = 0 if context.get_start_method() == "forkserver" else os.getpid()  # forkserver: not our child
        self._executor = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(str(path), parent)
        )
        if forking:
            _model = model
            try:
                # With fork the executor starts every worker on the first submit, before its own thread.
                self._executor.submit(int)
            except OSError as error:  # fork refused: out of memory, process limit
                self.terminate()
                raise WorkerDied(f"cannot start the --workers processes ({error.strerror or error})") from None
            finally:
                _model = None

    def predict(self, items: Iterable[Any], chunk: int, method: str, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
        """``(item, prediction)`` in input order: ``model.<method>(tokens of chunk items, **kwargs)`` per chunk
        of ``chunk`` items, as :meth:`seqtag.tasks.base.Model.predict_stream` forms them, run by the workers."""
        pending: deque[tuple[list[Any], Future]] = deque()
        iterator = iter(items)
        while True:
            buffer = list(islice(iterator, chunk))
            if buffer:
                tokens = [model_input(item) for item in buffer]
                pending.append((buffer, self._executor.submit(_run, method, tokens, kwargs)))
            # Write the oldest chunk when it is done, or wait for it once enough are in flight or the input ended.
            while pending and (not buffer or len(pending) >= self.in_flight or pending[0][1].done()):
                done, future = pending.popleft()
                yield from zip(done, _result(future))
            if not buffer:
                return

    def close(self) -> None:
        """Let the workers finish and exit (after every result was taken)."""
        self._executor.shutdown(wait=True)

    def terminate(self) -> None:
        """Stop the workers now, whatever they are doing."""
        executor = self._executor
        stop = getattr(executor, "terminate_workers", None)  # Python 3.14
        if stop is not None:
            stop()
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.terminate()


def _result(future: Future) -> Any:
    try:
        ok, value = future.result()
    except BrokenProcessPool:
        raise WorkerDied("a --workers process ended abruptly (killed, or out of memory?)") from None
    if not ok:
        raise InputError(value)
    return value


# ---------------------------------------------------------------------------- in the workers


def _start_worker(path: str, parent: int) -> None:
    """Pool initializer; never raises (a failing initializer breaks the pool with a traceback on stderr):
    a failure is kept and reported by every task instead."""
    global _model, _failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent acts on it
    _die_with(parent)
    try:
        import torch

        torch.set_num_threads(1)
        if _model is None:  # spawned, not forked
            from seqtag.tasks import load_model

            _model = load_model(path)
    except InputError as error:
        _failure = str(error)
    except Exception as error:  # noqa: BLE001 - reported in the parent, not as a traceback of a child
        _failure = f"a --workers process could not load the model ({error.__class__.__name__}: {error})"


def _die_with(parent: int) -> None:
    """Linux: be sent SIGTERM when the parent dies (say, killed by a scheduler), rather than wait for work forever."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run(method: str, token_lists: list[list[str]], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, predictions)``, or ``(False, message)`` for an InputError, whose path and line would not
    survive pickling (its text does)."""
    if _failure is not None:
        return False, _failure
    try:
        return True, getattr(_model, method)(token_lists, **kwargs)
    except InputError as error:
        return False, str(error)
