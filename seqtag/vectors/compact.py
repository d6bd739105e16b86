"""Frozen pretrained word rows at about 5 bits per value, so that a model file keeps every row of its vectors.

A model keeps the pretrained vectors of words it never saw in training (400,000 GloVe rows, beside some
20,000 trained ones), frozen, for the words a user's text will bring. In float16 they were 80 % of a 47.7 MB
CoNLL-2003 model. Here the first ``INT8_ROWS`` rows (vector files list the most frequent words first, so these
are the rows a text meets most often) keep 8 bits per value with a float16 scale per row, and the rest 4
bits, as indices into QLoRA's NormalFloat levels (Dettmers et al., 2023: the quantiles of a normal
distribution, which fit embedding values) scaled by the row's largest magnitude.

Training rounds the rows this way before it starts (:func:`rounded`), so a saved model predicts exactly
as the trained one did on dev. Rounding is idempotent (``rounded(rounded(x)) == rounded(x)``, bit for bit):
the largest magnitude of a rounded row is its scale times an extreme level, so the scale and every index
come back unchanged.
"""
from __future__ import annotations

import torch

INT8_ROWS = 50_000
FROZEN_SUFFIX = "extra_words"  # the state-dict names of frozen pretrained rows end so (TokenEncoder's buffer)
NF4_LEVELS = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
])  # bitsandbytes' NF4 code book: 16 values from -1 to 1, 0 included
_MIDPOINTS = (NF4_LEVELS[1:] + NF4_LEVELS[:-1]) / 2
PARTS = ("shape", "int8", "int8_scale", "nf4", "nf4_scale")  # the tensors :func:`pack` returns


def pack(rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """rows (N, D) float -> the tensors a model file keeps (names: :data:`PARTS`).

    ``int8`` (min(N, INT8_ROWS), D) int8 and ``int8_scale`` (min(N, INT8_ROWS),) float16; ``nf4`` (N - that, ceil(D / 2))
    uint8, two 4-bit level indices per byte (high nibble first), and ``nf4_scale`` float16; ``shape`` (2,) long.
    """
    if rows.dim() != 2:
        raise ValueError(f"expected rows of shape (N, D), got {tuple(rows.shape)}")
    rows = rows.detach().float().cpu()
    count, dim = rows.shape
    head, tail = rows[:INT8_ROWS], rows[INT8_ROWS:]
    int8_scale = (head.abs().amax(dim=1) / 127).half() if dim else head.new_zeros(len(head)).half()
    int8 = _divided(head, int8_scale).round().clamp(-127, 127).to(torch.int8)
    nf4_scale = tail.abs().amax(dim=1).half() if dim else tail.new_zeros(len(tail)).half()
    # shape: (n, D), the nearest level of each scaled value (a value halfway between two takes the lower)
    codes = torch.bucketize(_divided(tail, nf4_scale), _MIDPOINTS).to(torch.uint8)
    if dim % 2:
        codes = torch.cat([codes, codes.new_full((len(codes), 1), 7)], dim=1)  # level 7 is 0.0
    nf4 = (codes[:, 0::2] << 4) | codes[:, 1::2]
    return {"shape": torch.tensor([count, dim]), "int8": int8, "int8_scale": int8_scale, "nf4": nf4, "nf4_scale": nf4_scale}


def unpack(parts: dict[str, torch.Tensor]) -> torch.Tensor:
    """The (N, D) float32 rows of :func:`pack`'s tensors."""
    count, dim = (int(n) for n in parts["shape"].tolist())
    head = parts["int8"].float() * parts["int8_scale"].float().unsqueeze(1)
    nf4 = parts["nf4"]
    codes = torch.stack([nf4 >> 4, nf4 & 15], dim=2).reshape(len(nf4), 2 * nf4.shape[1])[:, :dim].long()
    tail = NF4_LEVELS[codes] * parts["nf4_scale"].float().unsqueeze(1)
    rows = torch.cat([head.reshape(-1, dim), tail.reshape(-1, dim)])
    if tuple(rows.shape) != (count, dim):
        raise ValueError(f"expected packed rows of shape {(count, dim)}, got {tuple(rows.shape)}")
    return rows


def rounded(rows: torch.Tensor) -> torch.Tensor:
    """rows (N, D) as a model file keeps them: ``unpack(pack(rows))``, float32."""
    return unpack(pack(rows))


def _divided(rows: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """rows (n, D) / scale (n,) per row; rows whose scale is 0 (all zeros, or too small for float16) give 0."""
    scale = scale.float().unsqueeze(1)
    return torch.where(scale > 0, rows / scale.clamp_min(torch.finfo(torch.float32).tiny), torch.zeros(()))


def pack_state(state: dict[str, torch.Tensor], suffix: str) -> dict[str, torch.Tensor]:
    """A state dict with each tensor whose name ends with ``suffix`` replaced by its :func:`pack` parts, named
    ``NAME.packed_PART``; the other tensors as they are."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.endswith(suffix):
            out.update({f"{name}.packed_{part}": value for part, value in pack(tensor).items()})
        else:
            out[name] = tensor
    return out


def unpack_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`pack_state`: packed parts become their float32 rows again."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        packed = _packed(name)
        if packed:
            groups.setdefault(packed[0], {})[packed[1]] = tensor
        else:
            out[name] = tensor
    for base, parts in groups.items():
        missing = [part for part in PARTS if part not in parts]
        if missing:
            raise ValueError(f"{base}: packed rows without their {', '.join(missing)}")
        out[base] = unpack(parts)
    return out


def stored_values(state: dict[str, torch.Tensor]) -> int:
    """How many floating-point values ``state`` stands for, packed rows counted as their N x D values."""
    total = 0
    for name, tensor in state.items():
        packed = _packed(name)
        if packed:
            if packed[1] == "shape":
                total += int(tensor.prod())
        elif tensor.is_floating_point():
            total += tensor.numel()
    return total


def _packed(name: str) -> tuple[str, str] | None:
    """``(NAME, PART)`` for a state-dict name :func:`pack_state` wrote (``NAME.packed_PART``), else None."""
    base, marker, part = name.rpartition(".packed_")
    return (base, part) if marker and part in PARTS else None
