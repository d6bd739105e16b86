"""Exports of annotation tools, read as seqtag's data: Doccano, Label Studio, brat, spaCy-style JSONL and
token JSONL (the layout of dataset hubs). docs/annotation.md has each format's fields.

Span formats (character offsets into a text) become sentences of tokens with IOB2 tags through
:mod:`seqtag.formats.alignment`, which tokenizes with the one tokenizer `seqtag predict` uses for raw text.
Classification exports become :class:`~seqtag.formats.classification.Example` s. Records are read one at
a time (JSON lines, one brat document, one item of a Label Studio array), so files of any size stream.

Every format's schema is closed where a typo would lose data: an unknown field inside a span, a
Label Studio region or a token is an error, and so is a record-level key that is a near miss of a schema
key (``"entites"``). Other record-level keys are the tool's metadata (ids, comments, timestamps) and are
not read. Empty texts, offsets outside the text, wrong types and labels that cannot be tags are one-line
errors naming the file and line. What seqtag does not read (relations, brat events and attributes,
Prodigy's rejected answers, Label Studio tasks without a finished annotation) is counted and said on
stderr, never dropped in silence.
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.formats.alignment import Aligner, CharSpan, clip, joined_tokens, warn
from seqtag.formats.jsonstream import json_array, json_lines, json_type
from seqtag.formats.lines import Source, checked_lines, open_lines

SPAN_FORMATS = ("doccano", "label-studio", "brat", "spacy", "token-jsonl")  # tagging data
LABEL_FORMATS = ("label-studio-cls", "spacy-cls")  # classification data (Doccano's is jsonl's)
ANNOTATION_CHOICES = ("first", "last", "prediction")  # which Label Studio annotation of a task is read
TAG_KEYS = ("ner_tags", "tags")  # token JSONL: the tag list, unless label_column names another key


@dataclass(slots=True)
class Document:
    """One annotated text as the tool had it: its name (brat file stem, record id), where it was read, and
    for Label Studio the task's ``data`` and the control / object names its regions used."""

    text: str
    name: str
    line: int
    data: dict | None = None
    names: tuple[str, str] | None = None  # Label Studio (from_name, to_name)


@dataclass(slots=True)
class DocSentence(Sentence):
    """A sentence (or the unit of sentences a span joins) of a :class:`Document`; ``offsets`` point into
    ``text``, the document's text."""

    doc: Document | None = None


@dataclass(slots=True)
class ReadOptions:
    """How span formats become tags (the DataConfig settings of the same names)."""

    encoding: str = "utf-8"
    misaligned: str = "error"
    overlaps: str = "error"
    annotation: str = "first"
    tokenized: bool = False
    tag_key: str = ""  # token JSONL: the key of the tag list ("" = ner_tags, else tags)


@dataclass(slots=True)
class _Record:
    """What a reader found in one record: text, spans (None: unlabelled) or pre-made tokens and tags."""

    text: str
    line: int
    spans: list[CharSpan] | None = None
    label: str | None = None  # classification
    name: str = ""
    tokens: list[tuple[int, int]] | None = None  # the record's own tokenization, one sentence
    tags: list[str] | None = None
    data: dict | None = None
    names: tuple[str, str] | None = None


