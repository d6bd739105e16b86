"""Data-parallel training on PyTorch's own engine: one process per CPU socket / GPU, launched by torchrun.

``torchrun --nproc-per-node N -m seqtag train …`` (or ``seqtag train --nproc N``) starts N copies of the
command; each reads the same data, builds the same vocabularies and network, and joins one process group
(gloo on CPU, NCCL on CUDA). Every optimiser step takes one global length-bucketed batch of
``--batch-size`` sentences — the same batches, in the same order, as a single-process run — and gives
each rank a contiguous slice of it; DistributedDataParallel averages the gradients. Each rank's loss is
weighted by its share of the batch, so the averaged gradient is exactly the single-process one (up to
float summation order, and dropout masks drawn per process). Dev scoring is shared out the same way and
gathered, so every rank takes the same early-stopping decision. Only rank 0 logs and writes files.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import distributed as dist

if TYPE_CHECKING:
    from seqtag.data.batching import Batch

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Cluster:
    """This process's place in the job."""

    rank: int = 0  # global rank, 0 .. world - 1
    world: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine (picks the GPU)

    @property
    def main(self) -> bool:
        """The process that logs and writes the model and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


SINGLE = Cluster()


def launched() -> Cluster:
    """The cluster torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); SINGLE without it."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return SINGLE
    return Cluster(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def join(cluster: Cluster, device: torch.device) -> None:
    """Join the process group (gloo for CPU, NCCL for CUDA); a no-op for a single process."""
    if not cluster.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=30))


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def device_for(cluster: Cluster, device: torch.device) -> torch.device:
    """Each process on its own GPU: ``cuda`` means ``cuda:LOCAL_RANK`` under torchrun."""
    if cluster.distributed and device.type == "cuda" and device.index is None:
        return torch.device("cuda", cluster.local_rank)
    return device


def shard(batch: Sequence[T], cluster: Cluster, sizes: Sequence[int] | None = None) -> tuple[list[T], float]:
    """This rank's contiguous slice of a global batch, and the weight of its mean loss.

    A loss that is a mean over examples (CRF: per sentence) or over tokens (softmax: ``sizes`` = each
    example's token count) is, over the whole batch, the sum of the slices' means weighted by their
    share of the examples (tokens). Times ``world``, because DDP averages the ranks' gradients, that
    share is the weight returned, so the averaged gradient is the whole batch's. A rank left without
    examples (a batch smaller than the world) takes the first one at weight 0: every rank must run
    forward and backward for the all-reduce.
    """
    if not cluster.distributed:
        return list(batch), 1.0
    count = len(batch)
    begin, end = count * cluster.rank // cluster.world, count * (cluster.rank + 1) // cluster.world
    if begin == end:
        return [batch[0]], 0.0
    sizes = sizes if sizes is not None else [1] * count
    return list(batch[begin:end]), cluster.world * sum(sizes[begin:end]) / sum(sizes)


def rank_batches(
    groups: Sequence[Sequence[int]], cluster: Cluster, collate: Callable[[list[int]], Batch],
    sizes: Sequence[int] | None = None,
) -> list[Batch]:
    """This rank's batch of each global batch of example indices: ``collate`` of its :func:`shard`, with the
    shard's loss ``weight`` and the global batch's size in ``examples``. ``sizes``: every example's token
    count, for a loss that is a mean over tokens."""
    out = []
    for group in groups:
        mine, weight = shard(group, cluster, [sizes[i] for i in group] if sizes is not None else None)
        batch = collate(mine)
        batch.weight, batch.examples = weight, len(group)
        out.append(batch)
    return out


def predict_shared(predict: Callable[[list[T]], list[R]], items: Sequence[T], cluster: Cluster) -> list[R]:
    """``predict(items)`` with the items shared out over the ranks and the results gathered on all of them."""
    if not cluster.distributed:
        return predict(list(items))
    mine = predict(list(items[cluster.rank :: cluster.world]))
    gathered: list[Any] = [None] * cluster.world
    dist.all_gather_object(gathered, mine)
    out: list[Any] = [None] * len(items)
    for rank, results in enumerate(gathered):
        out[rank :: cluster.world] = results
    return out


def mean_over_ranks(value: torch.Tensor, cluster: Cluster) -> torch.Tensor:
    """The average of a scalar tensor over the ranks (the same number on every rank)."""
    if not cluster.distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / cluster.world


def any_rank(flag: bool, cluster: Cluster, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on one of them (e.g. a Ctrl-C that reached only one)."""
    if not cluster.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


@contextlib.contextmanager
def main_first(cluster: Cluster) -> Iterator[None]:
    """Rank 0 runs the block first (e.g. converting a vector file into the shared cache), then the rest."""
    if cluster.distributed and not cluster.main:
        dist.barrier()
    yield
    if cluster.distributed and cluster.main:
        dist.barrier()


class LossOf(torch.nn.Module):
    """Exposes ``net.loss(batch)`` as ``forward`` so that DistributedDataParallel hooks around it."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: Any) -> torch.Tensor:
        return self.net.loss(batch)
