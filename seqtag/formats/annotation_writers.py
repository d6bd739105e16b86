"""Predictions (or converted data) written for annotation tools to import as they are: Label Studio
pre-annotations, Doccano JSONL, brat standoff folders, spaCy-style JSONL, and token JSONL (convert only).

Every span is written with character offsets into the original text of its document: the raw line, the
record's text of an annotation export, or, for token input (CoNLL), the tokens joined by spaces. Sentences
of one document (a raw line, one record) are written together as one document, in input order. Label
Studio gets each span's probability as its ``score``, the document's (the probability of its whole
tagging, or of the chosen class) as the prediction's ``score``, and a ``model_version``; spaCy-style JSONL
gets span scores too, brat gets them as ``AnnotatorNotes``; Doccano has no place for them.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from seqtag.data.schemes import spans as tag_spans
from seqtag.errors import InputError
from seqtag.formats.alignment import joined_tokens

WRITERS = ("label-studio", "doccano", "brat", "spacy")  # `seqtag predict --format`, `seqtag select --format`
SCORED = ("label-studio", "spacy", "brat")  # formats that hold probabilities
CONVERT_WRITERS = WRITERS + ("token-jsonl",)  # `seqtag convert --output-format`
CLASSIFICATION_WRITERS = ("label-studio", "doccano", "spacy")
FOLDER_WRITERS = ("brat",)


@dataclass
class AnnotationOutput:
    """Where annotation-tool output goes: a text stream, or a folder (brat); the model version to name."""

    stream: TextIO | None = None
    folder: Path | None = None
    model_version: str = "seqtag"


@dataclass
class OutDoc:
    """One document to write: its text, spans ``(start, end, label, probability or None)``, token offsets,
    a document probability, the tool's own data (Label Studio task data, region names) or, for classifiers,
    the label and class probabilities."""

    text: str
    name: str = ""
    spans: list[tuple[int, int, str, float | None]] = field(default_factory=list)
    tokens: list[tuple[int, int]] = field(default_factory=list)
    score: float | None = None
    data: dict | None = None
    names: tuple[str, str] | None = None
    label: str | None = None
    probabilities: dict[str, float] | None = None
    sentences: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (tokens, tags): token JSONL
    gold: bool = False  # annotations (converted data), not predictions


def as_output(out: Any) -> AnnotationOutput:
    return out if isinstance(out, AnnotationOutput) else AnnotationOutput(stream=out)


# ---------------------------------------------------------------------------- documents from predictions


def tagged_documents(results: Iterable[tuple[Any, Any]], scheme: str, gold: bool = False) -> Iterator[OutDoc]:
    """``(sentence, tags or TagDetails)`` pairs grouped into their documents, spans in character offsets;
    ``gold``: the tags are annotations (convert), not predictions."""
    doc: OutDoc | None = None
    key: Any = None
    for sentence, prediction in results:
        tags = getattr(prediction, "tags", prediction)
        span_probs = getattr(prediction, "span_probs", None)
        nbest = getattr(prediction, "nbest", None)
        origin = getattr(sentence, "doc", None)
        if origin is not None:
            here, text, offsets = origin, origin.text, sentence.offsets
        elif sentence.text is not None and sentence.offsets is not None:
            here, text, offsets = (sentence.line, sentence.text), sentence.text, sentence.offsets
        else:
            text, offsets = joined_tokens(sentence.tokens)
            here = object()
        if doc is None or not _same(here, key):
            if doc is not None:
                yield doc
            doc, key = OutDoc(text, gold=gold), here
            if origin is not None:
                doc.name, doc.data, doc.names = origin.name, origin.data, origin.names
        found = tag_spans(tags, scheme) if scheme != "plain" else []
        for n, (kind, start, end) in enumerate(found):
            p = span_probs[n] if span_probs is not None and n < len(span_probs) else None
            doc.spans.append((offsets[start][0], offsets[end - 1][1], kind, p))
        doc.tokens += offsets
        doc.sentences.append((sentence.tokens, tags))
        if nbest:
            doc.score = (1.0 if doc.score is None else doc.score) * nbest[0][1]
    if doc is not None:
        yield doc


def _same(here: Any, key: Any) -> bool:
    if isinstance(here, tuple) and isinstance(key, tuple):
        return here[0] == key[0] and here[1] is key[1]
    return here is key


def classified_documents(results: Iterable[tuple[Any, list[float]]], labels: list[str]) -> Iterator[OutDoc]:
    """``(example, class probabilities)`` pairs as documents with the most probable label."""
    for example, probs in results:
        if not probs:
            continue  # an empty text: nothing to annotate
        ranked = sorted(range(len(probs)), key=probs.__getitem__, reverse=True)
        yield OutDoc(example.text, label=labels[ranked[0]], score=probs[ranked[0]],
                     probabilities={labels[i]: probs[i] for i in ranked})


# ---------------------------------------------------------------------------- writing


def write_documents(docs: Iterable[OutDoc], out: Any, format: str) -> int:
    """Write ``docs`` in ``format``; the number written. Documents with an empty text are left out."""
    output = as_output(out)
    if format in FOLDER_WRITERS:
        return _write_brat(docs, output)
    stream = output.stream
    assert stream is not None
    count = 0
    if format == "label-studio":
        stream.write("[")
    for doc in docs:
        if not doc.text.strip():
            continue
        if format == "label-studio":
            stream.write(("\n" if count == 0 else ",\n") + _dumps(_label_studio(doc, output.model_version)))
        elif format == "token-jsonl":
            for tokens, tags in doc.sentences:
                stream.write(_dumps({"tokens": tokens, "ner_tags": tags}) + "\n")
        else:
            stream.write(_dumps(_RECORDS[format](doc)) + "\n")
        count += 1
    if format == "label-studio":
        stream.write("\n]\n" if count else "]\n")
    return count


def _dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)


def _round(p: float | None) -> float | None:
    return None if p is None else float(f"{p:.6g}")


def _utf16(text: str) -> Any:
    """Python offsets -> the UTF-16 ones Label Studio (JavaScript) counts; the identity for BMP-only text."""
    if all(ord(ch) < 0x10000 for ch in text):
        return lambda i: i
    units = [0]
    for ch in text:
        units.append(units[-1] + (2 if ord(ch) >= 0x10000 else 1))
    return units.__getitem__


def _label_studio(doc: OutDoc, model_version: str) -> dict:
    from_name, to_name = doc.names or ("label", "text")
    at = _utf16(doc.text)
    if doc.label is not None:
        result = [{"id": "seqtag-1", "from_name": from_name, "to_name": to_name, "type": "choices",
                   "value": {"choices": [doc.label]}}]
        if doc.score is not None:
            result[0]["score"] = _round(doc.score)
    else:
        result = []
        for n, (start, end, label, p) in enumerate(doc.spans, 1):
            item = {"id": f"seqtag-{n}", "from_name": from_name, "to_name": to_name, "type": "labels",
                    "value": {"start": at(start), "end": at(end), "text": doc.text[start:end], "labels": [label]}}
            if p is not None:
                item["score"] = _round(p)
            result.append(item)
    data = doc.data if doc.data is not None else {"text": doc.text}
    if doc.gold:  # converted annotations: a finished annotation, no scores
        return {"data": data, "annotations": [{"result": result, "was_cancelled": False}]}
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    if doc.score is not None:
        prediction["score"] = _round(doc.score)
    return {"data": data, "predictions": [prediction]}


def _doccano(doc: OutDoc) -> dict:
    if doc.label is not None:
        return {"text": doc.text, "label": [doc.label]}
    return {"text": doc.text, "label": [[start, end, label] for start, end, label, _ in doc.spans]}


def _spacy(doc: OutDoc) -> dict:
    if doc.label is not None:
        cats = doc.probabilities or {doc.label: 1.0}
        return {"text": doc.text, "cats": {label: _round(p) for label, p in cats.items()}}
    first = {start: i for i, (start, _) in enumerate(doc.tokens)}
    last = {end: i for i, (_, end) in enumerate(doc.tokens)}
    spans = []
    for start, end, label, p in doc.spans:
        span: dict[str, Any] = {"start": start, "end": end, "label": label}
        if start in first and end in last:  # Prodigy's token indexes (token_end inclusive)
            span.update(token_start=first[start], token_end=last[end])
        if p is not None:
            span["score"] = _round(p)
        spans.append(span)
    tokens = [{"text": doc.text[a:b], "start": a, "end": b, "id": i} for i, (a, b) in enumerate(doc.tokens)]
    return {"text": doc.text, "tokens": tokens, "spans": spans}


_RECORDS = {"doccano": _doccano, "spacy": _spacy}


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _write_brat(docs: Iterable[OutDoc], output: AnnotationOutput) -> int:
    folder = output.folder
    if folder is None:
        raise InputError("brat standoff is a folder of .txt and .ann files: give it with --output DIR", "--format")
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    count = 0
    for doc in docs:
        if not doc.text.strip():
            continue
        if doc.label is not None:
            raise InputError("brat standoff holds spans, not a class per text; choose label-studio, doccano or spacy",
                             "--format")
        count += 1
        stem = _SAFE.sub("_", doc.name).strip("._") if doc.name else ""
        stem = stem or f"doc{count:06d}"
        base, n = stem, 1
        while stem in used:
            n += 1
            stem = f"{base}-{n}"
        used.add(stem)
        txt, ann = folder / f"{stem}.txt", folder / f"{stem}.ann"
        for path in (txt, ann):
            if path.exists():
                raise InputError("exists already; give an empty folder (or a new one) with --output", path)
        with open(txt, "w", encoding="utf-8", newline="") as handle:
            handle.write(doc.text)
        lines = []
        for k, (start, end, label, p) in enumerate(doc.spans, 1):
            pieces = _fragments(doc.text, start, end)
            places = ";".join(f"{a} {b}" for a, b in pieces)
            shown = " ".join(doc.text[a:b] for a, b in pieces)
            lines.append(f"T{k}\t{label} {places}\t{shown}\n")
            if p is not None:
                lines.append(f"#{k}\tAnnotatorNotes T{k}\tscore {p:.6f}\n")
        with open(ann, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(lines))
    return count


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A span as brat writes it: one fragment per line it lies on (a brat span holds no line break)."""
    pieces, at = [], start
    for part in text[start:end].split("\n"):
        stripped = part.rstrip("\r")
        lead = len(stripped) - len(stripped.lstrip())
        if stripped.strip():
            pieces.append((at + lead, at + len(stripped.rstrip())))
        at += len(part) + 1
    return pieces or [(start, end)]