class _Notes:
    """What a file holds that seqtag does not read, counted per kind and said once on stderr."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kinds: dict[str, list[Any]] = {}

    def add(self, kind: str, where: str) -> None:
        entry = self.kinds.setdefault(kind, [0, where])
        entry[0] += 1

    def say(self) -> None:
        for kind, (count, where) in self.kinds.items():
            warn(f"{self.name}: {count} {kind} (first at {where})")


# ---------------------------------------------------------------------------- recognising


def sniff_json(lines: list[str]) -> tuple[str, ...]:
    """The formats the first lines of a JSON file fit, most likely first (``jsonl``: classification
    JSON lines, also when nothing else fits, so its reader can say what is wrong)."""
    head = "".join(lines).lstrip()
    if re.match(r"\[\s*(\{|\]|$)", head):  # a JSON array of objects: Label Studio's export
        return _sniff_label_studio(head)
    undecided: tuple[str, ...] | None = None
    for line in lines[:50]:
        line = line.strip()
        if not line:
            continue
        try:
            import json

            record = json.loads(line)
        except (ValueError, RecursionError):  # the reader says what is wrong, and where
            break
        if not isinstance(record, dict):
            break
        kind = _record_kind(record)
        if kind is None:
            break
        if len(kind) == 1:
            return kind
        undecided = undecided or kind
    return undecided or ("jsonl",)


def _sniff_label_studio(head: str) -> tuple[str, ...]:
    if not re.search(r'"data"\s*:', head):
        return ("label-studio",)  # its reader says what a Label Studio export holds
    kinds = re.findall(r'"type"\s*:\s*"(labels|choices)"', head)
    if kinds:
        return ("label-studio", "label-studio-cls") if kinds[0] == "labels" else ("label-studio-cls", "label-studio")
    return ("label-studio", "label-studio-cls")


def _record_kind(record: dict) -> tuple[str, ...] | None:
    """What one JSON line is: a decided format (one name), undecided between some (several), or None."""
    tokens = record.get("tokens")
    if isinstance(tokens, list) and tokens:
        if all(isinstance(t, str) for t in tokens) and any(key in record for key in TAG_KEYS):
            return ("token-jsonl",)
        if isinstance(tokens[0], dict):
            return ("spacy",)
    if isinstance(record.get("cats"), dict):
        return ("spacy-cls",)
    if "text" not in record:
        return None
    entities = record.get("entities")
    if isinstance(entities, list):
        if any(isinstance(e, dict) and "start_offset" in e for e in entities):
            return ("doccano",)
        return ("spacy",) if entities else ("doccano", "spacy")
    if isinstance(record.get("spans"), list):
        return ("spacy",)
    label = record.get("label")
    if isinstance(label, list):
        if label and all(isinstance(item, list) for item in label):
            return ("doccano",)
        if label and all(isinstance(item, str) for item in label):
            return ("jsonl",)  # Doccano's classification export: a list of labels, read by the jsonl reader
        if not label:
            return ("doccano", "jsonl")
    return None


def sniff_path(source: Any) -> tuple[str, ...] | None:
    """What a path says before its content is read: a brat folder (or one .ann file), or a spaCy DocBin
    (which seqtag does not read: an error saying how to export JSONL from it). None otherwise."""
    if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
        return None
    path = Path(source)
    if path.suffix.lower() == ".spacy":
        raise InputError(
            "a spaCy DocBin (binary); seqtag reads spaCy-style JSONL instead: docs/annotation.md shows the "
            "few lines of spaCy that write it", path,
        )
    if path.is_dir():
        return ("brat",) if any(p.suffix == ".ann" for p in path.iterdir()) else None
    if path.suffix == ".ann":
        return ("brat",)
    return None


# ---------------------------------------------------------------------------- reading: tagging


def read_annotated(source: Source, format: str, options: ReadOptions, with_tags: bool = True) -> Iterator[DocSentence]:
    """The units of a span-format file (sentences, joined where a span crosses a break) with IOB2 tags, or
    without tags (``with_tags=False``: texts to tag, annotations not read)."""
    name = _source_name(source)
    aligner = Aligner(name, options.misaligned, options.overlaps, options.tokenized)
    notes = _Notes(name)
    found = False
    for number, record in enumerate(_RECORDS[format](source, options, notes, with_tags)):
        found = True
        if aligner.failed:
            if record.spans is not None:
                aligner.units(record.text, record.spans)  # only counted now: the error comes at the end
            continue
        doc = Document(record.text, record.name or str(record.line), record.line, record.data, record.names)
        if record.tokens is not None:
            tags = record.tags if with_tags else None
            yield DocSentence([record.text[a:b] for a, b in record.tokens], tags, record.line, record.tokens,
                              record.text, document=number, doc=doc)
            continue
        for offsets, tags in aligner.units(record.text, record.spans if with_tags else None):
            if aligner.failed:
                break
            line = record.line + record.text.count("\n", 0, offsets[0][0]) if format == "brat" else record.line
            yield DocSentence([record.text[a:b] for a, b in offsets], tags, line, offsets, record.text, document=number,
                              doc=doc)
    if not found:
        raise InputError("no texts found", name)
    aligner.finish()
    notes.say()


def _source_name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if os.fspath(source) == "-" else os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _jsonl(source: Source, encoding: str) -> Iterator[tuple[str, int, dict]]:
    """``(file name, line, record)`` per JSON line, each an object."""
    with open_lines(source, encoding) as (name, lines):
        for lineno, record in json_lines(name, checked_lines(lines, name, encoding)):
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object, found {json_type(record)}", name, lineno)
            yield name, lineno, record


def _text(record: dict, name: str, line: int, key: str = "text") -> str:
    if key not in record:
        raise InputError(f"missing key {key!r}; the keys are: {', '.join(map(str, record)) or '(none)'}", name, line)
    text = record[key]
    if not isinstance(text, str):
        raise InputError(f"{key!r} must be a string, found {json_type(text)}", name, line)
    if not text.strip():
        raise InputError("empty text", name, line)
    return text


def _check_keys(record: dict, schema: tuple[str, ...], name: str, line: int, what: str = "") -> None:
    """An error for a key that is a near miss of a schema key (``entites``): the data under it would be lost."""
    for key in record:
        if key in schema or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key, schema, n=1, cutoff=0.8)
        if close:
            raise InputError(f"unknown field {key!r}{what}; did you mean {close[0]!r}?", name, line)


def _closed(item: dict, allowed: tuple[str, ...], name: str, line: int, what: str) -> None:
    """An error for any key of ``item`` that is not in ``allowed`` (spans, regions, tokens)."""
    for key in item:
        if key not in allowed:
            raise InputError(f"unknown field {key!r} in {what}; the fields are: {', '.join(allowed)}", name, line)


def _offset(value: Any, key: str, name: str, line: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{key} of {what} must be an integer, found {json_type(value)}", name, line)
    return value


def _label(value: Any, name: str, line: int, what: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"the label of {what} must be a string, found {json_type(value)}", name, line)
    label = value.strip()
    if not label or label == "O" or any(ch.isspace() for ch in label):
        problem = "is empty" if not label else "means outside every entity" if label == "O" else "holds whitespace"
        raise InputError(f"label {value!r} of {what} {problem}; entity labels are single words such as PER", name, line)
    return label


def _span(text: str, start: Any, end: Any, label: Any, name: str, line: int, what: str) -> CharSpan:
    start = _offset(start, "the start", name, line, what)
    end = _offset(end, "the end", name, line, what)
    label = _label(label, name, line, what)
    if not 0 <= start < end <= len(text):
        problem = ("is empty or reversed" if start >= end else "is outside the text")
        raise InputError(f"{what} ({label}, characters {start}-{end}) {problem}; the text has {len(text)} characters",
                         name, line)
    return CharSpan(start, end, label, name, line)


DOCCANO_KEYS = ("text", "label", "entities")
DOCCANO_ENTITY = ("id", "label", "start_offset", "end_offset")


def _doccano(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool) -> Iterator[_Record]:
    for name, line, record in _jsonl(source, options.encoding):
        _check_keys(record, DOCCANO_KEYS + ("relations",), name, line)
        text = _text(record, name, line)
        if not with_tags:
            yield _Record(text, line, name=_record_name(record, line))
            continue
        has_label, has_entities = "label" in record, "entities" in record
        if has_label and has_entities:
            raise InputError("both 'label' and 'entities': a Doccano export has one of them", name, line)
        if not has_label and not has_entities:
            raise InputError("no spans: expected 'label' ([[start, end, label], …]) or 'entities'", name, line)
        spans = []
        if has_label:
            items = record["label"]
            if not isinstance(items, list):
                raise InputError(f"'label' must be an array of [start, end, label] spans, found {json_type(items)}",
                                 name, line)
            for n, item in enumerate(items, 1):
                if not isinstance(item, list) or len(item) != 3:
                    raise InputError(f"span {n} of 'label' must be [start, end, label], found {clip(str(item))}",
                                     name, line)
                spans.append(_span(text, *item, name, line, f"span {n}"))
        else:
            items = record["entities"]
            if not isinstance(items, list):
                raise InputError(f"'entities' must be an array, found {json_type(items)}", name, line)
            for n, item in enumerate(items, 1):
                if not isinstance(item, dict):
                    raise InputError(f"entity {n} must be an object, found {json_type(item)}", name, line)
                _closed(item, DOCCANO_ENTITY, name, line, f"entity {n}")
                for key in ("start_offset", "end_offset", "label"):
                    if key not in item:
                        raise InputError(f"entity {n} has no {key!r}", name, line)
                spans.append(_span(text, item["start_offset"], item["end_offset"], item["label"], name, line, f"entity {n}"))
        relations = record.get("relations")
        if isinstance(relations, list) and relations:
            for _ in relations:
                notes.add("relations not read (seqtag tags entities)", f"{name}:{line}")
        yield _Record(text, line, spans, name=_record_name(record, line))


def _record_name(record: dict, line: int) -> str:
    ident = record.get("id")
    return str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) else str(line)


SPACY_KEYS = ("text", "spans", "entities", "tokens", "answer")
SPACY_SPAN = ("start", "end", "label", "token_start", "token_end", "score", "text", "source", "input_hash", "kb_id", "id")
SPACY_TOKEN = ("text", "start", "end", "id", "ws", "disabled")


def _spacy(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool) -> Iterator[_Record]:
    for name, line, record in _jsonl(source, options.encoding):
        _check_keys(record, SPACY_KEYS, name, line)
        text = _text(record, name, line)
        if _rejected(record, name, line, notes):
            continue
        tokens = _spacy_tokens(record, text, name, line)
        if not with_tags:
            yield _Record(text, line, name=_record_name(record, line), tokens=tokens)
            continue
        if "spans" in record and "entities" in record:
            raise InputError("both 'spans' and 'entities': give the entities in one of them", name, line)
        key = "spans" if "spans" in record else "entities"
        items = record.get(key, [])
        if isinstance(items, dict):
            raise InputError(f"{key!r} is an object (span groups such as {{'sc': [...]}}); seqtag reads an array of "
                             "spans: [[start, end, label], …] or [{start, end, label}, …]", name, line)
        if not isinstance(items, list):
            raise InputError(f"{key!r} must be an array of spans, found {json_type(items)}", name, line)
        spans = []
        for n, item in enumerate(items, 1):
            what = f"span {n}"
            if isinstance(item, list) and len(item) == 3:
                spans.append(_span(text, *item, name, line, what))
            elif isinstance(item, dict):
                _closed(item, SPACY_SPAN, name, line, what)
                for field_name in ("start", "end", "label"):
                    if field_name not in item:
                        raise InputError(f"{what} has no {field_name!r}", name, line)
                spans.append(_span(text, item["start"], item["end"], item["label"], name, line, what))
            else:
                raise InputError(f"{what} must be [start, end, label] or {{start, end, label}}, found "
                                 f"{clip(str(item))}", name, line)
        if tokens is None:
            yield _Record(text, line, spans, name=_record_name(record, line))
        else:
            yield _Record(text, line, name=_record_name(record, line), tokens=tokens,
                          tags=_tags_of(text, tokens, spans, options, name, line))


def _rejected(record: dict, name: str, line: int, notes: _Notes) -> bool:
    """Prodigy's ``answer``: accept is read, reject and ignore are not (and are counted)."""
    answer = record.get("answer", "accept")
    if answer == "accept":
        return False
    if answer in ("reject", "ignore"):
        notes.add("records answered reject or ignore not read", f"{name}:{line}")
        return True
    raise InputError(f"'answer' must be accept, reject or ignore, found {clip(str(answer))}", name, line)


