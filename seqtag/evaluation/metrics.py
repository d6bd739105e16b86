"""Metrics as plain dicts: seqeval for spans, scikit-learn for per-tag and classification scores.

Both libraries are imported inside the functions: tagging (``seqtag predict``) never needs them.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MODES = ("default", "strict")
Span = tuple[str, int, int]  # (type, start, end exclusive)


def _averages(report: dict, key: str) -> dict[str, float]:
    row = report[key]
    return {
        "precision": float(row["precision"]),
        "recall": float(row["recall"]),
        "f1": float(row["f1-score"]),
        "support": int(row["support"]),
    }


def tagging_report(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str, mode: str = "default"
) -> dict:
    """Scores for tag sequences written in ``scheme`` (iob1 | iob2 | bioes | plain).

    Span schemes get seqeval's entity-level precision / recall / F1 per type with micro and macro
    averages (``mode="strict"`` uses seqeval's scheme-aware matching); every scheme gets token accuracy.
    ``score`` is the number early stopping and model selection use: micro F1, or accuracy for plain tags.
    """
    if mode not in MODES:
        raise ValueError(f"expected mode in {MODES}, got {mode!r}")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: expected {len(g)} predicted tags, got {len(p)}")
    if scheme == "bioes":  # seqeval knows IOBES only: read BILOU's L-/U- as E-/S- (as schemes.spans does)
        gold, pred = _bilou_as_bioes(gold), _bilou_as_bioes(pred)
    tokens = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    result: dict = {
        "scheme": scheme,
        "mode": mode,
        "sentences": len(gold),
        "tokens": tokens,
        "accuracy": correct / tokens if tokens else 0.0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision for absent types is reported as 0
        if scheme == "plain":
            result["per_type"], result["micro"], result["macro"] = _per_tag(gold, pred)
            result["score"] = result["accuracy"]
            return result
        from seqeval.metrics import classification_report

        kwargs: dict = {}
        if mode == "strict":
            from seqeval import scheme as schemes

            kwargs = {"mode": "strict", "scheme": {"iob1": schemes.IOB1, "iob2": schemes.IOB2, "bioes": schemes.IOBES}[scheme]}
        report = classification_report(
            [list(g) for g in gold], [list(p) for p in pred], output_dict=True, zero_division=0, **kwargs
        )
    result["per_type"] = {
        name: _averages(report, name) for name in sorted(report) if not name.endswith(" avg")
    }
    result["micro"] = _averages(report, "micro avg")
    result["macro"] = _averages(report, "macro avg")
    result["score"] = result["micro"]["f1"]
    return result


def _bilou_as_bioes(sequences: Sequence[Sequence[str]]) -> list[list[str]]:
    swap = {"L": "E", "U": "S"}
    return [[swap[t[0]] + t[1:] if t[:1] in swap and t[1:2] == "-" else t for t in tags] for tags in sequences]


def _per_tag(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> tuple[dict, dict, dict]:
    from sklearn.metrics import precision_recall_fscore_support

    flat_gold = [t for g in gold for t in g]
    flat_pred = [t for p in pred for t in p]
    labels = sorted(set(flat_gold) | set(flat_pred))
    p, r, f, s = precision_recall_fscore_support(flat_gold, flat_pred, labels=labels, zero_division=0)
    per = {
        label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, label in enumerate(labels)
    }
    averages = []
    for average in ("micro", "macro"):
        ap, ar, af, _ = precision_recall_fscore_support(
            flat_gold, flat_pred, labels=labels, average=average, zero_division=0
        )
        averages.append({"precision": float(ap), "recall": float(ar), "f1": float(af), "support": len(flat_gold)})
    return per, averages[0], averages[1]


def classification_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy, micro / macro averages, per-class precision / recall / F1 and the confusion matrix
    (rows = gold, columns = predicted, in ``labels`` order), all from scikit-learn."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    if len(gold) != len(pred):
        raise ValueError(f"expected {len(gold)} predictions, got {len(pred)}")
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    result: dict = {
        "examples": len(gold),
        "accuracy": float(accuracy_score(gold, pred)) if gold else 0.0,
        "per_class": {
            label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
    }
    for average in ("micro", "macro"):
        ap, ar, af, _ = precision_recall_fscore_support(gold, pred, labels=labels, average=average, zero_division=0)
        result[average] = {"precision": float(ap), "recall": float(ar), "f1": float(af), "support": len(gold)}
    result["score"] = result["accuracy"]
    return result


def sentence_entities(sequences: Sequence[Sequence[str]], scheme: str, mode: str = "default") -> list[set[Span]]:
    """Each sentence's entities as seqeval reads them (``get_entities``, or the scheme-aware ``Entities``
    in strict mode); for ``plain`` tags every tag but O is a one-token span."""
    if scheme == "plain":
        return [{(tag, i, i + 1) for i, tag in enumerate(tags) if tag != "O"} for tags in sequences]
    if scheme == "bioes":
        sequences = _bilou_as_bioes(sequences)
    if mode == "strict":
        from seqeval import scheme as schemes

        kind = {"iob1": schemes.IOB1, "iob2": schemes.IOB2, "bioes": schemes.IOBES}[scheme]
        found = schemes.Entities([list(tags) for tags in sequences], kind).entities
        return [{(e.tag, e.start, e.end) for e in entities} for entities in found]
    from seqeval.metrics.sequence_labeling import get_entities

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "X seems not to be NE tag" for tags the scheme check let through
        return [{(kind, start, end + 1) for kind, start, end in get_entities(list(tags))} for tags in sequences]


def sentence_counts(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str, mode: str = "default"
) -> np.ndarray:
    """Per-sentence counts whose column sums give the corpus score: ``(n, 3)`` true-positive, predicted and
    gold entities (micro F1, as seqeval computes it), or for ``plain`` tags ``(n, 2)`` correct and all tokens
    (accuracy). Resampling sentences then means summing rows, not calling seqeval again."""
    import numpy as np

    if scheme == "plain":
        rows = [(sum(a == b for a, b in zip(g, p)), len(g)) for g, p in zip(gold, pred)]
        return np.array(rows, dtype=np.int64).reshape(-1, 2)
    entities = zip(sentence_entities(gold, scheme, mode), sentence_entities(pred, scheme, mode))
    return np.array([(len(g & p), len(p), len(g)) for g, p in entities], dtype=np.int64).reshape(-1, 3)


def example_counts(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-example counts for classifiers: ``accuracy`` ``(n, 2)`` (correct, 1) and ``macro_f1``
    ``(n, classes, 3)`` (true positive, predicted, gold for each class in ``labels`` order)."""
    import numpy as np

    index = {label: i for i, label in enumerate(labels)}
    gold_ids = np.array([index[label] for label in gold], dtype=np.int64)
    pred_ids = np.array([index[label] for label in pred], dtype=np.int64)
    classes = np.arange(len(labels))
    # shape: (n, classes) each
    is_gold = gold_ids[:, None] == classes
    is_pred = pred_ids[:, None] == classes
    correct = gold_ids == pred_ids
    return {
        "accuracy": np.stack([correct, np.ones_like(correct)], axis=1).astype(np.int64),
        "macro_f1": np.stack([is_gold & is_pred, is_pred, is_gold], axis=2).astype(np.int64),
    }


