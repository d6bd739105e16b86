"""Metrics as plain dicts: seqeval for spans, scikit-learn for per-tag and classification scores.

Both libraries are imported inside the functions: tagging (``seqtag predict``) never needs them.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

MODES = ("default", "strict")


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
