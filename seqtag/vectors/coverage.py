"""How much of a data set's vocabulary a vector file covers: tokens and types found exactly, after
lowercasing, and by the full lookup chain a tagger uses (exact -> lowercase -> digits normalised)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqtag.data.vocab import chain_coverage
from seqtag.vectors.corpus import read_tokens
from seqtag.vectors.store import has_subwords, keyed


def count_tokens(
    paths: Sequence[str | Path], input_format: str = "auto", encoding: str = "utf-8", token_column: int = 0
) -> Counter[str]:
    """Token counts over the files, streamed."""
    counts: Counter[str] = Counter()
    for path in paths:
        for tokens in read_tokens(path, input_format, encoding, token_column):
            counts.update(tokens)
    return counts


def coverage(
    vectors: Any,
    data: Sequence[str | Path],
    input_format: str = "auto",
    encoding: str = "utf-8",
    token_column: int = 0,
    top: int = 20,
    cache: bool = True,
) -> dict:
    """Coverage of the tokens of ``data`` by ``vectors`` (see :func:`seqtag.vectors.corpus.read_tokens`
    for the formats), with the ``top`` most frequent words the chain does not find.

    ``covered[level]`` holds covered ``tokens`` / ``types`` counts and ratios for ``exact`` (the word
    itself), ``lowercase`` (the word or its lowercase form) and ``chain`` (also digits as 0, as
    `seqtag train` looks words up). fastText vectors with subwords give every other word a vector too
    (``subwords``: true); the counts are for words in their vocabulary.
    """
    counts = count_tokens(data, input_format, encoding, token_column)  # data errors before the slow load
    kv, source = keyed(vectors, cache)
    found, missing = chain_coverage(counts, kv.key_to_index)
    uncovered = Counter(missing)
    tokens, types = sum(counts.values()), len(counts)
    return {
        "vectors": source,
        "data": [str(p) for p in data],
        "tokens": tokens,
        "types": types,
        "covered": {
            level: {
                "tokens": t, "types": y,
                "token_ratio": t / tokens if tokens else 0.0, "type_ratio": y / types if types else 0.0,
            }
            for level, (t, y) in found.items()
        },
        "subwords": has_subwords(kv),
        "uncovered": uncovered.most_common(top),
    }
