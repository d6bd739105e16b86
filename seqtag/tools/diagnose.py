"""Gradient diagnostics: how much of the gradient at a sentence's last step reaches the steps before it.

This is the vanishing-gradient picture of the course material, measured on real sentences. The first
recurrent layer's forward direction runs one step at a time over the token vectors (eval mode, so no
dropout), giving states h_1 … h_T. The "loss at the last step" is the norm of the final state,
L = ‖h_T‖, and the measure at distance d is ‖∂L/∂h_{T-d}‖: the gradient that reaches h_{T-d} through
the recurrence. At d = 0 it is exactly 1 (the gradient of a norm is a unit vector), so each value is the
share of a unit signal at the last step that survives d steps back. The norm stands in for a task loss
because it needs no labels and means the same for taggers, classifiers and untrained networks.

Nothing here prints; the CLI (`seqtag diagnose gradients`) formats the results.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seqtag.data.batching import Batch, Collator
from seqtag.config import DataConfig, ModelConfig
from seqtag.errors import InputError
from seqtag.data.inputs import Inputs
from seqtag.models.encoders import TokenEncoder

DIAGNOSE_BATCH = 32  # sentences per step-by-step pass


@dataclass
class GradientCurve:
    """Mean gradient norm by distance from the last step, over ``sentences`` sentences."""

    label: str  # what was measured: "lstm", "gru", "rnn", "irnn", or "rnn (relu)" …
    mean_norm: list[float]  # index d: mean over sentences of ‖∂‖h_T‖ / ∂h_{T-d}‖
    sentences: int

    @property
    def relative(self) -> list[float | None]:
        """``mean_norm`` divided by its value at distance 0 (None when that is 0: a dead ReLU state)."""
        first = self.mean_norm[0]
        return [value / first if first > 0 else None for value in self.mean_norm]


def cell_label(config: ModelConfig) -> str:
    """A short name for the recurrent cell a config builds: ``irnn`` for ReLU + identity init."""
    if config.cell != "rnn":
        return config.cell
    if config.activation == "relu" and config.identity_init:
        return "irnn"
    if config.activation == "tanh" and not config.identity_init:
        return "rnn"
    return f"rnn ({config.activation}{', identity init' if config.identity_init else ''})"


def read_token_lists(path: Path, data_config: DataConfig, task: str) -> Iterator[list[str]]:
    """Token lists of a file of ``task``'s data (a tagging file's sentences, a classification file's texts)."""
    from seqtag.tasks import task_class

    return task_class(task).read_token_lists(path, data_config)


def long_sentences(token_lists: Iterable[list[str]], min_length: int, limit: int) -> list[list[str]]:
    """The first ``limit`` token lists holding at least ``min_length`` tokens."""
    found: list[list[str]] = []
    for tokens in token_lists:
        if len(tokens) >= min_length:
            found.append(tokens)
            if len(found) == limit:
                break
    return found


def fresh_encoder(inputs: Inputs, config: ModelConfig, seed: int) -> TokenEncoder:
    """An untrained encoder for ``config`` over ``inputs``' vocabularies, initialised from ``seed``."""
    config = dataclasses.replace(config, word_dim=inputs.config.word_dim)
    torch.manual_seed(seed)  # every compared cell starts from the same random stream
    chars = len(inputs.chars) if inputs.chars is not None else 1
    encoder = TokenEncoder(config, len(inputs.words), chars, inputs.words.trainable)
    encoder.load_pretrained(torch.from_numpy(inputs.matrix))
    return encoder.eval()


def gradient_norms(encoder: TokenEncoder, batch: Batch) -> torch.Tensor:
    """‖∂‖h_T‖ / ∂h_{T-d}‖ per sentence and distance: (B, T), zero where d ≥ the sentence's length.

    h_t are the first layer's forward-direction states; each sentence's T is its own length.
    """
    if encoder.rnn is None:
        raise InputError("gradient diagnostics need a recurrent encoder; this network is a window MLP (--encoder window)")
    layer = encoder.rnn.forward_layers[0]
    with torch.enable_grad():
        x = encoder.token_vectors(batch).detach()  # shape: (B, T, D)
        size, width = x.shape[0], x.shape[1]
        # A leaf that needs a gradient, so every later state does, whatever the weights' requires_grad.
        h = x.new_zeros(1, size, layer.hidden_size, requires_grad=True)  # shape: (1, B, H)
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] = (h, torch.zeros_like(h)) if isinstance(layer, nn.LSTM) else h
        states = []
        for t in range(width):
            _, state = layer(x[:, t : t + 1], state)
            states.append(state[0] if isinstance(state, tuple) else state)  # shape: (1, B, H)
        last = batch.lengths - 1  # shape: (B,)
        final = torch.cat(states).transpose(0, 1)[torch.arange(size), last]  # shape: (B, H)
        # Sentences are independent, so one backward pass of the summed norms gives each its own gradients;
        # autograd.grad with respect to the states does what retain_grad would, without touching weights.
        grads = torch.autograd.grad(final.norm(dim=1).sum(), states)
    norms = torch.cat(grads).norm(dim=2).transpose(0, 1)  # shape: (B, T), by position t
    steps = last.unsqueeze(1) - torch.arange(width).unsqueeze(0)  # shape: (B, T): position T - d
    return norms.gather(1, steps.clamp(min=0)).masked_fill(steps < 0, 0.0)  # shape: (B, T), by distance d


def gradient_curve(
    encoder: TokenEncoder, collate: Collator, sentences: Sequence[Sequence[str]], distances: int, label: str
) -> GradientCurve:
    """Mean gradient norm at distances 0 … ``distances`` - 1 over ``sentences`` (each at least that long)."""
    if not sentences or min(map(len, sentences)) < distances:
        raise ValueError(f"expected sentences of at least {distances} tokens")
    encoder.eval()
    total = torch.zeros(distances)
    for start in range(0, len(sentences), DIAGNOSE_BATCH):
        batch = collate(sentences[start : start + DIAGNOSE_BATCH])
        total += gradient_norms(encoder, batch)[:, :distances].sum(dim=0)
    return GradientCurve(label, (total / len(sentences)).tolist(), len(sentences))


def plot_curves(curves: Sequence[GradientCurve], path: Path, title: str) -> None:
    """One line per curve, log-scale y, written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and none is looked for
    import matplotlib.pyplot as plt

    from seqtag.fileio import atomic_write

    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for curve in curves:
        axes.plot(range(len(curve.mean_norm)), curve.mean_norm, label=curve.label, linewidth=1.8)
    axes.set_yscale("log", nonpositive="mask")
    axes.set_xlabel("distance d from the last step")
    axes.set_ylabel(r"mean $\Vert\partial \Vert h_T\Vert \,/\, \partial h_{T-d}\Vert$")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    try:
        with atomic_write(path) as handle:
            figure.savefig(handle, format="png", dpi=120)
    finally:
        plt.close(figure)
