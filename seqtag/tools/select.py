"""What to annotate next, behind `seqtag select`: rank the texts of a pool by how unsure a model is of them
(the task's :meth:`~seqtag.tasks.base.Model.uncertainty`: CRF marginals and k-best paths for taggers, class
probabilities for classifiers) and keep the N most uncertain, optionally none too similar to one already
kept, so that a batch is not N near-duplicates.

A pool is read as `seqtag predict` reads its input; a *text* is one line of raw text, one record of an
annotation tool's export, or one sentence of token input (CoNLL, tokenized lines), and its score sums or
combines those of its sentences. The pool streams: only the best candidates are kept while it is read, so
its size costs time, not memory. Ties keep pool order.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from seqtag.errors import InputError

CANDIDATES = 4  # with a similarity cap, this many times N candidates are kept for the greedy pass


@dataclass
class Selected:
    """One chosen text: its place in the pool (0-based), uncertainty, and the pool items that make it up."""

    index: int
    score: float
    items: list[Any]

    @property
    def tokens(self) -> list[str]:
        return [token for item in self.items for token in item.tokens]


@dataclass
class Selection:
    chosen: list[Selected]  # most uncertain first
    pool: int  # texts read
    strategy: str
    skipped: int  # candidates left out as too similar to one already chosen


def texts(items: Iterable[Any]) -> Iterator[list[Any]]:
    """Consecutive pool items grouped into the texts they come from (sentences of one raw line or one
    record; a classifier's examples and token-input sentences stand alone)."""
    group: list[Any] = []
    key: Any = None
    for item in items:
        here = _key(item)
        if group and not _same(here, key):
            yield group
            group = []
        group.append(item)
        key = here
    if group:
        yield group


def _key(item: Any) -> Any:
    doc = getattr(item, "doc", None)
    if doc is not None:
        return doc
    text, offsets = getattr(item, "text", None), getattr(item, "offsets", None)
    if text is not None and offsets is not None:
        return (getattr(item, "line", 0), text)
    return object()


def _same(here: Any, key: Any) -> bool:
    if isinstance(here, tuple) and isinstance(key, tuple):
        return here[0] == key[0] and here[1] is key[1]
    return here is key


def select(model: Any, items: Iterable[Any], n: int, strategy: str | None = None, max_similarity: float = 1.0,
           batch_size: int = 256, chunk: int = 4096) -> Selection:
    """The ``n`` texts of ``items`` (pool items as the model's ``prediction_input`` gives them) the model is
    least sure of, by ``strategy`` (default: the task's first), most uncertain first; with
    ``max_similarity`` < 1, a text whose cosine similarity (lowercased word counts) to one already chosen
    exceeds it is passed over."""
    if not model.strategies:
        raise InputError(f"{model.task} models cannot rank texts by uncertainty yet", "MODEL")
    strategy = strategy or model.strategies[0]
    if strategy not in model.strategies:
        raise InputError(f"must be one of {', '.join(model.strategies)} for this model; got {strategy!r}", "--strategy")
    if n < 1:
        raise InputError(f"must be 1 or more, got {n}", "--n")
    if not 0 < max_similarity <= 1:
        raise InputError(f"must be in (0, 1], got {max_similarity:g}", "--max-similarity")
    keep = n if max_similarity >= 1 else n * CANDIDATES
    heap: list[tuple[float, int, Selected]] = []  # the `keep` most uncertain so far; smallest score first
    count = 0
    groups = texts(items)
    while block := list(islice(groups, chunk)):
        scores = model.uncertainty([model.inputs(group) for group in block], strategy, batch_size)
        for group, score in zip(block, scores):
            entry = (score, -count, Selected(count, score, group))
            count += 1
            if len(heap) < keep:
                heapq.heappush(heap, entry)
            elif entry[:2] > heap[0][:2]:
                heapq.heapreplace(heap, entry)
    ranked = [entry[2] for entry in sorted(heap, key=lambda e: (-e[0], -e[1]))]
    chosen, skipped = (ranked[:n], 0) if max_similarity >= 1 else _diverse(ranked, n, max_similarity)
    return Selection(chosen, count, strategy, skipped)


def _diverse(ranked: list[Selected], n: int, max_similarity: float) -> tuple[list[Selected], int]:
    """Greedy: each candidate in rank order unless it is too similar to one already chosen."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectors = HashingVectorizer(analyzer=lambda tokens: [t.lower() for t in tokens], alternate_sign=False,
                                norm="l2", n_features=1 << 18).transform([s.tokens for s in ranked])
    chosen: list[int] = []
    skipped = 0
    for i in range(len(ranked)):
        if len(chosen) == n:
            break
        if chosen and (vectors[chosen] @ vectors[i].T).max() > max_similarity:
            skipped += 1
            continue
        chosen.append(i)
    return [ranked[i] for i in chosen], skipped