def _spacy_tokens(record: dict, text: str, name: str, line: int) -> list[tuple[int, int]] | None:
    """The record's own tokens (Prodigy's ``tokens``), checked against the text; None without them."""
    tokens = record.get("tokens")
    if tokens is None:
        return None
    if not isinstance(tokens, list) or not tokens:
        raise InputError(f"'tokens' must be a non-empty array of {{text, start, end}}, found {json_type(tokens)}",
                         name, line)
    offsets = []
    for n, token in enumerate(tokens, 1):
        if not isinstance(token, dict):
            raise InputError(f"token {n} must be an object {{text, start, end}}, found {json_type(token)}", name, line)
        _closed(token, SPACY_TOKEN, name, line, f"token {n}")
        start = _offset(token.get("start"), "the start", name, line, f"token {n}")
        end = _offset(token.get("end"), "the end", name, line, f"token {n}")
        if not 0 <= start < end <= len(text) or (offsets and start < offsets[-1][1]):
            raise InputError(f"token {n} (characters {start}-{end}) is outside the text or out of order", name, line)
        if "text" in token and token["text"] != text[start:end]:
            raise InputError(f"token {n} is {clip(str(token['text']))} but the text has {clip(text[start:end])} at "
                             f"{start}-{end}", name, line)
        offsets.append((start, end))
    return offsets


