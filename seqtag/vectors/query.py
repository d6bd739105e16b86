"""Nearest neighbours by cosine similarity and analogies by vector arithmetic, through gensim's
``most_similar`` (3CosAdd) and ``most_similar_cosmul`` (3CosMul, Levy and Goldberg 2014)."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from seqtag.errors import InputError
from seqtag.vectors import METHODS
from seqtag.vectors.store import find_key, has_subwords, keyed


def resolve(kv: Any, words: Sequence[str], source: str | None = None) -> list[tuple[str, bool]]:
    """Each word's key by the tagger lookup chain, with True when it is out of the vocabulary and its
    vector is built from fastText subwords. Words without any vector: one InputError naming them all."""
    keys: list[tuple[str, bool]] = []
    missing = []
    for word in words:
        key = find_key(kv, word)
        if key is not None:
            keys.append((key, False))
        elif has_subwords(kv):
            keys.append((word, True))
        else:
            missing.append(word)
    if missing:
        listed = ", ".join(repr(w) for w in missing)
        raise InputError(f"no vector for {listed} (tried as given, lowercased, digits as 0)", source)
    return keys


def neighbors(
    vectors: Any, words: Sequence[str], top: int = 10, restrict_vocab: int | None = None, cache: bool = True
) -> list[dict]:
    """The ``top`` nearest words of each word by cosine similarity, among the first ``restrict_vocab``
    (most frequent) words if given: ``[{"word", "key", "subwords", "neighbors": [[word, cosine], …]}, …]``."""
    kv, source = keyed(vectors, cache)
    results = []
    for word, (key, subwords) in zip(words, resolve(kv, words, source)):
        found = kv.most_similar(key, topn=top, restrict_vocab=restrict_vocab)
        results.append({"word": word, "key": key, "subwords": subwords, "neighbors": _rows(found)})
    return results


def analogy(
    vectors: Any, a: str, b: str, c: str, top: int = 10, method: str = "3cosadd",
    restrict_vocab: int | None = None, cache: bool = True,
) -> dict:
    """``a : b :: c : ?``, answered by the words nearest to ``b - a + c`` (the three inputs excluded)."""
    if method not in METHODS:
        raise ValueError(f"expected method in {METHODS}, got {method!r}")
    kv, source = keyed(vectors, cache)
    (ka, _), (kb, _), (kc, _) = resolve(kv, [a, b, c], source)
    search = kv.most_similar if method == "3cosadd" else kv.most_similar_cosmul
    with warnings.catch_warnings():  # most_similar_cosmul calls gensim's own deprecated init_sims()
        warnings.simplefilter("ignore", DeprecationWarning)
        found = search(positive=[kb, kc], negative=[ka], topn=top, restrict_vocab=restrict_vocab)
    return {"query": [a, b, c], "keys": [ka, kb, kc], "method": method, "answers": _rows(found)}


def _rows(found: list[tuple[str, float]]) -> list[list]:
    return [[word, round(float(score), 6)] for word, score in found]
