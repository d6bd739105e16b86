"""The sequence tagger as users see it: vocabularies + network + tag schemes, trainable, savable, callable.

>>> tagger = Tagger.load("model.seqtag")
>>> tagger.predict([["John", "lives", "in", "Berlin", "."]])
[['B-PER', 'O', 'O', 'B-LOC', 'O']]
"""
from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from seqtag import __version__
from seqtag.archive import load_archive, save_archive
from seqtag.batching import Collator, bucket_batches
from seqtag.config import DataConfig, ModelConfig, TrainConfig, as_dict, from_dict
from seqtag.data.readers import read_sentences
from seqtag.data.schemes import allowed_transitions, convert, detect_scheme
from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.models.tagger import TaggerNet
from seqtag.training import Callbacks, History, fit
from seqtag.vocab import Vocab, WordVocab, char_vocab

PREDICT_BATCH = 256  # sentences per batch when tagging (sorted by length, so little padding)


class Tagger:
    task = "tag"

    def __init__(
        self,
        net: TaggerNet,
        words: WordVocab,
        chars: Vocab | None,
        labels: Vocab,
        model_config: ModelConfig,
        data_config: DataConfig,
        data_scheme: str,
        meta: dict[str, Any] | None = None,
        train_config: TrainConfig | None = None,
    ) -> None:
        self.net = net.eval()
        self.words = words
        self.chars = chars
        self.labels = labels
        self.model_config = model_config
        self.data_config = data_config
        self.train_config = train_config or TrainConfig()
        self.data_scheme = data_scheme  # scheme of the training files; predictions are written in it
        self.model_scheme = "plain" if data_scheme == "plain" else model_config.train_scheme
        self.meta = meta or {}
        self.collate = Collator(words, chars, labels)

    # -- prediction -------------------------------------------------------------------------------
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

    def predict_stream(
        self, sentences: Iterable[Sentence], batch_size: int = PREDICT_BATCH, chunk: int = 4096
    ) -> Iterator[tuple[Sentence, list[str]]]:
        """Tag a stream in input order, holding at most ``chunk`` sentences in memory."""
        buffer: list[Sentence] = []
        for sentence in sentences:
            buffer.append(sentence)
            if len(buffer) >= chunk:
                yield from zip(buffer, self.predict([s.tokens for s in buffer], batch_size))
                buffer = []
        if buffer:
            yield from zip(buffer, self.predict([s.tokens for s in buffer], batch_size))

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        save_archive(
            path,
            {
                "task": self.task,
                "seqtag_version": __version__,
                "config": {
                    "data": as_dict(self.data_config),
                    "model": as_dict(self.model_config),
                    "train": as_dict(self.train_config),
                },
                "vocab": {
                    "words": self.words.items,
                    "chars": self.chars.items if self.chars is not None else None,
                    "labels": self.labels.items,
                },
                "schemes": {"data": self.data_scheme, "model": self.model_scheme},
                "meta": self.meta,
                "state_dict": self.net.state_dict(),
            },
        )

    @classmethod
    def from_archive(cls, body: dict[str, Any], path: str | Path = "") -> Tagger:
        try:
            model_config = from_dict(ModelConfig, body["config"]["model"])
            vocab = body["vocab"]
            words, labels = WordVocab(vocab["words"]), Vocab(vocab["labels"])
            chars = Vocab(vocab["chars"]) if vocab.get("chars") else None
            data_scheme = body["schemes"]["data"]
            net = build_net(model_config, words, chars, labels, body["schemes"]["model"])
            net.load_state_dict(body["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise InputError(f"damaged model file ({err.__class__.__name__}: {err})", path) from None
        return cls(
            net,
            words,
            chars,
            labels,
            model_config,
            from_dict(DataConfig, body["config"].get("data", {})),
            data_scheme,
            body.get("meta", {}),
            from_dict(TrainConfig, body["config"].get("train", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> Tagger:
        body = load_archive(path)
        if body["task"] != cls.task:
            raise InputError(f"this is a {body['task']} model, not a tagger", path)
        return cls.from_archive(body, path)


def build_net(config: ModelConfig, words: Vocab, chars: Vocab | None, labels: Vocab, scheme: str) -> TaggerNet:
    """The network for these vocabularies; CRF transitions are constrained by the labels' ``scheme``."""
    constraints = None if scheme == "plain" else allowed_transitions(labels.items, scheme)
    return TaggerNet(config, len(words), len(chars) if chars is not None else 1, len(labels), constraints)


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


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    seed_everything(train_config.seed)
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
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

    counts = Counter(t for s in train_sents for t in s.tokens)
    vectors = None
    if embeddings is not None:
        from seqtag.embeddings import load_vectors

        vectors = load_vectors(embeddings, cache=embedding_cache)
    from seqtag.embeddings import build_embedding_table

    table = build_embedding_table(counts, vectors, model_config.word_dim, model_config.keep_vectors, train_config.seed)
    if vectors is not None:
        say(
            f"embeddings: {len(vectors.words):,} vectors of {vectors.dim} dimensions; they cover "
            f"{table.coverage['tokens']:.1%} of training tokens and {table.coverage['types']:.1%} of types; "
            f"the model keeps {len(table.words):,} rows"
        )
    model_config = dataclasses.replace(model_config, word_dim=int(table.matrix.shape[1]))
    words = WordVocab(table.words)
    chars = char_vocab(counts) if model_config.char_encoder != "none" else None
    net = build_net(model_config, words, chars, labels, model_scheme)
    net.encoder.load_pretrained(torch.from_numpy(table.matrix))
    meta: dict[str, Any] = {
        "train_data": str(train),
        "dev_data": str(dev) if dev is not None else None,
        "embeddings": str(embeddings) if embeddings is not None else None,
        "embedding_coverage": table.coverage,
        "train_sentences": len(train_sents),
    }
    tagger = Tagger(net, words, chars, labels, model_config, data_config, data_scheme, meta, train_config)

    rng = random.Random(train_config.seed)
    token_lists = [s.tokens for s in train_sents]
    lengths = [len(s) for s in token_lists]

    def batches(epoch: int) -> list:
        groups = bucket_batches(lengths, train_config.batch_size, shuffle=True, rng=rng)
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
    tagger.net.eval()
    best = history.best
    meta["best_epoch"] = history.best_epoch
    meta["stopped"] = history.stopped
    meta["dev_scores"] = best.dev if best is not None else {}
    meta["history"] = [dataclasses.asdict(e) for e in history.epochs]
    return tagger, history