def _tags_of(text: str, tokens: list[tuple[int, int]], spans: list[CharSpan], options: ReadOptions, name: str,
             line: int) -> list[str]:
    """IOB2 tags of a record that brings its own tokens: each span must start and end on them."""
    starts = {a: i for i, (a, _) in enumerate(tokens)}
    ends = {b: i for i, (_, b) in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or last < first:
            raise InputError(f"span {clip(text[span.start:span.end])} ({span.label}, characters {span.start}-{span.end}) "
                             "does not fall on the record's tokens", name, line)
        if any(tag != "O" for tag in tags[first : last + 1]):
            raise InputError(f"spans overlap at {clip(text[span.start:span.end])} ({span.label}); a token takes one tag",
                             name, line)
        tags[first] = "B-" + span.label
        for i in range(first + 1, last + 1):
            tags[i] = "I-" + span.label
    return tags


TOKEN_KEYS = ("tokens",) + TAG_KEYS


def _token_jsonl(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool) -> Iterator[_Record]:
    for name, line, record in _jsonl(source, options.encoding):
        _check_keys(record, TOKEN_KEYS, name, line)
        tokens = record.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() for t in tokens):
            found = json_type(tokens) if not isinstance(tokens, list) else "an entry that is no word"
            raise InputError(f"'tokens' must be an array of words, found {found}", name, line)
        if not tokens:
            raise InputError("empty 'tokens'", name, line)
        text, offsets = joined_tokens(tokens)
        if not with_tags:
            yield _Record(text, line, name=_record_name(record, line), tokens=offsets)
            continue
        key = options.tag_key or next((k for k in TAG_KEYS if k in record), TAG_KEYS[0])
        if key not in record:
            raise InputError(f"missing key {key!r}; the keys are: {', '.join(map(str, record))}", name, line)
        tags = record[key]
        if not isinstance(tags, list):
            raise InputError(f"{key!r} must be an array of tag names, found {json_type(tags)}", name, line)
        if any(isinstance(tag, int) for tag in tags):
            raise InputError(f"{key!r} holds numbers (class ids), not tag names; write the names (a dataset's "
                             f"features[{key!r}].feature.names maps them)", name, line)
        if not all(isinstance(tag, str) and tag and not any(ch.isspace() for ch in tag) for tag in tags):
            raise InputError(f"{key!r} must hold tag names such as B-PER, without whitespace", name, line)
        if len(tags) != len(tokens):
            raise InputError(f"{len(tokens)} tokens but {len(tags)} tags in {key!r}", name, line)
        yield _Record(text, line, name=_record_name(record, line), tokens=offsets, tags=list(tags))


