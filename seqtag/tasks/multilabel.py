"""The multi-label text classifier: any number of labels per text (topics, tags, emotions), from one sigmoid
output per label, each with its own threshold tuned on dev data.

It reads and predicts the classification formats (fastText lines with several ``__label__`` words, JSONL
records whose ``label`` is a list, Doccano's text-classification export); everything else (encoders,
pooling, reading, the data check) is the classifier's.

>>> model = MultiLabel.load("topics.seqtag")
>>> model.predict([["Stocks", "fell", "as", "storms", "hit", "the", "coast"]])
[['business', 'weather']]
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from seqtag.config import DataConfig, ModelConfig
from seqtag.data.batching import Batch
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.errors import InputError
from seqtag.formats.classification import Example
from seqtag.models.classifier import MultiLabelNet
from seqtag.tasks.base import PREDICT_BATCH, TrainingData
from seqtag.tasks.classification import Classifier, read_data

DEFAULT_THRESHOLD = 0.5  # of a label that dev data did not tune (no dev data, or no dev text with the label)
GRID = [round(0.05 * i, 2) for i in range(1, 20)]  # the thresholds tried on dev: 0.05, 0.10, … 0.95


@dataclass(frozen=True)
class LabelSet:
    """A text classified with any number of labels: those whose probability reaches their threshold (most
    probable first), and every label's probability, most probable first."""

    text: str
    labels: list[str]
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


