"""Vocabularies as plain string lists (JSON-serialisable), with the token lookup chain."""
from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence

PAD = "<pad>"  # index 0: padding, embeds to zeros
UNK = "<unk>"  # index 1: anything unseen
_DIGIT = re.compile(r"\d")


def normalize_digits(token: str) -> str:
    """'1996' -> '0000': numbers share one embedding per shape."""
    return _DIGIT.sub("0", token)


COVERAGE_LEVELS = ("exact", "lowercase", "chain")


def chain_coverage(counts: Mapping[str, int], known: Container[str]) -> tuple[dict[str, list[int]], dict[str, int]]:
    """How many tokens and types of ``counts`` (word -> count) ``known`` holds at each level of the lookup
    chain of :class:`WordVocab`: ``exact`` (the word itself), ``lowercase`` (or its lowercase form) and
    ``chain`` (or that with digits as 0). Returns ({level: [tokens, types]}, {word: count} not found)."""
    found = {level: [0, 0] for level in COVERAGE_LEVELS}
    missing: dict[str, int] = {}
    for word, count in counts.items():
        lower = word.lower()
        exact = word in known
        cased = exact or lower in known
        for level, hit in zip(COVERAGE_LEVELS, (exact, cased, cased or normalize_digits(lower) in known)):
            if hit:
                found[level][0] += count
                found[level][1] += 1
        if not (cased or normalize_digits(lower) in known):
            missing[word] = count
    return found, missing


class Vocab:
    """A string <-> id mapping. ``items`` is what goes into the model file."""

    def __init__(self, items: Sequence[str]) -> None:
        self.items = list(items)
        try:
            joined = "\n".join(self.items)  # in C: a TypeError on anything that is not a str
        except TypeError:
            bad = next(i for i, item in enumerate(self.items) if not isinstance(item, str))
            raise ValueError(f"vocabulary items must be strings: item {bad} is {self.items[bad]!r}") from None
        self._check_joined(joined)
        self.index = {item: i for i, item in enumerate(self.items)}
        if len(self.index) != len(self.items):
            raise ValueError("vocabulary items must be unique")

    def _check_joined(self, joined: str) -> None:
        """More checks on the items, given as one newline-joined string."""

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: str) -> bool:
        return item in self.index

    def id(self, item: str) -> int:
        """Exact id; raises KeyError for unknown items (labels must be known)."""
        return self.index[item]


class WordVocab(Vocab):
    """Word ids with the lookup chain exact -> lowercase -> digits normalised -> UNK.

    The chain lets a cased corpus use lowercased vectors (GloVe) and lets '1996' share '0000'.
    Items ``[0, trainable)`` are the training vocabulary; the rest are pretrained-only rows.
    """

    def __init__(self, items: Sequence[str], trainable: int | None = None) -> None:
        super().__init__(items)
        self.trainable = len(self.items) if trainable is None else trainable

    def _check_joined(self, joined: str) -> None:
        # The model file stores the words as this newline-joined string (see Model.save).
        if joined.count("\n") != max(len(self.items) - 1, 0):
            newline = next(i for i, item in enumerate(self.items) if "\n" in item)
            raise ValueError(f"vocabulary words cannot hold a newline: item {newline} is {self.items[newline]!r}")

    def lookup(self, token: str) -> int:
        index = self.index
        found = index.get(token)
        if found is None:
            lower = token.lower()
            found = index.get(lower)
            if found is None:
                found = index.get(normalize_digits(lower), 1)
        return found

    def lookup_all(self, tokens: Iterable[str]) -> list[int]:
        lookup = self.lookup
        return [lookup(t) for t in tokens]


def char_vocab(words: Iterable[str], min_count: int = 1) -> Vocab:
    """Characters of the training words (with PAD and UNK first), most frequent first."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for word in words:
        counts.update(word)
    return Vocab([PAD, UNK] + [c for c, n in counts.most_common() if n >= min_count])
