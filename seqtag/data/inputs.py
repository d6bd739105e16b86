"""Word and character vocabularies plus the initial word-embedding matrix, built from training tokens.

Shared by taggers and classifiers: both read words through the same lookup chain and encoders.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqtag.config import ModelConfig
from seqtag.data.vocab import Vocab, WordVocab, char_vocab


@dataclass
class Inputs:
    words: WordVocab
    chars: Vocab | None  # None without a character encoder
    matrix: np.ndarray  # shape: (len(words), word_dim), initial word embeddings
    coverage: dict[str, float]  # share of training tokens / types with a pretrained vector
    config: ModelConfig  # the model config with word_dim set to the vectors' size


def run_meta(train: Path, dev: Path | None, embeddings: Path | None, inputs: Inputs) -> dict:
    """What a model file records about the data it was trained from."""
    return {
        "train_data": str(train),
        "dev_data": str(dev) if dev is not None else None,
        "embeddings": str(embeddings) if embeddings is not None else None,
        "embedding_coverage": inputs.coverage,
    }


def build_inputs(
    token_lists: Iterable[list[str]],
    embeddings: Path | None,
    config: ModelConfig,
    seed: int,
    cache: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> Inputs:
    from seqtag.vectors.pretrained import build_embedding_table, load_vectors

    counts = Counter(t for tokens in token_lists for t in tokens)
    vectors = load_vectors(embeddings, cache=cache) if embeddings is not None else None
    table = build_embedding_table(counts, vectors, config.word_dim, config.keep_vectors, seed, config.unknown_vector)
    if vectors is not None:
        say(
            f"embeddings: {len(vectors.words):,} vectors of {vectors.dim} dimensions; they cover "
            f"{table.coverage['tokens']:.1%} of training tokens and {table.coverage['types']:.1%} of types; "
            f"the model keeps {len(table.words):,} rows"
        )
    config = dataclasses.replace(config, word_dim=int(table.matrix.shape[1]))
    chars = char_vocab(counts) if config.char_encoder != "none" else None
    return Inputs(WordVocab(table.words, table.trainable), chars, table.matrix, table.coverage, config)
