"""The training loop: optimiser, clipping, learning-rate decay, early stopping on the dev score.

It knows nothing about tagging or classification: it sees ``net.loss(batch)`` and a ``score_dev()``
callable returning a metrics dict with a ``"score"`` entry (higher is better). It prints nothing;
progress goes through :class:`Callbacks`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from seqtag.batching import Batch
from seqtag.config import TrainConfig


class TrainingError(Exception):
    """Training cannot go on (e.g. the loss became NaN); the message says why."""


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


class Callbacks:
    """Progress hooks; the CLI draws bars and tables from these. All are no-ops here."""

    def on_epoch_start(self, epoch: int, batches: int) -> None: ...

    def on_step(self, loss: float) -> None: ...

    def on_epoch_end(self, result: EpochResult) -> None: ...


def prepare_run(config: TrainConfig) -> None:
    """Seed Python, NumPy and torch so a run can be repeated, and set torch's thread count."""
    import random

    import numpy as np

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)


def record_history(meta: dict, history: History) -> None:
    """What the model file keeps of a run: best epoch, why it stopped, best dev scores, every epoch."""
    import dataclasses

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


def fit(
    net: nn.Module,
    batches: Callable[[int], list[Batch]],
    score_dev: Callable[[], dict[str, float]] | None,
    config: TrainConfig,
    callbacks: Callbacks | None = None,
) -> History:
    """Train ``net`` in place; on return it holds the weights of the best dev epoch.

    ``batches(epoch)`` returns that epoch's (shuffled) batches.
    """
    callbacks = callbacks or Callbacks()
    optimizer = make_optimizer(net.parameters(), config)
    history = History()
    best_score = -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    stalled = 0
    lr = config.lr
    try:
        for epoch in range(1, config.epochs + 1):
            net.train()
            epoch_batches = batches(epoch)
            callbacks.on_epoch_start(epoch, len(epoch_batches))
            start = time.perf_counter()
            total, seen = 0.0, 0
            for batch in epoch_batches:
                loss = net.loss(batch)
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"the training loss became {loss.item()} in epoch {epoch}; "
                        "try a lower --lr or a smaller --clip"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.clip > 0:
                    nn.utils.clip_grad_norm_(net.parameters(), config.clip)
                optimizer.step()
                total += loss.item()
                seen += len(batch)
                callbacks.on_step(loss.item())
            seconds = time.perf_counter() - start
            dev: dict[str, float] = {}
            if score_dev is not None:
                net.eval()
                with torch.inference_mode():
                    dev = score_dev()
            score = dev.get("score", float(epoch))  # without dev data the last epoch is the best
            improved = score > best_score
            if improved:
                best_score, stalled = score, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                history.best_epoch = epoch
            else:
                stalled += 1
            result = EpochResult(epoch, total / max(len(epoch_batches), 1), dev, seconds, seen, lr, improved)
            history.epochs.append(result)
            callbacks.on_epoch_end(result)
            if stalled >= config.patience:
                history.stopped = "early stopping"
                break
            if stalled and stalled % 2 == 0 and config.lr_decay < 1:
                lr *= config.lr_decay
                for group in optimizer.param_groups:
                    group["lr"] = lr
    except KeyboardInterrupt:
        history.stopped = "interrupted"
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return history
