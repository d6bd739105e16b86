"""Streaming prediction I/O: pick the reader for an input format, write tagged sentences as they come."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from seqtag.data.columns import write_columns
from seqtag.data.schemes import spans
from seqtag.data.sentence import Sentence

INPUT_FORMATS = ("raw", "tokenized", "conll", "conllu")


def iter_input(source: str, input_format: str, encoding: str = "utf-8", token_column: int = 0) -> Iterator[Sentence]:
    """Sentences to tag, streamed from a path or ``-`` (stdin)."""
    if input_format == "raw":
        from seqtag.data.rawtext import read_raw

        return read_raw(source, encoding=encoding)
    if input_format == "tokenized":
        from seqtag.data.rawtext import read_tokenized

        return read_tokenized(source, encoding=encoding)
    if input_format == "conllu":
        from seqtag.data.conllu import read_conllu

        return read_conllu(source, encoding=encoding)
    if input_format == "conll":
        from seqtag.data.columns import read_columns

        return read_columns(source, token_column=token_column, encoding=encoding, with_tags=False)
    raise ValueError(f"expected input format in {INPUT_FORMATS}, got {input_format!r}")


def span_records(sentence: Sentence, tags: list[str], scheme: str) -> list[dict]:
    """Entities as dicts: type, token range and, for text input, character offsets and surface text."""
    records = []
    if scheme == "plain":
        return records
    for kind, start, end in spans(tags, scheme):
        record: dict = {"type": kind, "token_start": start, "token_end": end}
        if sentence.offsets is not None and sentence.text is not None:
            first, last = sentence.offsets[start][0], sentence.offsets[end - 1][1]
            record.update(start=first, end=last, text=sentence.text[first:last])
        else:
            record["text"] = " ".join(sentence.tokens[start:end])
        records.append(record)
    return records


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


def write_classified(
    results: Iterable[tuple[Any, list[float]]], out: TextIO, output_format: str, labels: list[str], top_k: int | None
) -> None:
    """One line per input text: the label, or JSON with the label and class probabilities (best first,
    ``top_k`` of them). An empty text gives an empty line (``{}`` in JSONL), so lines stay aligned."""
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
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
