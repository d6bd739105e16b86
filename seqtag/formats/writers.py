"""Prediction writers: tagged sentences (CoNLL columns or JSONL with spans) and classified texts, streamed."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from seqtag.formats.columns import write_columns
from seqtag.data.schemes import spans
from seqtag.data.sentence import Sentence

if TYPE_CHECKING:
    from seqtag.tasks.tagging import TagDetails

def span_records(sentence: Sentence, tags: list[str], scheme: str) -> list[dict]:
    """Entities as dicts: type, token range and, for text input, character offsets and surface text."""
    if scheme == "plain":
        return []
    return [span_record(sentence, kind, start, end) for kind, start, end in spans(tags, scheme)]


def span_record(sentence: Sentence, kind: str, start: int, end: int) -> dict:
    """One entity as a dict: type, token range and, for text input, character offsets and surface text."""
    record: dict = {"type": kind, "token_start": start, "token_end": end}
    if sentence.offsets is not None and sentence.text is not None:
        first, last = sentence.offsets[start][0], sentence.offsets[end - 1][1]
        record.update(start=first, end=last, text=sentence.text[first:last])
    else:
        record["text"] = " ".join(sentence.tokens[start:end])
    return record


def write_tagged(tagged: Iterable[tuple[Sentence, list[str]]], out: TextIO, output_format: str, scheme: str) -> None:
    """CoNLL: ``token tag`` lines (input columns echoed for column files), a blank line after each
    sentence. JSONL: one object per sentence with ``line``, ``tokens``, ``tags``, ``spans``."""
    if output_format == "jsonl":
        for sentence, tags in tagged:
            record = {"line": sentence.line, "tokens": sentence.tokens, "tags": tags, "spans": span_records(sentence, tags, scheme)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    for sentence, tags in tagged:
        if not sentence.tokens:
            continue  # an empty raw line carries no tokens; CoNLL output has nothing to write for it
        sep = "\t" if any(" " in token for token in sentence.tokens) else " "
        write_columns(sentence, tags, out, sep)


def write_details(results: Iterable[tuple[Sentence, TagDetails]], out: TextIO, scheme: str) -> None:
    """JSONL as :func:`write_tagged` writes it, plus what was asked for: ``tag_probs`` (one per token) and a
    ``confidence`` in each span; ``nbest``, a list of ``{tags, probability, spans}``, best first. With
    candidates (``--min-confidence``), ``spans`` lists them instead: every entity at least that probable,
    with its ``confidence`` and whether it is ``on_best_path`` (``tags`` stay the best path)."""
    for sentence, details in results:
        record: dict[str, Any] = {"line": sentence.line, "tokens": sentence.tokens, "tags": details.tags}
        found = span_records(sentence, details.tags, scheme)
        if details.token_probs is not None and details.span_probs is not None:
            record["tag_probs"] = [round(p, 6) for p in details.token_probs]
            for span, p in zip(found, details.span_probs):  # the same entities, in the same order
                span["confidence"] = round(p, 6)
        if details.candidates is not None:
            found = [
                {**span_record(sentence, kind, start, end), "confidence": round(p, 6), "on_best_path": best}
                for kind, start, end, p, best in details.candidates
            ]
        record["spans"] = found
        if details.nbest is not None:
            record["nbest"] = [
                {"tags": tags, "probability": round(p, 6), "spans": span_records(sentence, tags, scheme)}
                for tags, p in details.nbest
            ]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_classified(
    results: Iterable[tuple[Any, list[float]]],
    out: TextIO,
    output_format: str,
    labels: list[str],
    top_k: int | None,
    confidence: bool = False,
    nbest: int = 0,
) -> None:
    """One line per input text: the label, or JSON with the label and class probabilities (best first,
    ``top_k`` of them), the label's probability as ``confidence`` and the ``nbest`` most probable labels
    as ``{label, probability}``. An empty text gives an empty line (``{}`` in JSONL), so lines stay aligned."""
    for example, probs in results:
        if not probs:
            out.write("{}\n" if output_format == "jsonl" else "\n")
            continue
        ranked = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)
        if output_format != "jsonl":
            out.write(labels[ranked[0]] + "\n")
            continue
        keep = ranked[:top_k] if top_k else ranked
        record = {
            "line": example.line,
            "label": labels[ranked[0]],
            "probabilities": {labels[i]: round(probs[i], 6) for i in keep},
        }
        if confidence:
            record["confidence"] = round(probs[ranked[0]], 6)
        if nbest:
            record["nbest"] = [{"label": labels[i], "probability": round(probs[i], 6)} for i in ranked[:nbest]]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_label_sets(
    results: Iterable[tuple[Any, list[float]]],
    out: TextIO,
    output_format: str,
    labels: list[str],
    choose: Any,
    top_k: int | None,
) -> None:
    """Multi-label predictions, one line per input text: the labels ``choose(probabilities)`` gives,
    tab-separated (most probable first), or JSONL ``{line, labels, probabilities}`` with every label's
    probability (the ``top_k`` most probable), most probable first. An empty text gives an empty line (``{}``
    in JSONL), and so does a text given no label in label lines, so lines stay aligned."""
    for example, probs in results:
        if not probs:
            out.write("{}\n" if output_format == "jsonl" else "\n")
            continue
        chosen = choose(probs)
        if output_format != "jsonl":
            out.write("\t".join(chosen) + "\n")
            continue
        ranked = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)
        keep = ranked[:top_k] if top_k else ranked
        record = {"line": example.line, "labels": chosen, "probabilities": {labels[i]: round(probs[i], 6) for i in keep}}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