LS_TASK = ("data", "annotations", "predictions")
LS_REGION = ("start", "end", "text", "labels")
TASK_KINDS = {"labels", "choices"}


def _label_studio_tasks(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool, kind: str
                        ) -> Iterator[tuple[str, int, str, dict, list[dict] | None, tuple[str, str] | None, str]]:
    """``(file name, line, text, data, result items of the chosen annotation, (from_name, to_name), task id)``
    per task;
    tasks without a finished annotation are counted and left out when annotations are read."""
    with open_lines(source, options.encoding) as (name, lines):
        for line, task in json_array(name, checked_lines(lines, name, options.encoding)):
            if not isinstance(task, dict):
                raise InputError(f"expected a Label Studio task (an object), found {json_type(task)}", name, line)
            _check_keys(task, LS_TASK, name, line)
            data = task.get("data")
            if not isinstance(data, dict):
                keys = ", ".join(map(str, task)) or "(none)"
                raise InputError(f"a Label Studio task has an object 'data' (this has {json_type(data) if 'data' in task else 'none'}; "
                                 f"the keys are {keys}): export from Label Studio as JSON, not JSON-MIN or CSV", name, line)
            text = _task_text(data, name, line)
            ident = _record_name(task, line)
            if not with_tags:
                yield name, line, text, data, None, None, ident
                continue
            chosen = _chosen_annotation(task, options.annotation, name, line)
            if chosen is None:
                notes.add("tasks without a finished annotation not read (--annotation prediction reads "
                          "pre-annotations)", f"{name}:{line}")
                continue
            result = chosen.get("result", [])
            if not isinstance(result, list):
                raise InputError(f"an annotation's 'result' must be an array, found {json_type(result)}", name, line)
            items, names = [], None
            for n, item in enumerate(result, 1):
                if not isinstance(item, dict):
                    raise InputError(f"result item {n} must be an object, found {json_type(item)}", name, line)
                item_type = item.get("type")
                if item_type not in TASK_KINDS:
                    notes.add(f"results of other kinds than {kind} not read (relations, text areas, …)", f"{name}:{line}")
                    continue
                if item_type != kind:
                    continue
                names = names or (str(item.get("from_name", "label")), str(item.get("to_name", "text")))
                items.append(item)
            yield name, line, text, data, items, names, ident


