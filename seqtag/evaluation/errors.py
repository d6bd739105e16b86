"""What a tagger or classifier got wrong, grouped and counted: the report behind `seqtag evaluate --errors`.

Entities are seqeval's (:func:`seqtag.evaluation.metrics.sentence_entities`, default matching), so every error listed
here is one that the precision / recall figures count.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from seqtag.evaluation.metrics import Span, sentence_entities

SPAN_KINDS = ("false_positive", "false_negative", "wrong_type", "boundary")
Error = tuple[str, list[Span], list[Span]]  # (kind, gold spans involved, predicted spans involved)


def sentence_errors(gold: set[Span], pred: set[Span]) -> list[Error]:
    """One sentence's errors. A predicted entity that is not gold is ``wrong_type`` when a gold entity has
    its boundaries, ``boundary`` when it overlaps gold entities (listed together), else ``false_positive``;
    a gold entity involved in none of these is ``false_negative``."""
    exact = gold & pred
    gold_left = sorted(gold - exact, key=lambda span: span[1:])
    involved: set[Span] = set()
    errors: list[Error] = []
    for span in sorted(pred - exact, key=lambda span: span[1:]):
        same = [g for g in gold_left if g[1:] == span[1:]]
        overlapping = same or [g for g in gold_left if g[1] < span[2] and span[1] < g[2]]
        kind = "wrong_type" if same else "boundary" if overlapping else "false_positive"
        errors.append((kind, overlapping, [span]))
        involved.update(overlapping)
    errors += [("false_negative", [g], []) for g in gold_left if g not in involved]
    return errors


def span_errors(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    scheme: str,
    lines: Sequence[int],
) -> dict[str, Any]:
    """Tagging errors by kind and entity type, identical errors (same surface strings and types) merged and
    counted, most frequent first, each with the sentences it occurs in (the error in ``[brackets]``)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for words, line, g, p in zip(tokens, lines, sentence_entities(gold, scheme), sentence_entities(pred, scheme)):
        for kind, gold_spans, pred_spans in sentence_errors(g, p):
            involved = gold_spans + pred_spans
            start, end = min(s[1] for s in involved), max(s[2] for s in involved)
            key = (
                kind,
                (gold_spans or pred_spans)[0][0],  # the gold type, or the predicted one for a false positive
                " | ".join(" ".join(words[s:e]) for _, s, e in gold_spans) or None,
                "|".join(t for t, _, _ in gold_spans) or None,
                " ".join(words[pred_spans[0][1] : pred_spans[0][2]]) if pred_spans else None,
                pred_spans[0][0] if pred_spans else None,
            )
            text = " ".join([*words[:start], "[" + " ".join(words[start:end]) + "]", *words[end:]])
            groups[key].append({"line": line, "text": text})
    return _grouped(groups, SPAN_KINDS, ("kind", "type", "gold", "gold_type", "predicted", "predicted_type"))


def label_errors(
    texts: Sequence[Sequence[str]], gold: Sequence[str], pred: Sequence[str], lines: Sequence[int]
) -> dict[str, Any]:
    """Classification errors (kind ``wrong_label``) by gold label, one group per predicted label, largest
    group first, with the texts."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for words, line, g, p in zip(texts, lines, gold, pred):
        if g != p:
            groups[("wrong_label", g, g, p)].append({"line": line, "text": " ".join(words)})
    return _grouped(groups, ("wrong_label",), ("kind", "type", "gold", "predicted"))


def _grouped(groups: dict[tuple, list[dict[str, Any]]], kinds: tuple[str, ...], fields: tuple[str, ...]) -> dict[str, Any]:
    """``{"counts": {kind: {type: n}}, "errors": {kind: {type: [group, …]}}}`` for every kind, in order; types
    with the most errors first, and within a type the most frequent group first (ties by text)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for key, examples in sorted(groups.items(), key=lambda item: (-len(item[1]), [str(v) for v in item[0]])):
        record = dict(zip(fields, key))
        kind, kind_type = record.pop("kind"), record.pop("type")
        counts[kind][kind_type] += len(examples)
        errors[kind][kind_type].append({**record, "count": len(examples), "examples": examples})
    ranked = {kind: sorted(counts[kind], key=lambda t: (-counts[kind][t], t)) for kind in kinds}
    return {
        "counts": {kind: {t: counts[kind][t] for t in ranked[kind]} for kind in kinds},
        "errors": {kind: {t: errors[kind][t] for t in ranked[kind]} for kind in kinds},
    }


def label_set_errors(
    texts: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], lines: Sequence[int]
) -> dict[str, Any]:
    """Multi-label errors by label: ``missed_label`` (gold, not predicted) and ``spurious_label`` (predicted,
    not gold), with the texts."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for words, line, g, p in zip(texts, lines, gold, pred):
        for label in sorted(set(g) - set(p)):
            groups[("missed_label", label, label, None)].append({"line": line, "text": " ".join(words)})
        for label in sorted(set(p) - set(g)):
            groups[("spurious_label", label, None, label)].append({"line": line, "text": " ".join(words)})
    return _grouped(groups, ("missed_label", "spurious_label"), ("kind", "type", "gold", "predicted"))
