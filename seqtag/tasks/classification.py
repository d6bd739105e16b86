"""The text classifier as users see it: same encoders, training loop and model file as the tagger.

>>> clf = Classifier.load("clf.seqtag")
>>> clf.predict([["a", "gripping", "film"]])
['1']
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from seqtag.config import DataConfig, ModelConfig
from seqtag.data.batching import Batch
from seqtag.data.records import Classification
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.errors import InputError
from seqtag.formats.classification import Example, read_examples
from seqtag.models.classifier import ClassifierNet
from seqtag.tasks.base import NEW_LABEL_MARGIN, PREDICT_BATCH, Model, TrainingData, as_text, check_token_lists


class Classifier(Model):
    """One label per text. :meth:`probabilities` gives every class's probability."""

    task = "classify"

    def __call__(self, text: str | Sequence[str]) -> Classification:
        """Classify one text (tokenized as the training data was) or one list of tokens."""
        return next(self.pipe([text]))

    def pipe(self, texts: Iterable[str | Sequence[str]], batch_size: int = PREDICT_BATCH, chunk: int = 1024) -> Iterator[Classification]:
        """A :class:`~seqtag.data.records.Classification` per text (or token list), in order. An empty text
        gets the label "" and no probabilities."""
        from seqtag.data.tokenize import tokenize

        split = str.split if self.data_config.tokenized else tokenize
        limit = self.data_config.max_tokens or None
        iterator = iter(texts)
        while block := list(islice(iterator, chunk)):
            pairs = [as_text(item) for item in block]
            token_lists = [(split(text) if offsets is None else list(item))[:limit] for (text, offsets), item in zip(pairs, block)]
            for (text, _), probs in zip(pairs, self.probabilities(token_lists, batch_size)):
                yield self.record(text, probs)

    def record(self, text: str, probs: list[float]) -> Any:
        """What :meth:`pipe` gives for a text with these class probabilities."""
        ranked = sorted(zip(self.labels.items, probs), key=lambda pair: -pair[1])
        label, p = ranked[0] if ranked else ("", 0.0)
        return Classification(text, label, p, dict(ranked))

    def probabilities(self, texts: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[list[float]]:
        """Class probabilities (in ``self.labels.items`` order) per token list; [] for an empty list."""
        check_token_lists(texts)
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

    # ---- the task protocol ----

    @classmethod
    def training_data(cls, train: Path | list[Path], dev: Path | None, data_config: DataConfig, model_config: ModelConfig,
                      known: Sequence[str] = ()) -> TrainingData:
        train_examples = [e for path in (train if isinstance(train, list) else [train]) for e in _labelled(path, data_config)]
        labels = Vocab(sorted({e.label for e in train_examples} | set(known)))
        dev_examples, dev_gold = cls.dev_data(dev, data_config, labels) if dev is not None else ([], [])
        summary = (
            f"train: {len(train_examples):,} texts, {sum(len(e.tokens) for e in train_examples):,} tokens, "
            f"{len(labels)} classes" + (f"; dev: {len(dev_examples):,} texts" if dev_examples else "")
        )
        return TrainingData(
            train_examples, dev_examples, [e.label for e in train_examples], dev_gold, labels,
            summary, meta={"train_examples": len(train_examples)},
        )

    @classmethod
    def dev_data(cls, dev: Path, data_config: DataConfig, labels: Vocab) -> tuple[list[Any], list[Any]]:
        examples = _labelled(dev, data_config)
        for example in examples:
            if example.label not in labels:
                raise InputError(f"label {example.label!r} does not occur in the training data", dev, example.line)
        return examples, [e.label for e in examples]

    @classmethod
    def build_net(cls, config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, **state: Any) -> ClassifierNet:
        return build_net(config, words, chars, labels)

    def training_batch(self, token_lists: Sequence[Sequence[str]], targets: Sequence[Any]) -> Batch:
        return self.collate(token_lists, labels=targets)

    # --init-from: a new class starts as a copy of the first old one, NEW_LABEL_MARGIN lower: never the most probable
    label_parameters = {"output.weight": ((0,), "copy", 0.0), "output.bias": ((0,), "copy", NEW_LABEL_MARGIN)}

    def label_counts(self, targets: Sequence[Any]) -> list[int]:
        """Training texts per class, in label order."""
        index = self.labels.index
        counts = [0] * len(self.labels)
        for label in targets:
            counts[index[label]] += 1
        return counts

    def dev_scores(self, gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, float]:
        from seqtag.evaluation.metrics import classification_report

        report = classification_report(list(gold), list(predicted), self.labels.items)
        return {"score": report["accuracy"], "accuracy": report["accuracy"], "f1": report["macro"]["f1"]}

    def held_out(self, records: Sequence[Any], targets: Sequence[Any]) -> list[Any]:
        """What this model (trained without ``records``) says of them, for :meth:`label_issues`: probabilities."""
        return self.probabilities([r.tokens for r in records])

    @classmethod
    def label_issues(cls, records: Sequence[Any], targets: Sequence[Any], evidence: Sequence[Any],
                     labels: Sequence[str]) -> list[dict[str, Any]]:
        """The texts whose label cleanlab's ``find_label_issues`` (confident learning) finds doubtful from the
        held-out probabilities, most doubtful first (``score``: 1 - p(gold label))."""
        import numpy as np
        from cleanlab.filter import find_label_issues

        index = {label: i for i, label in enumerate(labels)}
        given = np.array([index[label] for label in targets])
        probs = np.asarray(evidence, dtype=np.float64)
        found = find_label_issues(labels=given, pred_probs=probs, return_indices_ranked_by="self_confidence")
        return [
            {"line": records[i].line, "text": " ".join(records[i].tokens), "gold": labels[given[i]],
             "suggested": labels[int(probs[i].argmax())], "gold_probability": float(probs[i, given[i]]),
             "suggested_probability": float(probs[i].max()), "score": 1.0 - float(probs[i, given[i]])}
            for i in found
        ]

    # how labelled data is predicted beside its gold labels, and two systems' outputs compared (functions of
    # seqtag.evaluation.evaluate, which the base class's outcome() and compare_predictions() call)
    scoring = ("classify_labelled", "compare_labels")

    def prediction_input(self, source: Any, fmt: Any, encoding: str = "utf-8", token_column: int = 0,
                         lines: range | None = None) -> Any:
        """Texts to classify from ``source`` in the registry format ``fmt``: unlabelled lines, or a labelled
        file read with the training data's columns (labels ignored)."""
        text_format = "text" if fmt.task is None else fmt.name
        tokenized = fmt.name == "tokenized"
        if lines is None:
            return self.read(source, text_format, encoding=encoding, tokenized=tokenized)
        from seqtag.inference.shards import shard_examples

        read = functools.partial(self.read, input_format=text_format, encoding=encoding)
        return shard_examples(read, source, fmt.line_records, tokenized, self.data_config.max_tokens, lines)

    def prediction_job(self, confidence: bool, nbest: int, min_confidence: float | None = None) -> tuple[str, dict[str, Any]]:
        return "predict_chunk", {}

    def check_prediction_options(self, output_format: str, top_k: int | None, min_confidence: float | None = None,
                                 confidence: bool = False, nbest: int = 0) -> None:
        if output_format == "brat":
            raise InputError("brat standoff holds spans, not a class per text; choose label-studio, doccano or spacy",
                             "--format")
        if top_k is not None and output_format != "jsonl":
            raise InputError("needs --format jsonl (class probabilities have no place in one label per line)", "--top-k")
        if min_confidence is not None:
            raise InputError("is for taggers (entities above a probability) and multi-label classifiers; a classifier "
                             "gives one label per text (see --top-k)", "--min-confidence")

    def write_predictions(self, results: Any, out: Any, output_format: str, *, top_k: int | None = None,
                          confidence: bool = False, nbest: int = 0, min_confidence: float | None = None) -> None:
        """``(text, class probabilities)`` pairs as one label per line or JSONL records, or as documents for an
        annotation tool (``out``: a stream or an AnnotationOutput)."""
        from seqtag.formats.annotation_writers import WRITERS, classified_documents, write_documents

        if output_format in WRITERS:
            write_documents(classified_documents(results, self.labels.items), out, output_format)
            return
        from seqtag.formats.writers import write_classified

        write_classified(results, out, output_format, self.labels.items, top_k, confidence, nbest)

    def read(self, source: Any, input_format: str = "auto", with_labels: bool = False, **overrides: Any) -> Iterator[Example]:
        """Examples from ``source`` read the way the training data was (text columns, tokenization)."""
        config = dataclasses.replace(self.data_config, **overrides)
        return read_data(source, config, input_format, with_labels)

    # ---- active learning: `seqtag select` ----

    strategies = ("entropy", "least-confidence", "margin")

    def uncertainty(self, groups: Sequence[Sequence[Sequence[str]]], strategy: str = "entropy",
                    batch_size: int = PREDICT_BATCH) -> list[float]:
        """How unsure the classifier is of each text (a group of one token list), higher = more: the entropy
        of the class probabilities, 1 - the top probability, or 1 - (top - second)."""
        if strategy not in self.strategies:
            raise InputError(f"unknown strategy {strategy!r}; classifiers have {', '.join(self.strategies)}", "--strategy")
        texts = [[token for tokens in group for token in tokens] for group in groups]
        out = []
        for probs in self.probabilities(texts, batch_size):
            ranked = sorted(probs, reverse=True) + [0.0, 0.0]
            if not probs:
                out.append(0.0)
            elif strategy == "entropy":
                out.append(-sum(p * math.log(p) for p in probs if p > 0))
            else:
                out.append(1.0 - ranked[0] if strategy == "least-confidence" else 1.0 - (ranked[0] - ranked[1]))
        return out

    # ---- checks and descriptions: `seqtag data check`, `seqtag diagnose`, `seqtag info`, settings ----

    unit = "text"  # what one record of the data is called in reports
    long_after = 1000  # tokens: the data check's default --max-length
    long_hint = "; --max-tokens truncates them"  # what the data check says of longer texts
    label_noun = "label"  # what one label is called in reports
    imbalance = 10  # largest / smallest class size that earns a data-check warning

    @classmethod
    def check_records(cls, path: str | Path, data_config: DataConfig) -> Iterator[tuple[int, list[str], list[str]]]:
        """``(line, tokens, [label])`` per text of a labelled file, read as training reads it."""
        return ((e.line, e.tokens, [e.label or ""]) for e in read_data(path, data_config))

    @classmethod
    def check_labels(cls, counts: dict[str, int], items: int, empty: int) -> list[tuple[str, str]]:
        """``(level, message)`` findings about the classes of train (``counts``: texts per class, at least
        two classes) and its ``items`` texts, ``empty`` of them without tokens."""
        findings = []
        most, least = max(counts.values()), min(counts.values())
        if most >= cls.imbalance * least:
            findings.append(("warning", f"imbalanced: the largest class has {most / least:.0f}× the texts of the "
                                        "smallest; look at the per-class scores, not only accuracy"))
        if empty == items:
            findings.append(("error", "no text in train has any token"))
        return findings

    @classmethod
    def check_unseen_labels(cls, noun: str, listed: str) -> tuple[str, str]:
        """``(level, message)`` for dev labels that train lacks (``listed`` with counts): `seqtag train` refuses them."""
        return "error", f"dev has labels train lacks, which `seqtag train` refuses: {listed}"

    @classmethod
    def read_token_lists(cls, path: str | Path, data_config: DataConfig) -> Iterator[list[str]]:
        """The tokens of each text of a classification file; labels, if any, are not read."""
        return (example.tokens for example in read_data(path, data_config, with_labels=False))

    @classmethod
    def describe_architecture(cls, model: dict[str, Any]) -> str:
        """What `seqtag info` says of the output layer, from a model file's ``config.model``."""
        return f"pooling {model.get('pooling')}"

    @classmethod
    def check_settings(cls, model_config: ModelConfig) -> None:
        """An InputError for model settings that are valid alone but not together for a classifier."""
        if model_config.encoder == "window" and model_config.pooling == "last":
            raise InputError("--pooling last needs --encoder rnn; a window encoder pools with mean, max or attention")


def build_net(config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab) -> ClassifierNet:
    return ClassifierNet(config, len(words), len(chars) if chars is not None else 1, len(labels), words.trainable)


def _column(value: str) -> int | str:
    return int(value) if value.lstrip("-").isdigit() else value


def read_data(source: Any, config: DataConfig, input_format: str | None = None, with_labels: bool = True,
              context: str | None = None) -> Iterator[Example]:
    """Stream classification examples with the data config's columns, encoding and tokenization."""
    return read_examples(
        source,
        format=input_format or config.input_format,
        label_column=_column(config.label_column) if config.label_column else None,
        text_columns=[_column(c.strip()) for c in config.text_columns.split(",")] if config.text_columns else None,
        encoding=config.encoding,
        tokenized=config.tokenized,
        max_tokens=config.max_tokens or None,
        with_labels=with_labels,
        context=context,
        annotation=config.annotation,
    )


def _labelled(path: Path, config: DataConfig) -> list[Example]:
    examples = [one_label(e, path) for e in read_data(path, config, context="the training data is for classification") if e.tokens]
    if not examples:
        raise InputError("no examples with text found", path)
    return examples


def one_label(example: Example, path: Any) -> Example:
    """``example``, or an InputError when it carries a list of labels other than one: a classifier learns
    and predicts one label per text (never the first of several, silently)."""
    if example.labels is not None and len(example.labels) != 1:
        raise InputError(f"{len(example.labels)} labels ({', '.join(example.labels) or 'an empty list'}); a classifier "
                         "gives one label per text: train a multi-label classifier with --task multilabel", path, example.line)
    return example