def _task_text(data: dict, name: str, line: int) -> str:
    if "text" in data:
        key = "text"
    else:
        strings = [k for k, v in data.items() if isinstance(v, str)]
        if len(strings) != 1:
            raise InputError(f"the task's data has no 'text' (its keys are {', '.join(map(str, data)) or '(none)'})",
                             name, line)
        key = strings[0]
    text = _text(data, name, line, key)
    if re.fullmatch(r"(https?|s3|gs)://\S+|/data/\S+", text.strip()):
        raise InputError(f"the task's {key!r} is a link ({clip(text)}), not the text; export the project with the "
                         "texts themselves", name, line)
    return text


def _chosen_annotation(task: dict, annotation: str, name: str, line: int) -> dict | None:
    key = "predictions" if annotation == "prediction" else "annotations"
    found = task.get(key, [])
    if not isinstance(found, list):
        raise InputError(f"{key!r} must be an array, found {json_type(found)}", name, line)
    usable = [a for a in found if isinstance(a, dict) and not a.get("was_cancelled", False)]
    if len(usable) != len([a for a in found if not (isinstance(a, dict) and a.get("was_cancelled"))]):
        raise InputError(f"every entry of {key!r} must be an object", name, line)
    if not usable:
        return None
    return usable[-1] if annotation == "last" else usable[0]


def _label_studio(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool) -> Iterator[_Record]:
    for name, line, text, data, items, names, ident in _label_studio_tasks(source, options, notes, with_tags, "labels"):
        if items is None:
            yield _Record(text, line, data=data, name=ident)
            continue
        spans = []
        for n, item in enumerate(items, 1):
            what = f"region {n}"
            value = item.get("value")
            if not isinstance(value, dict):
                raise InputError(f"{what} has no object 'value'", name, line)
            _closed(value, LS_REGION, name, line, f"the value of {what}")
            labels = value.get("labels")
            if not isinstance(labels, list) or len(labels) != 1:
                count = len(labels) if isinstance(labels, list) else json_type(labels)
                raise InputError(f"{what} must have one label in 'labels', found {count}; a token takes one tag",
                                 name, line)
            start, end = _js_offsets(text, value.get("start"), value.get("end"), value.get("text"))
            span = _span(text, start, end, labels[0], name, line, what)
            if isinstance(value.get("text"), str) and value["text"] != text[span.start:span.end]:
                raise InputError(f"{what} says its text is {clip(value['text'])} but characters {span.start}-{span.end} "
                                 f"of the task's text are {clip(text[span.start:span.end])}", name, line)
            spans.append(span)
        yield _Record(text, line, spans, data=data, names=names, name=ident)