class MultiLabel(Classifier):
    """Any number of labels per text: :meth:`predict` gives label lists, :meth:`probabilities` each label's
    independent probability, ``thresholds`` the probability each label needs."""

    task = "multilabel"
    tunes_on_dev = True

    def __init__(self, *args: Any, thresholds: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        given = thresholds or {}
        self.thresholds = {label: float(given.get(label, DEFAULT_THRESHOLD)) for label in self.labels.items}

    # ---- predictions ----

    def record(self, text: str, probs: list[float]) -> LabelSet:
        ranked = sorted(zip(self.labels.items, probs), key=lambda pair: -pair[1])
        return LabelSet(text, [label for label, p in ranked if p >= self.thresholds[label]], dict(ranked))

    def __call__(self, text: str | Sequence[str]) -> LabelSet:  # type: ignore[override]
        """Classify one text (tokenized as the training data was) or one list of tokens."""
        return next(self.pipe([text]))

    def predict(self, texts: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH,  # type: ignore[override]
                min_confidence: float | None = None) -> list[list[str]]:
        """The labels of each token list, most probable first ([] for an empty list): those whose probability
        reaches the label's threshold, or ``min_confidence`` for every label when given."""
        return [self.chosen(probs, min_confidence) for probs in self.probabilities(texts, batch_size)]

    def chosen(self, probs: list[float], min_confidence: float | None = None) -> list[str]:
        """The labels these probabilities (in label order) give, most probable first."""
        items = self.labels.items
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
        limit = [min_confidence] * len(items) if min_confidence is not None else [self.thresholds[label] for label in items]
        return [items[i] for i in ranked if probs[i] >= limit[i]]

    def dev_predict(self, token_lists: Sequence[Sequence[str]]) -> list[list[float]]:
        """Probabilities: dev scores tune the thresholds first."""
        return self.probabilities(token_lists)

    # ---- the task protocol ----

    @classmethod
    def training_data(cls, train: Path | list[Path], dev: Path | None, data_config: DataConfig, model_config: ModelConfig,
                      known: Sequence[str] = ()) -> TrainingData:
        train_examples = [e for path in (train if isinstance(train, list) else [train]) for e in _labelled(path, data_config)]
        labels = Vocab(sorted({label for e in train_examples for label in e.label_set()} | set(known)))
        if not len(labels):
            raise InputError("no labels: every text has an empty label list", train)
        dev_examples, dev_gold = cls.dev_data(dev, data_config, labels) if dev is not None else ([], [])
        assigned = sum(len(e.label_set()) for e in train_examples)
        summary = (
            f"train: {len(train_examples):,} texts, {sum(len(e.tokens) for e in train_examples):,} tokens, "
            f"{len(labels)} labels, {assigned / len(train_examples):.2f} per text"
            + (f"; dev: {len(dev_examples):,} texts" if dev_examples else "")
        )
        return TrainingData(
            train_examples, dev_examples, [e.label_set() for e in train_examples], dev_gold,
            labels, summary, meta={"train_examples": len(train_examples)},
        )

    @classmethod
    def dev_data(cls, dev: Path, data_config: DataConfig, labels: Vocab) -> tuple[list[Any], list[Any]]:
        examples = _labelled(dev, data_config)
        for example in examples:
            for label in example.label_set():
                if label not in labels:
                    raise InputError(f"label {label!r} does not occur in the training data", dev, example.line)
        return examples, [e.label_set() for e in examples]

    @classmethod
    def build_net(cls, config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, **state: Any) -> MultiLabelNet:
        return MultiLabelNet(config, len(words), len(chars) if chars is not None else 1, len(labels), words.trainable)

    def training_batch(self, token_lists: Sequence[Sequence[str]], targets: Sequence[Any]) -> Batch:
        batch = self.collate(token_lists)
        index = self.labels.index
        hot = torch.zeros(len(targets), len(self.labels))
        for row, labels in enumerate(targets):
            hot[row, [index[label] for label in labels]] = 1.0
        batch.labels = hot.to(batch.words.device)
        return batch

    def dev_scores(self, gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, float]:
        """Micro precision / recall / F1 (the ``score``) and exact-match accuracy with thresholds tuned on
        these very dev probabilities (what the kept model will use)."""
        from seqtag.evaluation.metrics import multilabel_report

        thresholds = tune_thresholds(gold, predicted, self.labels.items)
        limits = [thresholds[label] for label in self.labels.items]
        chosen = [[label for label, p, t in zip(self.labels.items, probs, limits) if p >= t] for probs in predicted]
        report = multilabel_report(list(gold), chosen, self.labels.items)
        micro = report["micro"]
        return {"score": micro["f1"], "precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"],
                "accuracy": report["accuracy"]}

    def tune_on_dev(self, gold: Sequence[Any], predicted: Sequence[Any]) -> None:
        self.thresholds = tune_thresholds(gold, predicted, self.labels.items)
        self.meta["thresholds"] = "tuned on dev"

    def label_counts(self, targets: Sequence[Any]) -> list[int]:
        index = self.labels.index
        counts = [0] * len(self.labels)
        for labels in targets:
            for label in labels:
                counts[index[label]] += 1
        return counts

    # --init-from: a new label's output is the constant sigmoid(-5) = 0.0067 until trained, below every threshold
    label_parameters = {"output.weight": ((0,), "constant", 0.0), "output.bias": ((0,), "constant", -5.0)}

    def inherit(self, old: Any) -> None:
        """Continuing ``old`` (``--init-from``): its labels keep their thresholds until dev tunes them again."""
        self.thresholds.update({label: t for label, t in old.thresholds.items() if label in self.thresholds})

    def loss_weights(self, counts: list[int], examples: int) -> list[float]:
        """``--class-weights auto``: each label's positives weigh negatives / positives (BCE's pos_weight);
        1 for a label with no positive text."""
        return [(examples - count) / count if count else 1.0 for count in counts]

    @classmethod
    def label_issues(cls, records: Sequence[Any], targets: Sequence[Any], evidence: Sequence[Any],
                     labels: Sequence[str]) -> list[dict[str, Any]]:
        """The texts whose label set cleanlab's multi-label ``find_label_issues`` finds doubtful;
        the suggestion is the labels the held-out model gives (probability >= 0.5)."""
        import numpy as np
        from cleanlab.multilabel_classification.filter import find_label_issues

        index = {label: i for i, label in enumerate(labels)}
        given = [[index[label] for label in labels_of] for labels_of in targets]
        probs = np.asarray(evidence, dtype=np.float64)
        found = find_label_issues(labels=given, pred_probs=probs, return_indices_ranked_by="self_confidence")
        issues = []
        for i in found:
            row, chosen = probs[i], set(given[i])
            fit = float(np.prod([row[j] if j in chosen else 1 - row[j] for j in range(len(labels))]))
            suggested = [labels[j] for j in np.argsort(-row) if row[j] >= 0.5]
            issues.append({"line": records[i].line, "text": " ".join(records[i].tokens),
                           "gold": ", ".join(labels[j] for j in given[i]) or "(none)",
                           "suggested": ", ".join(suggested) or "(none)", "gold_probability": fit,
                           "suggested_probability": None, "score": 1.0 - fit})
        return issues

    # how labelled data is predicted beside its gold labels, and two systems' outputs compared (functions of
    # seqtag.evaluation.evaluate, which the base class's outcome() and compare_predictions() call)
    scoring = ("multilabel_labelled", "compare_label_sets")

    def check_prediction_options(self, output_format: str, top_k: int | None, min_confidence: float | None = None,
                                 confidence: bool = False, nbest: int = 0) -> None:
        if top_k is not None and output_format != "jsonl":
            raise InputError("needs --format jsonl (label probabilities have no place in label lines)", "--top-k")
        if confidence or nbest:
            raise InputError("is for taggers and single-label classifiers (--format html implies --confidence); a "
                             "multi-label classifier's --format jsonl gives every label's probability (--top-k keeps "
                             "the K most probable)", "--confidence" if confidence else "--nbest")
        if output_format not in ("conll", "jsonl"):
            raise InputError(f"{output_format} takes one label per text; a multi-label classifier writes label lines "
                             "(--format conll) or jsonl", "--format")
        if min_confidence is not None and not 0 < min_confidence <= 1:
            raise InputError(f"must be a probability in (0, 1], got {min_confidence:g}", "--min-confidence")

    def write_predictions(self, results: Any, out: Any, output_format: str, *, top_k: int | None = None,
                          confidence: bool = False, nbest: int = 0, min_confidence: float | None = None) -> None:
        """``(text, label probabilities)`` pairs as label lines (tab-separated labels) or JSONL records."""
        from seqtag.formats.writers import write_label_sets

        write_label_sets(results, out, output_format, self.labels.items, lambda probs: self.chosen(probs, min_confidence),
                         top_k)

    def archive_extra(self) -> dict[str, Any]:
        return {"thresholds": dict(self.thresholds)}

    @classmethod
    def combined_extra(cls, extras: list[dict[str, Any]]) -> dict[str, Any]:
        """An ensemble's thresholds: the mean of its members' (until dev tunes them again)."""
        labels = extras[0]["thresholds"]
        return {"thresholds": {label: sum(e["thresholds"][label] for e in extras) / len(extras) for label in labels}}

    @classmethod
    def archive_state(cls, body: dict[str, Any]) -> dict[str, Any]:
        thresholds = body.get("thresholds")
        if not isinstance(thresholds, dict):
            raise KeyError("thresholds")
        return {"thresholds": {str(k): float(v) for k, v in thresholds.items()}}

    def uncertainty(self, groups: Sequence[Sequence[Sequence[str]]], strategy: str = "entropy",
                    batch_size: int = PREDICT_BATCH) -> list[float]:
        """How unsure the model is of each text (``seqtag select``), over its yes / no decision for every
        label: the sum of their entropies, 1 - the least sure decision's probability, or 1 - its margin."""
        import math

        if strategy not in self.strategies:
            raise InputError(f"unknown strategy {strategy!r}; classifiers have {', '.join(self.strategies)}", "--strategy")
        texts = [[token for tokens in group for token in tokens] for group in groups]
        out = []
        for probs in self.probabilities(texts, batch_size):
            if not probs:
                out.append(0.0)
            elif strategy == "entropy":
                out.append(-sum(q * math.log(q) for p in probs for q in (p, 1 - p) if q > 0))
            else:
                sure = min(max(p, 1 - p) for p in probs)
                out.append(1.0 - sure if strategy == "least-confidence" else 1.0 - (2 * sure - 1))
        return out

    # ---- checks and descriptions ----

    @classmethod
    def check_records(cls, path: str | Path, data_config: DataConfig) -> Any:
        """``(line, tokens, labels)`` per text of a labelled file (labels sorted: a set)."""
        return ((e.line, e.tokens, sorted(e.label_set())) for e in read_data(path, data_config))

    @classmethod
    def describe_architecture(cls, model: dict[str, Any]) -> str:
        return f"pooling {model.get('pooling')}, one sigmoid output per label"