def type_confusion(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str
) -> tuple[list[str], list[list[int]]]:
    """Token-level confusion of entity types (``B-PER`` and ``I-PER`` both count as ``PER``; O last), or of
    the tags themselves for ``plain``: ``(labels, matrix)`` with rows = gold, columns = predicted."""
    from sklearn.metrics import confusion_matrix

    def kind(tag: str) -> str:
        return tag[2:] if scheme != "plain" and len(tag) > 2 and tag[1] == "-" else tag

    flat_gold = [kind(t) for tags in gold for t in tags]
    flat_pred = [kind(t) for tags in pred for t in tags]
    labels = sorted(set(flat_gold) | set(flat_pred), key=lambda label: (label == "O", label))
    return labels, confusion_matrix(flat_gold, flat_pred, labels=labels).tolist()


def span_set_report(gold: Sequence[set[Span]], predicted: Sequence[set[Span]], threshold: float) -> dict:
    """Precision, recall and F1 per type, micro and macro, of predicted entity sets (which may overlap: the
    entities above a probability) against the gold ones, one set per sentence; ``spans`` counts the predicted."""
    counts: dict[str, list[int]] = {}
    for truth, found in zip(gold, predicted):
        for kind, *_ in truth | found:
            counts.setdefault(kind, [0, 0, 0])
        for span in found:
            counts[span[0]][0] += span in truth
            counts[span[0]][1] += 1
        for span in truth:
            counts[span[0]][2] += 1

    def scores(tp: int, pred: int, gold_count: int) -> dict:
        precision = tp / pred if pred else 0.0
        recall = tp / gold_count if gold_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": gold_count}

    per_type = {kind: scores(*counts[kind]) for kind in sorted(counts)}
    micro = scores(*(sum(c[i] for c in counts.values()) for i in range(3)))
    macro = {
        name: sum(row[name] for row in per_type.values()) / len(per_type) if per_type else 0.0
        for name in ("precision", "recall", "f1")
    } | {"support": micro["support"]}
    return {"threshold": threshold, "spans": sum(c[1] for c in counts.values()), "per_type": per_type,
            "micro": micro, "macro": macro}


