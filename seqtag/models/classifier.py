"""The text-classification network: TokenEncoder -> pooling over time -> linear layer over classes."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from seqtag.data.batching import Batch
from seqtag.config import ModelConfig
from seqtag.models.encoders import TokenEncoder

POOLINGS = ("last", "mean", "max", "mean-max", "attention")


class AdditivePooling(nn.Module):
    """Bahdanau-style attention over time steps: a_t = softmax_t(v . tanh(W h_t)); output sum_t a_t h_t."""

    def __init__(self, dim: int, attention_dim: int = 100) -> None:
        super().__init__()
        self.project = nn.Linear(dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, T, D), mask (B, T) bool -> pooled (B, D), weights (B, T)."""
        scores = self.score(torch.tanh(self.project(states))).squeeze(2)  # shape: (B, T)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights


class ClassifierNet(nn.Module):
    """One label per text; the trainer sees only :meth:`loss` and the predictor :meth:`probabilities`."""

    def __init__(
        self, config: ModelConfig, num_words: int, num_chars: int, num_classes: int, trainable_words: int | None = None
    ) -> None:
        super().__init__()
        if config.pooling not in POOLINGS:
            raise ValueError(f"expected pooling in {POOLINGS}, got {config.pooling!r}")
        if config.encoder == "window" and config.pooling == "last":
            # A window encoder has no final state: its last position sees only the last few words.
            raise ValueError("pooling 'last' needs a recurrent encoder, got encoder='window'")
        self.pooling = config.pooling
        self.bidirectional = config.bidirectional
        self.hidden = config.hidden
        self.encoder = TokenEncoder(config, num_words, num_chars, trainable_words)
        self.attention = AdditivePooling(self.encoder.output_dim) if config.pooling == "attention" else None
        pooled = self.encoder.output_dim * (2 if config.pooling == "mean-max" else 1)
        self.output = nn.Linear(pooled, num_classes)
        # --class-weights auto: one weight per class on the loss, set for training only (not saved)
        self.register_buffer("class_weights", None, persistent=False)

    def pool(self, states: torch.Tensor, batch: Batch) -> torch.Tensor:
        """states (B, T, D) -> (B, D), or (B, 2 D) for mean-max ([mean, max])."""
        mask = batch.mask
        if self.pooling in ("mean", "mean-max"):
            summed = (states * mask.unsqueeze(2)).sum(dim=1)
            mean = summed / batch.lengths.unsqueeze(1).to(states.dtype)
            if self.pooling == "mean":
                return mean
        if self.pooling in ("max", "mean-max"):
            top = states.masked_fill(~mask.unsqueeze(2), float("-inf")).max(dim=1).values
            return top if self.pooling == "max" else torch.cat([mean, top], dim=1)
        if self.pooling == "attention":
            return self.attention(states, mask)[0]
        # last: the forward direction's state at the last real token (+ the backward one's at the first)
        last = (batch.lengths - 1).view(-1, 1, 1).expand(-1, 1, states.shape[2])
        final = states.gather(1, last).squeeze(1)  # shape: (B, D)
        if not self.bidirectional:
            return final
        return torch.cat([final[:, : self.hidden], states[:, 0, self.hidden :]], dim=1)

    def logits(self, batch: Batch) -> torch.Tensor:
        return self.output(self.pool(self.encoder(batch), batch))  # shape: (B, num_classes)

    def loss(self, batch: Batch) -> torch.Tensor:
        if batch.labels is None:
            raise ValueError("expected a batch with gold labels, got labels=None")
        return F.cross_entropy(self.logits(batch), batch.labels, weight=self.class_weights)

    def probabilities(self, batch: Batch) -> torch.Tensor:
        return torch.softmax(self.logits(batch), dim=1)  # shape: (B, num_classes)


class MultiLabelNet(ClassifierNet):
    """Any number of labels per text: one sigmoid output per label, trained with binary cross-entropy on
    multi-hot targets (``batch.labels``, shape ``(B, num_labels)``, floats)."""

    def loss(self, batch: Batch) -> torch.Tensor:
        if batch.labels is None:
            raise ValueError("expected a batch with gold labels, got labels=None")
        return F.binary_cross_entropy_with_logits(self.logits(batch), batch.labels, pos_weight=self.class_weights)

    def probabilities(self, batch: Batch) -> torch.Tensor:
        return torch.sigmoid(self.logits(batch))  # shape: (B, num_labels), each in [0, 1] on its own