def _js_offsets(text: str, start: Any, end: Any, shown: Any) -> tuple[Any, Any]:
    """Label Studio counts offsets in UTF-16 code units (JavaScript strings); Python in code points. They
    differ after a character outside the BMP (an emoji): such offsets are converted when the region's own
    text says they are UTF-16 ones."""
    if not (isinstance(start, int) and isinstance(end, int)) or all(ord(ch) < 0x10000 for ch in text):
        return start, end
    if isinstance(shown, str) and 0 <= start < end <= len(text) and text[start:end] == shown:
        return start, end
    units = [0]
    for ch in text:
        units.append(units[-1] + (2 if ord(ch) >= 0x10000 else 1))
    index = {unit: i for i, unit in enumerate(units)}
    if start in index and end in index:
        return index[start], index[end]
    return start, end


def _brat(source: Source, options: ReadOptions, notes: _Notes, with_tags: bool) -> Iterator[_Record]:
    if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
        raise InputError("brat standoff is a folder of .txt and .ann files; give its path, not standard input")
    path = Path(source)
    if path.is_dir():
        pairs = sorted(path.glob("*.ann")) if with_tags else sorted(path.glob("*.txt"))
        if not pairs:
            raise InputError(f"no {'.ann' if with_tags else '.txt'} files in this folder", path)
    elif path.suffix == ".ann":
        pairs = [path]
    else:
        raise InputError("expected a brat folder of .txt and .ann files, or one .ann file", path)
    for pair in pairs:
        txt, ann = pair.with_suffix(".txt"), pair.with_suffix(".ann")
        try:
            with open(txt, encoding=options.encoding, newline="") as handle:  # offsets count \r too
                text = handle.read().removeprefix("\ufeff")
        except FileNotFoundError:
            raise InputError(f"no text file {txt.name} beside it", ann) from None
        except UnicodeDecodeError:
            raise InputError(f"not valid {options.encoding} text; try --encoding latin-1", txt) from None
        if not text.strip():
            raise InputError("empty text", txt)
        spans = _brat_spans(ann, text, options.encoding, notes) if with_tags else None
        yield _Record(text, 1, spans, name=txt.stem)


BRAT_OTHER = {"R": "relations", "E": "events", "A": "attributes", "M": "attributes", "N": "normalizations",
              "*": "equivalences"}


def _brat_spans(ann: Path, text: str, encoding: str, notes: _Notes) -> list[CharSpan]:
    spans = []
    name = os.fspath(ann)
    with open_lines(ann, encoding) as (_, lines):
        for lineno, line in enumerate(checked_lines(lines, name, encoding), 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):  # blank, or an AnnotatorNotes comment
                continue
            kind = line[0]
            if kind in BRAT_OTHER:
                notes.add(f"brat {BRAT_OTHER[kind]} not read (seqtag tags entities)", f"{name}:{lineno}")
                continue
            parts = line.split("\t")
            if kind != "T" or len(parts) < 2:
                raise InputError(f"not a brat annotation line: {clip(line)}", name, lineno)
            fields = parts[1].split(" ", 1)
            if len(fields) != 2:
                raise InputError(f"expected 'T1<TAB>Type start end<TAB>text', found {clip(line)}", name, lineno)
            label, places = fields
            fragments = []
            for piece in places.split(";"):
                numbers = piece.split()
                if len(numbers) != 2 or not all(n.isdigit() for n in numbers):
                    raise InputError(f"offsets {clip(places)} of {parts[0]} are not 'start end' pairs", name, lineno)
                fragments.append((int(numbers[0]), int(numbers[1])))
            what = f"{parts[0]}"
            for start, end in fragments:
                _span(text, start, end, label, name, lineno, what)  # checks each fragment
            start, end = min(a for a, _ in fragments), max(b for _, b in fragments)
            span = _span(text, start, end, label, name, lineno, what)
            if len(parts) > 2:
                shown = " ".join(text[a:b] for a, b in fragments)
                if parts[2] != shown and parts[2] != text[start:end]:
                    raise InputError(f"{what} says its text is {clip(parts[2])} but the .txt has {clip(shown)} at "
                                     f"{places}", name, lineno)
            if len(fragments) > 1:
                span.fragments = tuple(fragments)
            spans.append(span)
    return spans


