"""Labelled text for sentence/document classification: one example per line (or per CSV record).

Formats (``FORMATS``):

* ``tsv`` / ``csv`` -- a header row, then one record per row. ``label_column`` is a header name or a
  0-based index (default: the column named ``label``, else the first); ``text_columns`` is a list of
  names or indexes (default: the column named ``text``, else ``sentence``, else every column but the
  label). Several text columns are joined with a space (AG News: title + description). A string of
  digits that is not a header name counts as an index. TSV fields are split on tabs with no quoting (so
  quotes are text, as in GLUE); CSV follows the csv module's default dialect, so quoted fields may span
  lines and an example's ``line`` is the first line of its record.
* ``label-tab`` -- headerless ``label<TAB>text``; further tabs belong to the text.
* ``label-space`` -- ``label text``: the first whitespace-separated word is the label (Kim 2014 SST files).
* ``fasttext`` -- ``__label__x text``. A line may start with several ``__label__`` words: ``label`` is the
  first, ``labels`` all of them (multi-label data), and all of them are removed from the text.
* ``jsonl`` -- one JSON object per line with a ``text`` (or ``sentence``, or Doccano's ``data``) string and
  a ``label`` (or ``labels``) string, integer or list of them (multi-label data: ``labels``, ``label`` the
  first, None for ``[]``); ``label_column`` / ``text_columns`` name other keys. Doccano's text
  classification export (``{"text": …, "label": ["a", "b"]}``) is such a file.
* ``text`` -- unlabelled, one text per line, for prediction only. Every line, even an empty one, gives an
  example (an empty line gives ``tokens == []``), so outputs stay aligned with input lines.
* ``auto`` -- decided by :func:`seqtag.formats.registry.resolve` from the content (and the file name where
  the content cannot tell); works on stdin too (the lines looked at are put back).

Blank lines are skipped in every format but ``text``; ``Example.line`` always locates the source line.
``Example.text`` is the text with surrounding whitespace removed. With ``with_labels=False`` (prediction
input) labels are not read or checked (``label`` is None), but the layout still must match the format.

Readers stream line by line and never load the file. Everything a user can fix raises
:class:`InputError` with path and line, when iteration reaches it. :func:`format_header` and
:func:`format_example` write the labelled formats back (with a ``label`` / ``text`` header for tsv, csv).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from seqtag.formats.lines import Source, checked_lines, open_lines
from seqtag.data.tokenize import tokenize as syntok_tokens
from seqtag.errors import InputError

FORMATS = ("auto", "tsv", "csv", "label-tab", "label-space", "fasttext", "jsonl", "text")

Column = int | str

# A tab-separated first line with any of these fields is taken for a header row (auto detection).
HEADER_NAMES = frozenset({
    "label", "labels", "class", "category", "target", "sentiment", "id", "index", "idx",
    "text", "sentence", "sentence1", "sentence2", "title", "description", "review", "content", "body",
    "document", "tweet", "question",
})
MAX_LABEL_LENGTH = 20  # auto: the first word of a label-space line is at most this long

_FASTTEXT_LABELS = re.compile(r"(?:__label__\S*(?:\s+|$))+")
_NUMBER = re.compile(r"[+-]?\d+")


@dataclass(slots=True)
class Example:
    """One text to classify."""

    tokens: list[str]
    label: str | None  # None when the input has no labels (prediction input)
    line: int  # 1-based source line (for JSONL/TSV the record's line)
    text: str  # the raw text (joined text columns)
    labels: list[str] | None = None  # every label, where the record holds a list of them (fastText, JSONL)

    def label_set(self) -> list[str]:
        """Every label of the record: ``labels``, else ``[label]`` (``[]`` for none)."""
        if self.labels is not None:
            return self.labels
        return [self.label] if self.label is not None else []


@dataclass(frozen=True, slots=True)
class _Options:
    with_labels: bool
    label_column: Column | None
    text_columns: list[Column] | None
    tokenize: Callable[[str], list[str]]


def read_examples(
    source: Source,
    format: str = "auto",
    label_column: Column | None = None,
    text_columns: Sequence[Column] | Column | None = None,
    encoding: str = "utf-8",
    tokenized: bool = False,
    max_tokens: int | None = None,
    with_labels: bool = True,
    context: str | None = None,
    annotation: str = "first",
) -> Iterator[Example]:
    """Stream the examples of ``source`` (a path, ``"-"`` for stdin, or an open text or binary stream).

    ``format`` is one of ``FORMATS`` or a name of the format registry (``raw`` and ``tokenized`` read
    unlabelled lines, as ``text``); ``auto`` asks the registry (:func:`seqtag.formats.registry.resolve`),
    which also refuses tagging formats, saying why (``context``: where the task comes from).
    ``tokenized=True`` splits the text on whitespace; otherwise syntok tokenizes it (all tokens of the
    text, no sentence splitting). ``max_tokens`` keeps only the first N tokens. ``label_column`` and
    ``text_columns`` apply to tsv/csv (names or indexes) and jsonl (key names).

    Option errors (unknown format, bad ``max_tokens``, the label-less ``text`` format with
    ``with_labels=True``) raise :class:`InputError` at once; input errors are raised during iteration.
    """
    if max_tokens is not None and max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1, got {max_tokens}")
    if isinstance(text_columns, (str, int)):
        text_columns = [text_columns]
    elif text_columns is not None:
        text_columns = list(text_columns)
        if not text_columns:
            raise InputError("text_columns is empty: give at least one text column")
    if format == "text" and with_labels:
        # Training on label-less text would fail later and far less clearly.
        raise InputError("the 'text' format has no labels; use it for prediction input only")
    if format != "text":
        from seqtag.formats.registry import CLASSIFY, resolve

        found, source = resolve(source, format, task=CLASSIFY, labelled=with_labels, encoding=encoding, context=context)
        tokenized = tokenized or found.name == "tokenized"
        by_name = any(isinstance(c, str) and not _NUMBER.fullmatch(c) for c in [label_column, *(text_columns or ())])
        if format == "auto" and found.name == "label-tab" and by_name:
            found = type(found)("tsv", CLASSIFY, "")  # columns picked by name: the first line is a header
        format = "text" if found.task is None else found.name

    tokenize = str.split if tokenized else syntok_tokens
    if max_tokens is not None:
        whole = tokenize

        def tokenize(text: str) -> list[str]:
            return whole(text)[:max_tokens]

    if format not in _PARSERS:  # an annotation tool's export (``annotation``: which one of a Label Studio task)
        from seqtag.formats.annotations import read_labelled_texts

        return read_labelled_texts(source, format, encoding, with_labels, tokenize, annotation)
    options = _Options(with_labels, label_column, text_columns, tokenize)
    return _read(source, format, encoding, options)


# ---------------------------------------------------------------------------- reading


def _read(source: Source, format: str, encoding: str, options: _Options) -> Iterator[Example]:
    with open_lines(source, encoding) as (name, raw_lines):
        lines = checked_lines(raw_lines, name, encoding)
        found = False
        for example in _PARSERS[format](name, lines, options):
            found = True
            yield example
        if not found:
            raise InputError("no examples found", name)


def _example(options: _Options, text: str, label: str | None, line: int, name: str,
             labels: list[str] | None = None) -> Example:
    if not text:
        raise InputError("missing text", name, line)
    if (label is not None and not label) or (labels is not None and not all(labels)):
        raise InputError("empty label", name, line)
    return Example(tokens=options.tokenize(text), label=label, line=line, text=text, labels=labels)


def _read_text(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        yield Example(tokens=options.tokenize(text) if text else [], label=None, line=lineno, text=text)


def _read_label_tab(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, tab, text = line.rstrip("\r\n").partition("\t")
        if not tab:
            raise InputError("expected label<TAB>text, found no tab", name, lineno)
        yield _example(options, text.strip(), label.strip() if options.with_labels else None, lineno, name)


def _read_label_space(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    for lineno, line in enumerate(lines, 1):
        parts = line.split(None, 1)
        if not parts:
            continue
        if len(parts) == 1:
            raise InputError(f"missing text after the label {parts[0]!r}", name, lineno)
        yield _example(options, parts[1].strip(), parts[0] if options.with_labels else None, lineno, name)


def _read_fasttext(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        match = _FASTTEXT_LABELS.match(stripped)
        labels = None
        if match is None:
            if options.with_labels:
                raise InputError("missing label: the line does not start with __label__", name, lineno)
            text, label = stripped, None
        else:
            text = stripped[match.end():]
            found = list(dict.fromkeys(word[len("__label__"):] for word in match.group().split()))
            label = found[0] if options.with_labels else None
            labels = found if options.with_labels and len(found) > 1 else None
        yield _example(options, text, label, lineno, name, labels)


def _read_jsonl(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    text_keys = options.text_columns
    label_key = "label" if options.label_column is None else options.label_column
    chosen = options.label_column is not None
    for key in [label_key, *(text_keys or ())]:
        if not isinstance(key, str):
            raise InputError(f"JSONL records are objects: name the column by key, not by index {key!r}")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        line = line.rstrip("\r\n")  # so an error at the end of the line has a column on it
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg} (column {err.pos + 1})", name, lineno) from None
        except RecursionError:  # e.g. "[[[[…" a hundred thousand deep
            raise InputError("invalid JSON: nested too deeply", name, lineno) from None
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object, found {_json_type(record)}", name, lineno)
        keys = text_keys or [next((k for k in ("text", "sentence", "data") if k in record), "text")]
        pieces = []
        for key in keys:
            if key not in record:
                wanted = repr(key) if text_keys else "'text' (or 'sentence')"
                raise InputError(f"missing key {wanted}; the keys are: {_listing(record)}", name, lineno)
            value = record[key]
            if not isinstance(value, str):
                raise InputError(f"{key!r} must be a string, found {_json_type(value)}", name, lineno)
            pieces.append(value.strip())
        label, labels = None, None
        if options.with_labels:
            key = label_key if chosen or label_key in record or "labels" not in record else "labels"
            label, labels = _json_label(record, key, name, lineno)
        yield _example(options, " ".join(p for p in pieces if p), label, lineno, name, labels)


def _json_label(record: dict, key: str, name: str, line: int) -> tuple[str | None, list[str] | None]:
    """The label of a record and, for a list of labels, the list (the label is then its first, or None)."""
    if record.get(key) is None:
        raise InputError(f"missing label: no key {key!r} (or it is null)", name, line)
    value = record[key]
    if isinstance(value, list):
        labels = list(dict.fromkeys(_json_label_value(item, key, name, line, "an item of") for item in value))
        return (labels[0] if labels else None), labels
    return _json_label_value(value, key, name, line), None


def _json_label_value(value: object, key: str, name: str, line: int, what: str = "") -> str:
    # bool is an int subclass, but true/false as a class label is more likely a mistake than intended.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    raise InputError(f"{what + ' ' if what else ''}{key!r} must be a string or an integer, found {_json_type(value)}",
                     name, line)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _listing(names) -> str:
    return ", ".join(map(str, names)) or "(none)"


def _read_tsv(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    return _read_table(name, csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), options)


def _read_csv(name: str, lines: Iterator[str], options: _Options) -> Iterator[Example]:
    # strict: an unclosed quote is an error, not a field silently swallowing the rest of the file.
    return _read_table(name, csv.reader(lines, strict=True), options)


def _read_table(name: str, reader, options: _Options) -> Iterator[Example]:
    header: list[str] | None = None
    label_index: int | None = None
    text_indexes: list[int] = []
    end = 0  # last line of the previous record; a record starts on the next one
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(field.strip() for field in row):
                continue
            if header is None:
                header = [field.strip() for field in row]
                label_index, text_indexes = _resolve_columns(header, options, name, start)
                continue
            if len(row) != len(header):
                raise InputError(
                    f"expected {len(header)} columns as in the header, found {len(row)}", name, start
                )
            text = " ".join(piece for piece in (row[i].strip() for i in text_indexes) if piece)
            if not text:
                columns = ", ".join(header[i] for i in text_indexes)
                raise InputError(f"missing text (empty column {columns})", name, start)
            label = None
            if options.with_labels:
                label = row[label_index].strip()
                if not label:
                    raise InputError(f"empty label (column {header[label_index]})", name, start)
            yield Example(tokens=options.tokenize(text), label=label, line=start, text=text)
    except csv.Error as err:
        # Located at the record's first line: an unclosed quote is only noticed at the end of the file.
        raise InputError(f"malformed record: {err}", name, end + 1) from None


def _resolve_columns(
    header: list[str], options: _Options, name: str, line: int
) -> tuple[int | None, list[int]]:
    """The label column (None for prediction input without one) and the text columns, as indexes."""
    lowered = [field.lower() for field in header]

    def find(*names: str) -> int | None:
        return next((lowered.index(n) for n in names if n in lowered), None)

    def index(column: Column, what: str) -> int:
        if isinstance(column, str):
            if column in header:
                return header.index(column)
            if not _NUMBER.fullmatch(column):
                raise InputError(
                    f"unknown {what} column {column!r}; the columns are: {_listing(header)}", name, line
                )
            column = int(column)
        if not -len(header) <= column < len(header):
            raise InputError(
                f"{what} column {column} is out of range: the file has {len(header)} columns", name, line
            )
        return column % len(header)

    if options.label_column is not None:
        label = index(options.label_column, "label")
    else:
        label = find("label")
        if label is None and options.with_labels:
            label = 0
    if options.text_columns is not None:
        texts = [index(column, "text") for column in options.text_columns]
    else:
        default = find("text", "sentence")
        texts = [default] if default is not None else [i for i in range(len(header)) if i != label]
    if not texts:
        raise InputError(f"no text column: the only column is the label ({header[label]})", name, line)
    if options.with_labels and label in texts:
        raise InputError(f"column {header[label]!r} cannot be both the label and a text column", name, line)
    return label, texts


_PARSERS: dict[str, Callable[[str, Iterator[str], _Options], Iterator[Example]]] = {
    "tsv": _read_tsv,
    "csv": _read_csv,
    "label-tab": _read_label_tab,
    "label-space": _read_label_space,
    "fasttext": _read_fasttext,
    "jsonl": _read_jsonl,
    "text": _read_text,
}


# ---------------------------------------------------------------------------- writing

WRITE_FORMATS = ("tsv", "csv", "label-tab", "label-space", "fasttext", "jsonl")
_HEADERS = {"tsv": "label\ttext\n", "csv": "label,text\n"}
_ONE_LINE = str.maketrans("\t\r\n", "   ")


def format_header(format: str) -> str:
    """The header row ``format`` starts with (``label`` and ``text`` columns), or "" when it has none."""
    return _HEADERS.get(format, "")


LIST_FORMATS = ("fasttext", "jsonl")  # the formats that hold a list of labels per text


def format_example(label: str | Sequence[str], text: str, format: str) -> str:
    """One labelled text as a line of ``format`` (a record for csv), the inverse of its reader. ``label``
    may be a list of labels (multi-label data) for the formats of ``LIST_FORMATS``: several ``__label__``
    words, or a JSON list.

    Line formats cannot hold a tab or line break in the text, so those become spaces. Raises
    ``ValueError`` for a label the format cannot hold (whitespace in label-space / fasttext labels, a tab
    in tsv / label-tab ones, a list of labels in a format without lists).
    """
    if format not in WRITE_FORMATS:
        raise ValueError(f"unknown output format {format!r}; expected one of {', '.join(WRITE_FORMATS)}")
    if not isinstance(label, str):
        labels = list(label)
        if format == "jsonl":
            return json.dumps({"text": text, "label": labels}, ensure_ascii=False) + "\n"
        if format != "fasttext":
            if len(labels) != 1:
                raise ValueError(f"{len(labels)} labels: {format} holds one label per text "
                                 f"(lists of labels: {', '.join(LIST_FORMATS)})")
            return format_example(labels[0], text, format)
        if not labels:
            raise ValueError("no label: a fasttext line needs at least one __label__")
        for one in labels:
            format_example(one, text, format)  # the checks of a single label
        return " ".join(f"__label__{one}" for one in labels) + " " + text.translate(_ONE_LINE) + "\n"
    if format == "jsonl":
        return json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n"
    if format == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([label, text])
        return out.getvalue()
    # The label ends at the first space in these two formats, at the first tab in the others.
    breaks_label = str.isspace if format in ("label-space", "fasttext") else "\t\r\n".__contains__
    if any(map(breaks_label, label)):
        raise ValueError(f"label {label!r} holds whitespace, which {format} cannot hold in a label")
    text = text.translate(_ONE_LINE)
    if format == "fasttext":
        return f"__label__{label} {text}\n"
    if format == "label-space":
        return f"{label} {text}\n"
    return f"{label}\t{text}\n"
