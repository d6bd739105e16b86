"""Where the network runs (``--device``) and in which precision (``--amp``).

Model files and checkpoints always hold CPU tensors, so a model trained on a GPU tags on a CPU and the
other way round; :meth:`seqtag.tasks.base.Model.to` moves a loaded model.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from seqtag.errors import InputError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, option: str = "--device") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a torch.device that exists here; else an InputError."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"expected auto, cpu, cuda or cuda:N, got {name!r}", option) from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise InputError(f"expected auto, cpu, cuda or cuda:N, got {name!r}", option)
    if not torch.cuda.is_available():
        raise InputError(f"{name}: no CUDA device is available here (torch.cuda.is_available() is False)", option)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise InputError(f"{name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}", option)
    return device


@contextlib.contextmanager
def autocast(device: torch.device, amp: str) -> Iterator[None]:
    """Mixed precision for the forward pass: ``amp`` is ``none``, ``bf16`` or ``fp16``."""
    if amp == "none":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp]):
        yield


def grad_scaler(device: torch.device, amp: str) -> torch.amp.GradScaler | None:
    """fp16 gradients underflow without loss scaling; bf16 has float32's range and needs none."""
    return torch.amp.GradScaler(device.type) if amp == "fp16" else None
