"""The sequence-labelling network: TokenEncoder -> linear emissions -> softmax or CRF head."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from seqtag.data.batching import Batch
from seqtag.config import ModelConfig
from seqtag.models.crf import LinearChainCRF
from seqtag.models.encoders import TokenEncoder


class TaggerNet(nn.Module):
    """Scores every tag of every token; the trainer only sees :meth:`loss` and :meth:`decode`."""

    def __init__(
        self,
        config: ModelConfig,
        num_words: int,
        num_chars: int,
        num_tags: int,
        constraints: list[tuple[int, int]] | None = None,
        trainable_words: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = TokenEncoder(config, num_words, num_chars, trainable_words)
        self.project = nn.Linear(self.encoder.output_dim, num_tags)
        self.crf = LinearChainCRF(num_tags, constraints) if config.head == "crf" else None
        # --class-weights auto (softmax head): one weight per tag on the loss, set for training only (not saved)
        self.register_buffer("class_weights", None, persistent=False)

    def emissions(self, batch: Batch) -> torch.Tensor:
        return self.project(self.encoder(batch))  # shape: (B, T, num_tags)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean negative log-likelihood per sentence (CRF) or per token (softmax)."""
        if batch.tags is None:
            raise ValueError("expected a batch with gold tags, got tags=None")
        scores = self.emissions(batch).float()  # under autocast: the CRF's log-sum-exps stay in float32
        if self.crf is not None:
            return self.crf(scores, batch.tags, batch.mask, reduction="mean")
        return F.cross_entropy(scores[batch.mask], batch.tags[batch.mask], weight=self.class_weights)

    def decode(self, batch: Batch) -> list[list[int]]:
        """Best tag ids per sentence (Viterbi for CRF, argmax for softmax), unpadded."""
        scores = self.emissions(batch).float()
        if self.crf is not None:
            paths, _ = self.crf.decode(scores, batch.mask)
        else:
            paths = scores.argmax(dim=2)
        rows = paths.tolist()
        return [row[:n] for row, n in zip(rows, batch.lengths.tolist())]
