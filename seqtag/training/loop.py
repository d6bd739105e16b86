"""The training loop: optimiser, clipping, learning-rate decay, early stopping on the dev score,
checkpoints and resuming.

It knows nothing about tagging or classification: it sees ``net.loss(batch)`` and a ``score_dev()``
callable returning a metrics dict with a ``"score"`` entry (higher is better). It prints nothing;
progress goes through :class:`Callbacks`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from seqtag.data.batching import Batch
from seqtag.training.averaging import WeightAverage
from seqtag.training.checkpoint import (
    CheckpointDir,
    capture_rngs,
    python_rng_state,
    python_rng_tuple,
    restore_rngs,
    trained_weights,
)
from seqtag.config import TrainConfig
from seqtag.training.devices import autocast, grad_scaler
from seqtag.training.distributed import SINGLE, Cluster, LossOf, any_rank, mean_over_ranks
from seqtag.errors import InputError


def _no_buffer_sync() -> dict[str, bool]:
    """DDP options that skip re-broadcasting buffers before every forward: the frozen vector rows are a
    large buffer that never changes (torch >= 2.13 names the option ``forward_sync_buffers``)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    names = inspect.signature(DistributedDataParallel.__init__).parameters
    return {"forward_sync_buffers": False} if "forward_sync_buffers" in names else {"broadcast_buffers": False}


class TrainingError(Exception):
    """Training cannot go on (e.g. the loss became NaN); the message says why."""


@dataclass(frozen=True)
class Runtime:
    """Where and how a run executes. Unlike TrainConfig it is not part of the run's identity: a run
    checkpointed on one device or number of processes may resume on another."""

    device: torch.device = torch.device("cpu")  # where the network and its batches live
    amp: str = "none"  # none | bf16 | fp16: autocast precision of the forward pass
    cluster: Cluster = SINGLE  # this process's place among torchrun's processes


@dataclass
class EpochResult:
    epoch: int  # 1-based
    loss: float  # mean training loss over the epoch's batches
    dev: dict[str, float]  # dev metrics ({} without dev data)
    seconds: float  # wall time of the training pass (dev scoring excluded)
    sentences: int  # training examples seen
    lr: float  # learning rate used in this epoch
    best: bool  # the best epoch so far (the one that will be kept)


@dataclass
class History:
    epochs: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "max epochs"  # why training ended: max epochs | early stopping | interrupted

    @property
    def best(self) -> EpochResult | None:
        return next((e for e in self.epochs if e.epoch == self.best_epoch), None)


@dataclass
class Progress:
    """Where a run stands between two steps: all of it goes into a checkpoint (JSON-able)."""

    epoch: int = 1  # the epoch in progress, 1-based
    step: int = 0  # batches of it trained on
    loss: float = 0.0  # their summed loss
    seen: int = 0  # their examples
    seconds: float = 0.0  # training time spent on the epoch so far
    lr: float = 0.0  # learning rate of the epoch
    best_score: float | None = None  # best dev score so far (None before the first epoch ends)
    stalled: int = 0  # epochs since the best one
    done: bool = False  # stopped early: nothing is left to train
    start_loss: float | None = None  # the run's first batch loss: divergence is measured against it


_PROGRESS_TYPES = {
    "epoch": int, "step": int, "loss": (int, float), "seen": int, "seconds": (int, float), "lr": (int, float),
    "best_score": (int, float, type(None)), "stalled": int, "done": bool, "start_loss": (int, float, type(None)),
}

# A batch loss this many times the run's first one (or 1, if that was smaller) means training diverged.
# Losses are means over sentences or tokens, so batches of other lengths stay within a small factor of
# each other; an exploding run passes 1e4 within a step or two, whether or not it ever reaches inf / NaN
# (which depends on the CPU's floating-point kernels).
DIVERGENCE_FACTOR = 1e4


class Callbacks:
    """Progress hooks; the CLI draws bars and tables from these. All are no-ops here."""

    def on_epoch_start(self, epoch: int, batches: int) -> None: ...

    def on_step(self, loss: float) -> None: ...

    def on_epoch_end(self, result: EpochResult) -> None: ...


def prepare_run(config: TrainConfig) -> None:
    """Seed Python, NumPy and torch so a run can be repeated, and set torch's thread count.

    ``deterministic`` also makes torch use deterministic kernels and, unless ``threads`` says otherwise,
    one thread: parallel reductions may add up in a different order from run to run.
    """
    import numpy as np

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
    threads = config.threads or (1 if config.deterministic else 0)
    if threads:
        torch.set_num_threads(threads)


