"""The text classifier as users see it: same encoders, training loop and model file as the tagger.

>>> clf = Classifier.load("clf.seqtag")
>>> clf.predict([["a", "gripping", "film"]])
['1']
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from seqtag.data.batching import Batch, bucket_batches
from seqtag.training.checkpoint import CheckpointDir, fingerprint
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.formats.classification import Example, read_examples
from seqtag.training.distributed import main_first, predict_shared, rank_batches
from seqtag.errors import InputError
from seqtag.data.inputs import build_inputs, run_meta
from seqtag.tasks.base import PREDICT_BATCH, Model
from seqtag.models.classifier import ClassifierNet
from seqtag.training.loop import Callbacks, History, Runtime, fit, prepare_run, record_history, start_training
from seqtag.data.vocab import Vocab, WordVocab


class Classifier(Model):
    """One label per text. :meth:`probabilities` gives every class's probability."""

    task = "classify"

    def probabilities(self, texts: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[list[float]]:
        """Class probabilities (in ``self.labels.items`` order) per token list; [] for an empty list."""
        order = sorted((i for i, t in enumerate(texts) if t), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                probs = self.net.probabilities(self.collate([texts[i] for i in chunk])).tolist()
                for i, row in zip(chunk, probs):
                    out[i] = row
        return out

    predict_chunk = probabilities

    def predict(self, texts: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[str]:
        """The most probable label per token list ("" for an empty list)."""
        items = self.labels.items
        return [items[max(range(len(p)), key=p.__getitem__)] if p else "" for p in self.probabilities(texts, batch_size)]

    @classmethod
    def build(cls, body, model_config, words, chars, labels, data_config, train_config) -> Classifier:  # type: ignore[override]
        net = build_net(model_config, words, chars, labels)
        return cls(net, words, chars, labels, model_config, data_config, train_config)

    def read(self, source: Any, input_format: str = "auto", with_labels: bool = False, **overrides: Any) -> Iterator[Example]:
        """Examples from ``source`` read the way the training data was (text columns, tokenization)."""
        config = dataclasses.replace(self.data_config, **overrides)
        return read_data(source, config, input_format, with_labels)


def build_net(config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab) -> ClassifierNet:
    return ClassifierNet(config, len(words), len(chars) if chars is not None else 1, len(labels), words.trainable)


def _column(value: str) -> int | str:
    return int(value) if value.lstrip("-").isdigit() else value


def read_data(source: Any, config: DataConfig, input_format: str | None = None, with_labels: bool = True) -> Iterator[Example]:
    """Stream classification examples with the data config's columns, encoding and tokenization."""
    fmt = input_format or config.input_format
    if fmt in ("conll", "conllu"):
        raise InputError(f"input format {fmt} is for taggers; classifiers read tsv, csv, label-tab, label-space, fasttext, jsonl")
    return read_examples(
        source,
        format=fmt,
        label_column=_column(config.label_column) if config.label_column else None,
        text_columns=[_column(c.strip()) for c in config.text_columns.split(",")] if config.text_columns else None,
        encoding=config.encoding,
        tokenized=config.tokenized,
        max_tokens=config.max_tokens or None,
        with_labels=with_labels,
    )


def _labelled(path: Path, config: DataConfig) -> list[Example]:
    examples = [e for e in read_data(path, config) if e.tokens]
    if not examples:
        raise InputError("no examples with text found", path)
    return examples


def train_classifier(
    train: Path,
    dev: Path | None,
    embeddings: Path | None,
    data_config: DataConfig,
    model_config: ModelConfig,
    train_config: TrainConfig,
    callbacks: Callbacks | None = None,
    embedding_cache: bool = True,
    log: Any = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    runtime: Runtime = Runtime(),
) -> tuple[Classifier, History]:
    """Read labelled texts, build vocabularies and the network, train with early stopping on dev accuracy.

    ``checkpoint_dir`` and ``resume`` work as for :func:`seqtag.tasks.tagging.train_tagger`.
    """
    cluster = runtime.cluster
    checkpoints = CheckpointDir(checkpoint_dir, resume, writable=cluster.main) if checkpoint_dir else None
    say = log or (lambda message: None)
    notes: list[str] = []  # said once the run is known to start, so an input error stays the only output
    prepare_run(train_config)
    train_examples = _labelled(train, data_config)
    dev_examples = _labelled(dev, data_config) if dev is not None else []
    labels = Vocab(sorted({e.label for e in train_examples}))
    for example in dev_examples:
        if example.label not in labels:
            raise InputError(f"label {example.label!r} does not occur in the training data", dev, example.line)
    notes.append(
        f"train: {len(train_examples):,} texts, {sum(len(e.tokens) for e in train_examples):,} tokens, "
        f"{len(labels)} classes" + (f"; dev: {len(dev_examples):,} texts" if dev_examples else "")
    )
    with main_first(cluster):  # rank 0 fills the vector cache, the others read it
        inputs = build_inputs(
        (e.tokens for e in train_examples), embeddings, model_config, train_config.seed, embedding_cache, notes.append
        )
    net = build_net(inputs.config, inputs.words, inputs.chars, labels)
    net.encoder.load_pretrained(torch.from_numpy(inputs.matrix))
    meta = {**run_meta(train, dev, embeddings, inputs), "train_examples": len(train_examples)}
    classifier = Classifier(net, inputs.words, inputs.chars, labels, inputs.config, data_config, train_config, meta)
    classifier.to(runtime.device)

    resumed = None  # the checkpoint's training state when resuming
    if checkpoints is not None:
        train_items = ([e.tokens, e.label] for e in train_examples)
        dev_items = ([e.tokens, e.label] for e in dev_examples)
        resumed = checkpoints.start(fingerprint(classifier, train_items, dev_items))
        if resumed is not None:
            notes.append(checkpoints.resume_note(resumed))
    state = start_training(net, train_config, resumed, checkpoints.path if checkpoints else None)
    for note in notes:
        say(note)

    lengths = [len(e.tokens) for e in train_examples]

    def batches(rng: random.Random) -> list[Batch]:
        groups = bucket_batches(lengths, train_config.batch_size, shuffle=True, rng=rng, max_tokens=train_config.batch_tokens or None)
        return rank_batches(  # under torchrun, this rank's slice of each global batch
            groups, cluster,
            lambda mine: classifier.collate([train_examples[i].tokens for i in mine], labels=[train_examples[i].label for i in mine]),
        )

    def score_dev() -> dict[str, float]:
        from seqtag.evaluation.metrics import classification_report

        predicted = predict_shared(classifier.predict, [e.tokens for e in dev_examples], cluster)
        report = classification_report([e.label for e in dev_examples], predicted, labels.items)
        return {"score": report["accuracy"], "accuracy": report["accuracy"], "f1": report["macro"]["f1"]}

    history = fit(net, batches, score_dev if dev_examples else None, train_config, callbacks, checkpoints, state, runtime)
    record_history(meta, history)
    return classifier, history
