"""Turning token lists into padded tensors, and grouping sentences of similar length into batches."""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqtag.data.casing import casing
from seqtag.data.context import InContext
from seqtag.data.vocab import Vocab, WordVocab

MAX_WORD_CHARS = 40  # longer tokens (URLs, hashes) keep their first 40 characters for the char encoder


@dataclass
class Batch:
    """Padded tensors for B sentences of at most T tokens, U distinct token strings of at most L chars.

    With document context (:class:`~seqtag.data.context.InContext` inputs), each row of ``words`` and
    ``types`` is the sentence between its left and right context, W >= T tokens wide; ``starts`` says where
    the sentence begins in its row and ``row_lengths`` how long the row is. ``mask``, ``lengths`` and
    ``tags`` are the sentences' own."""

    words: torch.Tensor  # shape: (B, W) long, 0 = padding; W = T without context
    mask: torch.Tensor  # shape: (B, T) bool, True on real tokens
    lengths: torch.Tensor  # shape: (B,) long
    chars: torch.Tensor  # shape: (U, L) long, characters of each distinct token string
    char_lengths: torch.Tensor  # shape: (U,) long
    types: torch.Tensor  # shape: (B, W) long, row of ``chars`` for each token (0 on padding)
    tags: torch.Tensor | None = None  # shape: (B, T) long, gold tag ids (0 on padding)
    labels: torch.Tensor | None = None  # shape: (B,) long, gold class ids (classification)
    weight: float = 1.0  # factor on the batch's mean loss (a rank's share of a global batch, see distributed.shard)
    examples: int = 0  # examples in the global batch this one is a rank's slice of (0: this batch is whole)
    cases: torch.Tensor | None = None  # shape: (B, W) long, casing class of each token (seqtag.data.casing), when asked for
    starts: torch.Tensor | None = None  # shape: (B,) long, with context: the sentence's first position in its row
    row_lengths: torch.Tensor | None = None  # shape: (B,) long, with context: left + sentence + right tokens

    def __len__(self) -> int:
        return int(self.words.shape[0])

    def to(self, device: torch.device) -> Batch:
        """The same batch with every tensor on ``device``."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Batch(**{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in fields.items()})


class Collator:
    """Maps token lists (and optional tag lists) to a :class:`Batch` on ``device``."""

    def __init__(self, words: WordVocab, chars: Vocab | None, labels: Vocab | None, device: torch.device | None = None,
                 casing: bool = False) -> None:
        self.words = words
        self.chars = chars
        self.labels = labels
        self.device = device or torch.device("cpu")
        self.casing = casing  # also give each token's casing class (Batch.cases)

    def __call__(
        self,
        sentences: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]] | None = None,
        labels: Sequence[str] | None = None,
    ) -> Batch:
        """Token lists (each non-empty; :class:`~seqtag.data.context.InContext` items bring their document
        context) with optional per-token ``tags`` or per-text ``labels``."""
        width = max(len(s) for s in sentences)
        lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
        starts = row_lengths = None
        if any(isinstance(s, InContext) for s in sentences):
            rows = [[*s.left, *s.tokens, *s.right] if isinstance(s, InContext) else list(s) for s in sentences]
            starts = torch.tensor([len(s.left) if isinstance(s, InContext) else 0 for s in sentences], dtype=torch.long)
            row_lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
        else:
            rows = sentences
        row_width = max(len(row) for row in rows)
        lookup = self.words.lookup
        # Distinct token strings share one char-encoder pass: a batch repeats "the", "," … many times.
        type_ids: dict[str, int] = {}
        word_rows, type_rows, case_rows = [], [], []
        for row in rows:
            pad = [0] * (row_width - len(row))
            word_rows.append([lookup(t) for t in row] + pad)
            type_rows.append([type_ids.setdefault(t, len(type_ids)) for t in row] + pad)
            if self.casing:
                case_rows.append([casing(t) for t in row] + pad)
        words = torch.tensor(word_rows, dtype=torch.long)
        types = torch.tensor(type_rows, dtype=torch.long)
        mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
        chars, char_lengths = self._chars(list(type_ids))
        tag_tensor = None
        if tags is not None:
            if self.labels is None:
                raise ValueError("this collator has no label vocabulary")
            index = self.labels.index
            tag_tensor = torch.tensor(
                [[index[t] for t in row] + [0] * (width - len(row)) for row in tags], dtype=torch.long
            )
        label_tensor = None
        if labels is not None:
            if self.labels is None:
                raise ValueError("this collator has no label vocabulary")
            label_tensor = torch.tensor([self.labels.index[label] for label in labels], dtype=torch.long)
        cases = torch.tensor(case_rows, dtype=torch.long) if self.casing else None
        batch = Batch(words, mask, lengths, chars, char_lengths, types, tag_tensor, label_tensor, cases=cases,
                      starts=starts, row_lengths=row_lengths)
        return batch if self.device.type == "cpu" else batch.to(self.device)

    def _chars(self, strings: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.chars is None:
            return torch.zeros(len(strings), 1, dtype=torch.long), torch.ones(len(strings), dtype=torch.long)
        index = self.chars.index
        cut = [s[:MAX_WORD_CHARS] or " " for s in strings]
        longest = max(len(s) for s in cut)
        chars = torch.tensor([[index.get(c, 1) for c in s] + [0] * (longest - len(s)) for s in cut], dtype=torch.long)
        return chars, torch.tensor([len(s) for s in cut], dtype=torch.long)


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    shuffle: bool = False,
    rng: random.Random | None = None,
    max_tokens: int | None = None,
) -> list[list[int]]:
    """Indices grouped into batches of sentences of similar length (less padding, faster RNNs).

    A batch holds at most ``batch_size`` sentences and, when ``max_tokens`` is set, at most that many
    padded tokens (so batches of long documents stay small and memory stays bounded). With ``shuffle``
    the grouping is randomised a little (lengths jittered) and batch order shuffled, so epochs differ
    while batches stay homogeneous.
    """
    rng = rng or random.Random(0)
    if shuffle:
        keys = [n + rng.uniform(-2.0, 2.0) for n in lengths]
    else:
        keys = list(lengths)
    order = sorted(range(len(lengths)), key=keys.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    widest = 0  # longest sentence in ``current``: the padded width of the batch
    for i in order:
        wider = max(widest, lengths[i])
        too_wide = max_tokens is not None and current and wider * (len(current) + 1) > max_tokens
        if len(current) == batch_size or too_wide:
            batches.append(current)
            current, wider = [], lengths[i]
        current.append(i)
        widest = wider
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches
