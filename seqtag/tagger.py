"""The sequence tagger as users see it: vocabularies + network + tag schemes, trainable, savable, callable.

>>> tagger = Tagger.load("model.seqtag")
>>> tagger.predict([["John", "lives", "in", "Berlin", "."]])
[['B-PER', 'O', 'O', 'B-LOC', 'O']]
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from seqtag.batching import bucket_batches
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.data.readers import read_sentences
from seqtag.data.schemes import allowed_transitions, convert, detect_scheme
from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.inputs import build_inputs, run_meta
from seqtag.model import PREDICT_BATCH, Model
from seqtag.models.tagger import TaggerNet
from seqtag.training import Callbacks, History, fit, prepare_run, record_history
from seqtag.vocab import Vocab, WordVocab


class Tagger(Model):
    """A sequence tagger; predictions come back in the tag scheme of its training files."""

    task = "tag"

    def __init__(self, *args: Any, data_scheme: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_scheme = data_scheme  # scheme of the training files; predictions are written in it
        self.model_scheme = "plain" if data_scheme == "plain" else self.model_config.train_scheme

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[list[str]]:
        """Tags for each token list, in the training data's scheme; empty lists give empty lists."""
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        out: list[list[str]] = [[] for _ in sentences]
        items = self.labels.items
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                paths = self.net.decode(self.collate([sentences[i] for i in chunk]))
                for i, path in zip(chunk, paths):
                    tags = [items[t] for t in path]
                    if self.model_scheme != self.data_scheme:
                        tags = convert(tags, self.model_scheme, self.data_scheme)
                    out[i] = tags
        return out

    predict_chunk = predict

    def archive_extra(self) -> dict[str, Any]:
        return {"schemes": {"data": self.data_scheme, "model": self.model_scheme}}

    @classmethod
    def build(cls, body, model_config, words, chars, labels, data_config, train_config) -> Tagger:  # type: ignore[override]
        schemes = body["schemes"]
        net = build_net(model_config, words, chars, labels, schemes["model"])
        return cls(net, words, chars, labels, model_config, data_config, train_config, data_scheme=schemes["data"])


def build_net(
    config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, scheme: str
) -> TaggerNet:
    """The network for these vocabularies; CRF transitions are constrained by the labels' ``scheme``."""
    constraints = None if scheme == "plain" else allowed_transitions(labels.items, scheme)
    return TaggerNet(
        config, len(words), len(chars) if chars is not None else 1, len(labels), constraints, words.trainable
    )


def label_set(tag_sequences: Iterable[list[str]], scheme: str) -> list[str]:
    """Every tag the model may output: for span schemes all prefixes of every type seen, so the CRF's
    transition constraints are complete even for types seen only as single tokens."""
    seen = {t for tags in tag_sequences for t in tags}
    if scheme == "plain":
        return sorted(seen)
    types = sorted({t[2:] for t in seen if t != "O"})
    prefixes = "BIES" if scheme == "bioes" else "BI"
    return ["O"] + [f"{p}-{kind}" for kind in types for p in prefixes]


def _resolve_scheme(sentences: list[Sentence], requested: str, path: Path) -> str:
    detected = detect_scheme(s.tags or [] for s in sentences)
    if requested == "auto":
        return detected
    if requested != "plain" and detected == "plain":
        raise InputError(f"--scheme {requested} given, but the tags have no B-/I- prefixes", path)
    return requested


def train_tagger(
    train: Path,
    dev: Path | None,
    embeddings: Path | None,
    data_config: DataConfig,
    model_config: ModelConfig,
    train_config: TrainConfig,
    callbacks: Callbacks | None = None,
    embedding_cache: bool = True,
    log: Any = None,
) -> tuple[Tagger, History]:
    """Read the data, build vocabularies and the network, train with early stopping on dev."""
    say = log or (lambda message: None)
    prepare_run(train_config)
    train_sents = list(read_sentences(train, data_config))
    dev_sents = list(read_sentences(dev, data_config)) if dev is not None else []
    data_scheme = _resolve_scheme(train_sents, data_config.scheme, train)
    model_scheme = "plain" if data_scheme == "plain" else model_config.train_scheme
    train_tags = [convert(s.tags, data_scheme, model_scheme) for s in train_sents]
    labels = Vocab(label_set(train_tags, model_scheme))
    say(
        f"train: {len(train_sents):,} sentences, {sum(map(len, train_sents)):,} tokens, "
        f"{len(labels)} labels (files in {data_scheme}, model in {model_scheme})"
        + (f"; dev: {len(dev_sents):,} sentences" if dev_sents else "")
    )

    inputs = build_inputs((s.tokens for s in train_sents), embeddings, model_config, train_config.seed, embedding_cache, say)
    net = build_net(inputs.config, inputs.words, inputs.chars, labels, model_scheme)
    net.encoder.load_pretrained(torch.from_numpy(inputs.matrix))
    meta = {**run_meta(train, dev, embeddings, inputs), "train_sentences": len(train_sents)}
    tagger = Tagger(
        net, inputs.words, inputs.chars, labels, inputs.config, data_config, train_config, meta, data_scheme=data_scheme
    )

    rng = random.Random(train_config.seed)
    token_lists = [s.tokens for s in train_sents]
    lengths = [len(s) for s in token_lists]

    def batches(epoch: int) -> list:
        groups = bucket_batches(
            lengths, train_config.batch_size, shuffle=True, rng=rng, max_tokens=train_config.batch_tokens or None
        )
        return [tagger.collate([token_lists[i] for i in g], [train_tags[i] for i in g]) for g in groups]

    def score_dev() -> dict[str, float]:
        from seqtag.metrics import tagging_report

        predicted = tagger.predict([s.tokens for s in dev_sents])
        report = tagging_report([s.tags for s in dev_sents], predicted, data_scheme)
        return {
            "score": report["score"],
            "precision": report["micro"]["precision"],
            "recall": report["micro"]["recall"],
            "f1": report["micro"]["f1"],
            "accuracy": report["accuracy"],
        }

    history = fit(net, batches, score_dev if dev_sents else None, train_config, callbacks)
    record_history(meta, history)
    return tagger, history
