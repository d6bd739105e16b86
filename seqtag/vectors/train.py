"""Train word2vec (skip-gram or CBOW; negative sampling or hierarchical softmax) or fastText with gensim,
streaming the corpus from disk on every pass."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.vectors import ALGORITHMS
from seqtag.vectors.corpus import Corpus

Progress = Callable[[str, int, "int | None"], None]
"""``progress(stage, sentences done, sentences in the pass or None while still unknown)``."""


@dataclass
class TrainedVectors:
    vectors: Any  # gensim KeyedVectors (FastTextKeyedVectors for fastText: with subword n-grams)
    sentences: int  # per pass over the corpus
    tokens: int  # per pass, before min-count and down-sampling
    seconds: float


def train_vectors(
    paths: Sequence[str | Path],
    *,
    input_format: str = "raw",
    encoding: str = "utf-8",
    token_column: int = 0,
    lowercase: bool = False,
    fasttext: bool = False,
    algorithm: str = "skipgram",
    dim: int = 100,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    negative: int = 5,
    hs: bool = False,
    sample: float = 1e-3,
    min_n: int = 3,
    max_n: int = 6,
    buckets: int = 2_000_000,
    workers: int = 3,
    seed: int = 1,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainedVectors:
    """Train vectors on the token lists of ``paths`` (see :func:`seqtag.vectors.corpus.read_tokens`).

    Defaults are gensim's (and word2vec's). ``negative`` noise words per positive one, ``hs`` hierarchical
    softmax: at least one of them. ``min_n``..``max_n`` character n-grams hashed into ``buckets`` rows are
    fastText's subwords. Only ``workers=1`` gives the same vectors on every run with the same ``seed``.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"expected algorithm in {ALGORITHMS}, got {algorithm!r}")
    if negative < 0 or (negative == 0 and not hs):
        raise InputError("give --negative N > 0 (negative sampling) or --hs (hierarchical softmax)", "--negative")
    if fasttext and not 1 <= min_n <= max_n:
        raise InputError(f"n-gram lengths must satisfy 1 <= min-n <= max-n, got {min_n} and {max_n}", "--min-n")
    from gensim.models import FastText, Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    stage = ["vocabulary"]
    total: list[int | None] = [None]

    def on_sentence(count: int) -> None:
        if progress is not None:
            progress(stage[0], count, total[0])

    class EpochStages(CallbackAny2Vec):  # gensim calls these in the main thread, around each pass
        def __init__(self) -> None:
            self.epoch = 0
            self.start = 0.0

        def on_epoch_begin(self, model: Any) -> None:
            self.epoch += 1
            self.start = time.perf_counter()
            stage[0] = f"epoch {self.epoch}/{epochs}"

        def on_epoch_end(self, model: Any) -> None:
            if log is not None:
                log(f"epoch {self.epoch}/{epochs}: {time.perf_counter() - self.start:.1f} s")

    corpus = Corpus(paths, input_format, encoding, token_column, lowercase, on_sentence)
    settings = dict(
        vector_size=dim, window=window, min_count=min_count, epochs=epochs, sg=int(algorithm == "skipgram"),
        negative=negative, hs=int(hs), sample=sample, workers=workers, seed=seed,
    )
    if fasttext:
        model = FastText(min_n=min_n, max_n=max_n, bucket=buckets, **settings)
    else:
        model = Word2Vec(**settings)
    start = time.perf_counter()
    model.build_vocab(corpus_iterable=corpus)
    if model.corpus_total_words == 0:
        raise InputError("no tokens found", paths[0] if len(paths) == 1 else None)
    if len(model.wv) == 0:
        raise InputError(
            f"no word occurs at least {min_count} times in {model.corpus_total_words:,} tokens; lower --min-count",
            "--min-count",
        )
    if log is not None:
        log(
            f"vocabulary: {len(model.wv):,} words (min count {min_count}); "
            f"{model.corpus_total_words:,} tokens in {model.corpus_count:,} sentences"
        )
    total[0] = model.corpus_count
    model.train(
        corpus_iterable=corpus, total_examples=model.corpus_count, total_words=model.corpus_total_words,
        epochs=epochs, callbacks=[EpochStages()],
    )
    return TrainedVectors(model.wv, model.corpus_count, model.corpus_total_words, time.perf_counter() - start)