def tune_thresholds(gold: Sequence[Sequence[str]], probabilities: Sequence[Sequence[float]],
                    labels: Sequence[str]) -> dict[str, float]:
    """Per label, the threshold of :data:`GRID` with the best F1 of that label on these texts (ties: the one
    nearest 0.5); :data:`DEFAULT_THRESHOLD` for a label no text has."""
    import numpy as np

    index = {label: j for j, label in enumerate(labels)}
    truth = np.zeros((len(gold), len(labels)), dtype=bool)
    for row, labels_of in enumerate(gold):
        truth[row, [index[label] for label in labels_of if label in index]] = True
    probs = np.asarray(probabilities, dtype=np.float64).reshape(len(gold), len(labels))
    positives = truth.sum(axis=0)
    # shape: (grid, labels)
    scores = np.stack([2 * (truth & (probs >= t)).sum(axis=0) / ((probs >= t).sum(axis=0) + positives).clip(min=1)
                       for t in GRID])
    order = sorted(range(len(GRID)), key=lambda i: abs(GRID[i] - 0.5))  # ties: nearest 0.5 first
    thresholds = {}
    for j, label in enumerate(labels):
        if not positives[j]:
            thresholds[label] = DEFAULT_THRESHOLD
            continue
        best = max(order, key=lambda i: scores[i, j])  # max keeps the first of equal scores
        thresholds[label] = GRID[best]
    return thresholds


def _labelled(path: Path, config: DataConfig) -> list[Example]:
    context = "the training data is for multi-label classification"
    examples = [e for e in read_data(path, config, context=context) if e.tokens]
    if not examples:
        raise InputError("no examples with text found", path)
    for example in examples:
        for label in example.label_set():
            if any(c in label for c in "\t\r\n"):
                raise InputError(f"label {label!r} holds a tab or line break, which label lines cannot hold", path,
                                 example.line)
    return examples