def record_history(meta: dict, history: History) -> None:
    """What the model file keeps of a run: best epoch, why it stopped, best dev scores, every epoch."""
    best = history.best
    meta["best_epoch"] = history.best_epoch
    meta["stopped"] = history.stopped
    meta["dev_scores"] = best.dev if best is not None else {}
    meta["history"] = [dataclasses.asdict(e) for e in history.epochs]


def make_optimizer(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    return torch.optim.Adam(params, lr=config.lr)


@dataclass
class TrainingState:
    """What :func:`fit` carries from step to step besides the weights: all of it goes into a checkpoint."""

    optimizer: torch.optim.Optimizer
    progress: Progress
    history: History
    best: dict[str, torch.Tensor] | None  # weights of the best epoch so far, frozen rows left out
    epoch_start: tuple  # the batch shuffler's state when the current epoch began
    average: WeightAverage | None = None  # with --ema: what dev scores and the best weights come from


def start_training(
    net: nn.Module, config: TrainConfig, saved: dict[str, Any] | None = None, where: Any = None
) -> TrainingState:
    """A new run's state; or, from a checkpoint's ``saved`` state, the run's state with ``net`` and the
    global RNGs set as they were. A state that does not fit ``net`` is an InputError naming ``where``."""
    optimizer = make_optimizer(net.parameters(), config)
    average = WeightAverage(net, config.ema) if config.ema > 0 else None
    if saved is None:
        return TrainingState(optimizer, Progress(lr=config.lr), History(), None, random.Random(config.seed).getstate(),
                             average)
    return _restore(saved, net, optimizer, where, average)


def fit(
    net: nn.Module,
    batches: Callable[[random.Random], list[Batch]],
    score_dev: Callable[[], dict[str, float]] | None,
    config: TrainConfig,
    callbacks: Callbacks | None = None,
    checkpoints: CheckpointDir | None = None,
    state: TrainingState | None = None,
    runtime: Runtime = Runtime(),
) -> History:
    """Train ``net`` in place; on return it holds the weights of the best dev epoch.

    ``batches(rng)`` returns one epoch's batches, shuffled with ``rng`` (and no other randomness): the
    shuffler belongs to the loop so that a checkpoint can replay an epoch's batch order. With
    ``checkpoints`` the whole state is saved at every epoch end, every ``config.checkpoint_every`` steps
    and when interrupted; ``state`` (from :func:`start_training`) is where to start, by default afresh.

    ``runtime`` says where the batches and ``net`` live and which autocast precision to use; under
    torchrun every rank calls ``fit`` with its share of each batch (:func:`seqtag.training.distributed.shard`) and
    the network is wrapped in DistributedDataParallel here.

    Ctrl-C stops after the current step (a second one at once, in a single process) with the best weights so far and
    ``history.stopped == "interrupted"``. A NaN / infinite loss, gradient or weight raises
    :class:`TrainingError` before any checkpoint holds it.
    """
    callbacks = callbacks or Callbacks()
    state = state or start_training(net, config)
    optimizer, progress, history = state.optimizer, state.progress, state.history
    shuffler = random.Random()
    cluster = runtime.cluster
    loss_of: Callable[[Batch], torch.Tensor] = net.loss
    if cluster.distributed:
        from torch.nn.parallel import DistributedDataParallel

        loss_of = DistributedDataParallel(
            LossOf(net), device_ids=[runtime.device] if runtime.device.type == "cuda" else None, **_no_buffer_sync()
        )
    scaler = grad_scaler(runtime.device, runtime.amp)

    def stop_requested() -> bool:  # one rank's Ctrl-C stops them all at the same step
        return any_rank(interrupt.requested, cluster, runtime.device)

    def save() -> None:
        if checkpoints is None:
            return
        if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
            raise _diverged("the weights became infinite or NaN", "before a checkpoint", checkpoints)
        checkpoints.save({
            "weights": trained_weights(net.state_dict()),
            "best_weights": state.best,
            "optimizer": optimizer.state_dict(),
            "average": state.average.state_dict() if state.average is not None else None,
            "progress": dataclasses.asdict(progress),
            "history": {"epochs": [dataclasses.asdict(e) for e in history.epochs], "best_epoch": history.best_epoch},
            "rng": {**capture_rngs(), "batches": python_rng_state(state.epoch_start)},
        })

    every = config.checkpoint_every
    with _deferred_interrupt(second_stops=not cluster.distributed) as interrupt:
        try:
            while not progress.done and progress.epoch <= config.epochs:
                # Every rank asks at the same point: a Ctrl-C that reached one rank during the last epoch's
                # end must not let it leave while another starts the next epoch's collectives.
                if stop_requested():
                    interrupt.requested = True
                    break
                shuffler.setstate(state.epoch_start)
                epoch_batches = batches(shuffler)
                callbacks.on_epoch_start(progress.epoch, len(epoch_batches))
                net.train()
                began = time.perf_counter() - progress.seconds
                for batch in epoch_batches[progress.step:]:
                    loss = _step(net, loss_of, batch, optimizer, config, progress, checkpoints, runtime, scaler)
                    if state.average is not None:
                        state.average.update(net)
                    progress.step += 1
                    progress.loss += loss
                    progress.seen += getattr(batch, "examples", 0) or len(batch)
                    progress.seconds = time.perf_counter() - began
                    callbacks.on_step(loss)
                    stop = stop_requested()
                    if stop or (every and progress.step % every == 0 and progress.step < len(epoch_batches)):
                        save()
                    if stop:
                        interrupt.requested = True
                        break
                else:
                    averaged = state.average.applied(net) if state.average is not None else contextlib.nullcontext()
                    with averaged:  # dev scores, and the best weights kept, are the average's
                        _end_epoch(net, score_dev, config, callbacks, optimizer, progress, history, len(epoch_batches))
                        if history.epochs[-1].best:
                            state.best = {k: v.detach().clone() for k, v in trained_weights(net.state_dict()).items()}
                    state.epoch_start = shuffler.getstate()
                    save()
        except KeyboardInterrupt:  # a second Ctrl-C, or one where our handler could not be installed
            interrupt.requested = True
    if interrupt.requested:
        history.stopped = "interrupted"
    elif progress.done:
        history.stopped = "early stopping"
    if state.best is not None:
        net.load_state_dict({**net.state_dict(), **state.best})
    net.eval()
    return history


def _step(
    net: nn.Module, loss_of: Callable[[Batch], torch.Tensor], batch: Batch, optimizer: torch.optim.Optimizer,
    config: TrainConfig, progress: Progress, checkpoints: CheckpointDir | None, runtime: Runtime,
    scaler: torch.amp.GradScaler | None,
) -> float:
    """One optimiser step; the mean loss of the (global) batch. Refuses to step on a non-finite loss or
    gradient, except that fp16 loss scaling skips steps whose scaled gradient overflowed, by design."""
    with autocast(runtime.device, runtime.amp):
        loss = loss_of(batch).float() * getattr(batch, "weight", 1.0)
    # Every rank checks the same (averaged) number, so they all stop together.
    mean_loss = mean_over_ranks(loss.detach(), runtime.cluster)
    problem = divergence(mean_loss.item(), progress)
    if problem:
        raise _diverged(problem, _at(progress), checkpoints)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    # With clip 0 the norm is still needed (an infinite limit scales by exactly 1): an inf / NaN
    # gradient would turn every weight into NaN.
    norm = nn.utils.clip_grad_norm_(net.parameters(), config.clip if config.clip > 0 else math.inf)
    if scaler is not None:
        scaler.step(optimizer)  # skipped when the scaled gradient overflowed; the scale then shrinks
        scaler.update()
    elif not torch.isfinite(norm):
        raise _diverged(f"the gradient norm became {norm.item()}", _at(progress), checkpoints)
    else:
        optimizer.step()
    return mean_loss.item()


def divergence(loss: float, progress: Progress) -> str:
    """Why ``loss`` shows the run diverged ("" if it does not): not finite, or more than
    :data:`DIVERGENCE_FACTOR` times the run's first batch loss (recorded in ``progress`` here)."""
    if not math.isfinite(loss):
        return f"the training loss became {loss}"
    if progress.start_loss is None:
        progress.start_loss = loss
    elif loss > DIVERGENCE_FACTOR * max(progress.start_loss, 1.0):
        return f"the training loss rose to {loss:.3g} from {progress.start_loss:.3g} at the start (it diverged)"
    return ""


def _end_epoch(
    net: nn.Module, score_dev: Callable[[], dict[str, float]] | None, config: TrainConfig, callbacks: Callbacks,
    optimizer: torch.optim.Optimizer, progress: Progress, history: History, steps: int,
) -> None:
    """Score dev, record the epoch, decide on early stopping and lr decay; move ``progress`` to the next epoch."""
    dev: dict[str, float] = {}
    if score_dev is not None:
        net.eval()
        with torch.inference_mode():
            dev = score_dev()
    score = dev.get("score", float(progress.epoch))  # without dev data the last epoch is the best
    improved = progress.best_score is None or score > progress.best_score
    if improved:
        progress.best_score, progress.stalled = score, 0
        history.best_epoch = progress.epoch
    else:
        progress.stalled += 1
    result = EpochResult(
        progress.epoch, progress.loss / max(steps, 1), dev, progress.seconds, progress.seen, progress.lr, improved
    )
    history.epochs.append(result)
    callbacks.on_epoch_end(result)
    if progress.stalled >= config.patience:
        progress.done = True
    else:
        progress.lr = next_lr(progress.lr, progress.epoch, progress.stalled, config)
        for group in optimizer.param_groups:
            group["lr"] = progress.lr
    progress.epoch += 1
    progress.step, progress.loss, progress.seen, progress.seconds = 0, 0.0, 0, 0.0


def next_lr(lr: float, epoch: int, stalled: int, config: TrainConfig) -> float:
    """The learning rate of epoch ``epoch + 1``, after epoch ``epoch`` (1-based) ran at ``lr`` and dev has not
    improved for ``stalled`` epochs: times ``lr_decay`` at every second stalled epoch, and over the run
    ``lr0 / (1 + lr_time_decay × (t − 1))`` for epoch t. Both are factors on the last epoch's rate, so a
    resumed run, which restores that rate, carries on with the same schedule."""
    if stalled and stalled % 2 == 0 and config.lr_decay < 1:
        lr *= config.lr_decay
    decay = config.lr_time_decay
    return lr * (1 + decay * (epoch - 1)) / (1 + decay * epoch)


def _at(progress: Progress) -> str:
    return f"in epoch {progress.epoch} (step {progress.step + 1})"


def _diverged(problem: str, when: str, checkpoints: CheckpointDir | None) -> TrainingError:
    message = f"{problem} {when}; try a lower --lr or a smaller --clip"
    if checkpoints is not None:
        message += f"; {checkpoints.describe()}"
    return TrainingError(message)


def _restore(state: dict[str, Any], net: nn.Module, optimizer: torch.optim.Optimizer, where: Any,
             average: WeightAverage | None = None) -> TrainingState:
    """Load a checkpoint's state into ``net``, ``optimizer`` and the global RNGs; anything that does not
    fit the network is a damaged checkpoint (an InputError)."""
    history = History()
    try:
        expected = set(trained_weights(net.state_dict()))
        best = state.get("best_weights")
        for name, weights in (("weights", state["weights"]), ("best_weights", best or {})):
            if weights and set(weights) != expected:
                raise ValueError(f"{name} do not match the network's parameters")
        net.load_state_dict({**net.state_dict(), **state["weights"]})
        optimizer.load_state_dict(state["optimizer"])
        for param, values in optimizer.state.items():
            for value in values.values():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != param.shape:
                    raise ValueError("optimizer state does not match the network's parameters")
        if average is not None:
            if not state.get("average"):
                raise ValueError("the checkpoint has no weight average (its run had no --ema)")
            average.load_state_dict(state["average"])
        progress = Progress(**state["progress"])
        for name, kind in _PROGRESS_TYPES.items():
            if not isinstance(getattr(progress, name), kind):
                raise TypeError(f"progress entry {name!r} is {getattr(progress, name)!r}")
        history.epochs = [EpochResult(**epoch) for epoch in state["history"]["epochs"]]
        history.best_epoch = int(state["history"]["best_epoch"])
        restore_rngs(state["rng"])
        epoch_start = python_rng_tuple(state["rng"]["batches"])
        random.Random().setstate(epoch_start)  # validates it
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise InputError(f"damaged checkpoint ({error.__class__.__name__}: {first_line})", where) from None
    return TrainingState(optimizer, progress, history, best, epoch_start, average)


class _Interrupt:
    requested = False


@contextlib.contextmanager
def _deferred_interrupt(second_stops: bool = True) -> Iterator[_Interrupt]:
    """Turn the first Ctrl-C into a request the loop honours between steps, so the weights, optimizer
    and checkpoint stay consistent; a second Ctrl-C raises KeyboardInterrupt at once, unless not
    ``second_stops``: under torchrun the launcher passes the terminal's Ctrl-C on to the ranks, so each
    gets it twice, and a rank dying inside a collective would take the others down before rank 0 saves
    (the launcher kills ranks that do not stop in time). Only in the main thread, and only over Python's
    default handler (an application's own handler is left alone)."""
    interrupt = _Interrupt()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield interrupt
        return

    def request(signum: int, frame: Any) -> None:
        if interrupt.requested and second_stops:
            raise KeyboardInterrupt
        interrupt.requested = True

    signal.signal(signal.SIGINT, request)
    # Restart system calls the signal lands in instead of failing them with EINTR: a rank blocked in a gloo
    # collective would otherwise die of the Ctrl-C it is meant to take in its stride, taking the others down.
    signal.siginterrupt(signal.SIGINT, False)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