def threshold_curve(scored: Sequence[tuple[float, bool]], gold_count: int) -> list[dict[str, float]]:
    """Micro precision and recall of the predictions at least as probable as each threshold: one point per
    distinct probability of ``scored`` ((probability, correct) pairs), highest threshold first."""
    points: list[dict[str, float]] = []
    tp = seen = 0
    ranked = sorted(scored, key=lambda item: -item[0])
    for i, (p, correct) in enumerate(ranked):
        tp += correct
        seen += 1
        if i + 1 < len(ranked) and ranked[i + 1][0] == p:
            continue  # ties enter together
        points.append({"threshold": p, "precision": tp / seen, "recall": tp / gold_count if gold_count else 0.0})
    return points


def multilabel_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict:
    """Multi-label scores from scikit-learn: per-label precision / recall / F1 / support, micro, macro and
    samples averages (``samples``: the mean over texts of each text's F1, where a text with no gold and no
    predicted label scores 1), and exact-match ``accuracy`` (the share of texts whose label set is right)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    if len(gold) != len(pred):
        raise ValueError(f"expected {len(gold)} predictions, got {len(pred)}")
    labels = list(labels)
    index = {label: j for j, label in enumerate(labels)}

    def matrix(sets: Sequence[Sequence[str]]) -> np.ndarray:
        hot = np.zeros((len(sets), len(labels)), dtype=np.int64)
        for row, chosen in enumerate(sets):
            hot[row, [index[label] for label in chosen]] = 1
        return hot

    y_true, y_pred = matrix(gold), matrix(pred)
    result: dict = {"examples": len(gold), "labels": labels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
        result["per_class"] = {
            label: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]), "support": int(s[j])}
            for j, label in enumerate(labels)
        }
        for average in ("micro", "macro", "samples"):
            if average == "samples" and not len(gold):
                ap = ar = af = 0.0
            else:  # samples: a text without gold or predicted labels is right (1), not undefined (0)
                ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, average=average,
                                                                zero_division=1 if average == "samples" else 0)
            result[average] = {"precision": float(ap), "recall": float(ar), "f1": float(af), "support": int(y_true.sum())}
    result["accuracy"] = float(accuracy_score(y_true, y_pred)) if len(gold) else 0.0
    result["score"] = result["micro"]["f1"]
    return result


def label_set_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-text counts for multi-label classifiers: ``f1`` ``(n, 3)`` (true positive, predicted and gold
    labels: micro F1) and ``macro_f1`` ``(n, labels, 3)``."""
    import numpy as np

    index = {label: j for j, label in enumerate(labels)}
    counts = np.zeros((len(gold), len(labels), 3), dtype=np.int64)
    for row, (truth, chosen) in enumerate(zip(gold, pred)):
        for label in set(truth) & set(chosen):
            counts[row, index[label], 0] = 1
        for label in set(chosen):
            counts[row, index[label], 1] = 1
        for label in set(truth):
            counts[row, index[label], 2] = 1
    return {"f1": counts.sum(axis=1), "macro_f1": counts}