_RECORDS: dict[str, Callable[[Source, ReadOptions, _Notes, bool], Iterator[_Record]]] = {
    "doccano": _doccano,
    "spacy": _spacy,
    "token-jsonl": _token_jsonl,
    "label-studio": _label_studio,
    "brat": _brat,
}


# ---------------------------------------------------------------------------- reading: classification


def read_labelled_texts(source: Source, format: str, encoding: str = "utf-8", with_labels: bool = True,
                        tokenize: Callable[[str], list[str]] = str.split, annotation: str = "first") -> Iterator[Any]:
    """:class:`~seqtag.formats.classification.Example` s of a classification export (labels None without
    ``with_labels``). Records without a label are counted on stderr and left out; several labels on one
    text are an error (a classifier predicts one)."""
    from seqtag.formats.classification import Example

    name = _source_name(source)
    notes = _Notes(name)
    options = ReadOptions(encoding=encoding, annotation=annotation)
    found = False
    for record in _LABELS[format](source, options, notes, with_labels):
        found = True
        yield Example(tokens=tokenize(record.text), label=record.label, line=record.line, text=record.text.strip())
    if not found:
        raise InputError("no texts found" if not notes.kinds else "no labelled texts found", name)
    notes.say()


def _one_label(labels: list[str], name: str, line: int, notes: _Notes) -> str | None:
    if not labels:
        notes.add("texts without a label not read", f"{name}:{line}")
        return None
    if len(labels) > 1:
        raise InputError(f"{len(labels)} labels ({', '.join(map(str, labels[:4]))}) on one text; a classifier "
                         "predicts one: keep one label per text", name, line)
    label = labels[0]
    if not isinstance(label, str) or not label.strip():
        raise InputError(f"a label must be a non-empty string, found {clip(str(label))}", name, line)
    return label.strip()


def _spacy_cats(source: Source, options: ReadOptions, notes: _Notes, with_labels: bool) -> Iterator[_Record]:
    for name, line, record in _jsonl(source, options.encoding):
        _check_keys(record, ("text", "cats", "answer"), name, line)
        text = _text(record, name, line)
        if _rejected(record, name, line, notes):
            continue
        if not with_labels:
            yield _Record(text, line)
            continue
        cats = record.get("cats")
        if not isinstance(cats, dict):
            raise InputError(f"'cats' must be an object of category scores, found {json_type(cats) if 'cats' in record else 'none'}",
                             name, line)
        for label, score in cats.items():
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
                raise InputError(f"the score of category {label!r} must be a number in [0, 1], found {clip(str(score))}",
                                 name, line)
        label = _one_label([k for k, v in cats.items() if v >= 0.5], name, line, notes)
        if label is not None:
            yield _Record(text, line, label=label)


def _label_studio_choices(source: Source, options: ReadOptions, notes: _Notes, with_labels: bool) -> Iterator[_Record]:
    for name, line, text, _, items, _, _ in _label_studio_tasks(source, options, notes, with_labels, "choices"):
        if items is None:
            yield _Record(text, line)
            continue
        labels: list[str] = []
        for n, item in enumerate(items, 1):
            value = item.get("value")
            if not isinstance(value, dict) or not isinstance(value.get("choices"), list):
                raise InputError(f"result item {n} has no 'value' with a 'choices' array", name, line)
            _closed(value, ("choices",), name, line, f"the value of result item {n}")
            labels += value["choices"]
        label = _one_label(labels, name, line, notes)
        if label is not None:
            yield _Record(text, line, label=label)


_LABELS: dict[str, Callable[[Source, ReadOptions, _Notes, bool], Iterator[_Record]]] = {
    "spacy-cls": _spacy_cats,
    "label-studio-cls": _label_studio_choices,
}


# ---------------------------------------------------------------------------- what the readers need


def read_options(config: Any, encoding: str | None = None) -> ReadOptions:
    """The reading options of a DataConfig (or anything with some of its fields)."""
    return ReadOptions(
        encoding=encoding or getattr(config, "encoding", "utf-8"),
        misaligned=getattr(config, "misaligned", "error"),
        overlaps=getattr(config, "overlaps", "error"),
        annotation=getattr(config, "annotation", "first"),
        tokenized=getattr(config, "tokenized", False),
        tag_key=getattr(config, "label_column", "") or "",
    )
