"""The one list of data formats: what each carries, how to recognise it, and how to read it.

Every command and the Python API read data through :func:`resolve` (which format?) and :func:`read_labelled`
/ :func:`read_unlabelled` (records), so they all detect formats the same way. Detection looks at the content
first (:func:`sniff`) and at the file name only where the content cannot tell; an explicit format always wins.
When a file is ambiguous or does not fit the task at hand, the error names the file, what it looks like and
the option that settles it.
"""
from __future__ import annotations

import io
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from seqtag.errors import InputError
from seqtag.formats.columns import is_column_header

TAG, CLASSIFY, MULTILABEL = "tag", "classify", "multilabel"
# The task whose formats each task reads: multi-label classifiers read classification formats.
FORMAT_TASK = {TAG: TAG, CLASSIFY: CLASSIFY, MULTILABEL: CLASSIFY}


@dataclass(frozen=True)
class Format:
    name: str
    task: str | None  # the task whose labelled data it carries; None: unlabelled text, for any task
    looks_like: str  # how the format reads to a person, for messages
    suffixes: tuple[str, ...] = ()  # file names that settle it when the content cannot
    line_records: bool = True  # one record per line (so a file can be cut into line ranges anywhere)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("conll", TAG, "CoNLL columns (token … tag, blank lines between sentences)",
               (".conll", ".bio", ".iob", ".iob2", ".bioes"), line_records=False),
        Format("conllu", TAG, "CoNLL-U (10 tab-separated fields with word IDs)", (".conllu",), line_records=False),
        Format("tsv", CLASSIFY, "a TSV table with a header row (label and text columns)", (".tsv",)),
        Format("csv", CLASSIFY, "a CSV table with a header row (label and text columns)", (".csv",), line_records=False),
        Format("label-tab", CLASSIFY, "label<TAB>text lines"),
        Format("label-space", CLASSIFY, "`label text` lines (the first word is the label)"),
        Format("fasttext", CLASSIFY, "fastText `__label__X text` lines", (".ft",)),
        Format("jsonl", CLASSIFY, "JSON lines with text and label", (".jsonl", ".ndjson")),
        # annotation tools' exports (seqtag.formats.annotations)
        Format("doccano", TAG, "Doccano JSONL with character-offset spans (label or entities)"),
        Format("label-studio", TAG, "a Label Studio JSON export with labelled spans", line_records=False),
        Format("label-studio-cls", CLASSIFY, "a Label Studio JSON export with choices", line_records=False),
        Format("brat", TAG, "brat standoff (.txt and .ann files)", (".ann",), line_records=False),
        Format("spacy", TAG, "spaCy-style JSONL with character-offset spans or entities"),
        Format("spacy-cls", CLASSIFY, "spaCy-style JSONL with a cats dict"),
        Format("token-jsonl", TAG, "JSONL of tokens and tag names (tokens, ner_tags)"),
        Format("raw", None, "plain text, one document per line", (".txt",)),
        Format("tokenized", None, "whitespace-tokenized text, one sentence per line"),
    )
}
LABELLED = tuple(name for name, f in FORMATS.items() if f.task is not None)
SPAN_FORMATS = ("doccano", "label-studio", "brat", "spacy", "token-jsonl")  # read by seqtag.formats.annotations
TASK_NAMES = {TAG: "tagging", CLASSIFY: "classification"}

_TAG = re.compile(r"^(O|[BIESLU]-\S+|[A-Z$][A-Z$.:,'`()#-]*)$")  # O, B-PER, NN, PRP$, PUNCT …
_INTEGER = re.compile(r"[+-]?\d+")
HEAD_LINES = 100  # lines looked at to recognise a format
HEAD_BYTES = 1 << 16


# ---------------------------------------------------------------------------- recognising


@dataclass(frozen=True)
class Sniffed:
    """What the first lines of a file look like: the formats they fit, most likely first."""

    formats: tuple[str, ...]
    header: bool = False  # a column file whose first line names its columns
    first_line: int | None = None  # where the content starts

    @property
    def looks_like(self) -> str:
        return FORMATS[self.formats[0]].looks_like if self.formats else "empty"


def _fields(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def _is_conllu(rows: list[str]) -> bool:
    words = [r for r in rows if not r.startswith("#")]
    if not words:
        return False
    ten = [r.rstrip("\r\n").split("\t") for r in words]
    good = sum(len(f) == 10 and re.fullmatch(r"\d+([-.]\d+)?", f[0]) is not None for f in ten)
    return good >= 0.9 * len(words)


def _is_columns(lines: list[str], header: bool) -> bool:
    """One token per line: the same few whitespace-free fields on (nearly) every line, sentences separated by
    blank lines (or a ``-DOCSTART-`` line), or tag-shaped last fields where there is no break to see."""
    if any(line.startswith("-DOCSTART-") for line in lines):
        return True
    rows = [line for line in lines if line.strip()]
    if header:
        rows = rows[1:]
    if not rows:
        return False
    split = [_fields(r) for r in rows]
    if all(2 <= len(f) <= 6 for f in split) and sum(_TAG.match(f[-1]) is not None for f in split) >= 0.9 * len(rows):
        return True  # tag-shaped last fields: columns, even where a row has too few (the reader says which)
    width, count = Counter(len(f) for f in split).most_common(1)[0]
    if count < 0.9 * len(rows) or width > 20:
        return False
    if sum(any(" " in field.strip() for field in f) for f in split) > 0.05 * len(rows):
        return False  # fields holding spaces are texts, not tokens
    blocks = sum(1 for before, line in zip([""] + lines, lines) if line.strip() and not before.strip())
    if blocks > 1 and len(rows) >= 1.5 * blocks:
        return True  # sentences of several tokens between blank lines
    # No sentence break in sight: a single sentence, or a long one. Only tag-shaped last fields say "columns".
    return width >= 2 and sum(_TAG.match(f[-1]) is not None for f in split if f) >= 0.9 * len(rows)


def sniff(lines: list[str], name: str = "") -> Sniffed:
    """The formats the first ``lines`` of a file (with their line ends) fit, most likely first; the file
    ``name`` only breaks ties the content leaves open."""
    rows = [line for line in lines if line.strip()]
    if not rows:
        return Sniffed(())
    found = _sniff(lines, rows, name)
    return Sniffed(found.formats, found.header, next(i for i, line in enumerate(lines, 1) if line.strip()))


def _sniff(lines: list[str], rows: list[str], name: str) -> Sniffed:
    first = rows[0].strip()
    suffix = Path(name).suffix.lower() if name else ""
    if first.startswith("__label__"):
        return Sniffed(("fasttext",))
    if first.startswith(("{", "[")):
        from seqtag.formats.annotations import sniff_json

        return Sniffed(sniff_json(lines))  # classification JSONL or an annotation tool's export
    if _is_conllu(rows):
        return Sniffed(("conllu",))
    header = is_column_header(rows[0])
    if _is_columns(lines, header):
        return Sniffed(("conllu",) if suffix == ".conllu" else ("conll",), header=header)
    if "\t" in first:
        from seqtag.formats.classification import HEADER_NAMES

        fields = {field.strip().lower() for field in first.split("\t")}
        if fields & HEADER_NAMES:
            return Sniffed(("tsv",))
        texts = [row.split("\t", 1)[-1] for row in rows]
        if sum(" " in text.strip() for text in texts) > 0.5 * len(rows) or all(row.count("\t") == 1 for row in rows):
            return Sniffed(("label-tab",))  # label<TAB>text: two fields, or texts of several words
    if suffix == ".csv" or ("," in first and set(f.strip().lower() for f in first.split(",")) & {"label", "text", "sentence"}):
        return Sniffed(("csv",))
    from seqtag.formats.classification import MAX_LABEL_LENGTH

    firsts = [row.split(None, 1) for row in rows]
    if sum(len(parts) == 2 and _INTEGER.fullmatch(parts[0]) is not None for parts in firsts) >= 0.9 * len(rows):
        return Sniffed(("label-space", "raw"))  # `0 some text` (SST, Kim 2014); plain text rarely starts so
    by_name = [f.name for f in FORMATS.values() if suffix in f.suffixes and f.task is not None]
    if by_name:  # the content is no more than text: the file name says more
        return Sniffed((by_name[0], "raw"))
    if len(firsts[0]) == 2 and len(firsts[0][0]) <= MAX_LABEL_LENGTH:
        return Sniffed(("raw", "label-space"))  # prose, or `label text`: only the task at hand can tell
    return Sniffed(("raw",))


def head(source: Any, encoding: str = "utf-8") -> tuple[list[str], Any]:
    """The first lines of ``source`` (decoded leniently: the reader reports bad bytes) and a source to read
    the whole of it from: the same path, or for standard input a stream that replays the lines read."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        try:
            with open(source, "rb") as stream:
                raw = _head_bytes(stream)
        except OSError:
            return [], source  # the reader names the problem (missing file, a directory, …)
        return _decode(raw, encoding), source
    if isinstance(source, (str, os.PathLike)):  # "-"
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:  # a replaced, text-only sys.stdin (tests)
            return [], source
        raw = _head_bytes(stdin)
        return _decode(raw, encoding), _Replayed(b"".join(raw), stdin, "<stdin>")
    seekable = getattr(source, "seekable", None)
    if seekable is not None and seekable():  # an open file or StringIO: look, then rewind
        start = source.tell()
        lines = _head_bytes(source)
        source.seek(start)
        if lines and not isinstance(lines[0], bytes):  # a text stream decodes itself
            return [line.lstrip("\ufeff") if i == 0 else line for i, line in enumerate(lines)], source
        return _decode(lines, encoding), source
    return [], source  # a pipe opened by the caller cannot be rewound: read as the task usually is


def _head_bytes(stream: IO[Any]) -> list[Any]:
    lines: list[Any] = []
    size = 0
    while len(lines) < HEAD_LINES and size < HEAD_BYTES:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        size += len(line)
    return lines


def _decode(raw: list[bytes], encoding: str) -> list[str]:
    """The lines before the first one that does not decode: the reader reports that one, at its line."""
    lines = []
    try:
        for line in raw:
            lines.append(line.decode(encoding))
    except (UnicodeDecodeError, LookupError):
        pass
    if lines:
        lines[0] = lines[0].lstrip("\ufeff")
    return lines


class _Replayed(io.BufferedIOBase):
    """Standard input with the lines already looked at put back in front."""

    def __init__(self, first: bytes, rest: IO[bytes], name: str) -> None:
        super().__init__()
        self._first = io.BytesIO(first)
        self._rest = rest
        self.name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._first.read(size)
        if size is None or size < 0:
            return data + self._rest.read()
        return data if data else self._rest.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else HEAD_BYTES)

    def readline(self, size: int | None = -1) -> bytes:
        line = self._first.readline()
        if line.endswith(b"\n") or self._first.tell() < len(self._first.getbuffer()):
            return line
        return line + self._rest.readline()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if os.fspath(source) == "-" else os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def resolve(source: Any, requested: str = "auto", *, task: str | None = None, labelled: bool = True,
            encoding: str = "utf-8", option: str = "--input-format", context: str | None = None) -> tuple[Format, Any]:
    """The format to read ``source`` with, and the source to read (standard input comes back replayed).

    ``requested`` is an explicit format name or ``auto``. ``task`` is the task the data is for (a model's,
    or the one asked for), None when the data decides; ``context`` says where that task comes from, for
    messages (default: "this model is a tagger/classifier"). ``labelled``: the data must carry labels
    (training, evaluation), or is to be predicted (any format of the task; labels are then ignored). A
    format that does not fit, or content that fits no format of the task, is an InputError naming the
    file, what it looks like and the value of ``option`` that settles it.
    """
    name = _name(source)
    task = FORMAT_TASK.get(task, task) if task is not None else None
    if context is None and task is not None:
        context = f"this model is a {'tagger' if task == TAG else 'classifier'}"
    if requested != "auto":
        fmt = FORMATS.get(requested)
        if fmt is None:
            raise InputError(f"unknown format {requested!r}; the formats are: {', '.join(FORMATS)}", option)
        if task is not None and fmt.task is not None and fmt.task != task:
            raise InputError(f"{option} {requested} is {TASK_NAMES[fmt.task]} data, but {context}", name)
        if labelled and fmt.task is None:
            raise InputError(f"{option} {requested} has no labels; give the labelled format of {name} "
                             f"({', '.join(_labelled_formats(task))})", option)
        return fmt, source
    from seqtag.formats.annotations import sniff_path

    by_path = sniff_path(source)  # a brat folder; a spaCy DocBin is an error saying what to do
    if by_path is not None:
        return FORMATS[_choose(Sniffed(by_path), name, task, labelled, option, context)], source
    lines, source = head(source, encoding)
    sniffed = sniff(lines, name)
    if not sniffed.formats:  # empty, unreadable or an open stream: the reader has its say
        return FORMATS[_fallback(name, task, labelled)], source
    return FORMATS[_choose(sniffed, name, task, labelled, option, context)], source


def _labelled_formats(task: str | None) -> list[str]:
    return [name for name, fmt in FORMATS.items() if fmt.task is not None and (task is None or fmt.task == task)]


def _fallback(name: str, task: str | None, labelled: bool) -> str:
    """A format for content that cannot be looked at: by file name, else the task's usual one."""
    suffix = Path(name).suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes and fmt.task in (None, task) and (fmt.task or not labelled):
            return fmt.name
    if not labelled:
        return "raw"
    return "label-space" if task == CLASSIFY else "conll"


def _choose(sniffed: Sniffed, name: str, task: str | None, labelled: bool, option: str, context: str | None) -> str:
    formats = sniffed.formats
    if labelled:
        fits = [f for f in formats if FORMATS[f].task is not None and (task is None or FORMATS[f].task == task)]
    else:
        fits = [f for f in formats if task is None or FORMATS[f].task in (None, task)]
    if fits:
        return fits[0]
    carried = FORMATS[formats[0]].task
    if labelled and carried is None and task == TAG:
        return "conll"  # columns gone wrong (a row too short, one column): the reader says where
    if carried is not None and task is not None:
        if labelled:
            fix = f"give {option} with its format if it is one of: {', '.join(_labelled_formats(task))}"
        else:
            fix = f"give {option} raw to read its lines as text"
        raise InputError(f"looks like {sniffed.looks_like} ({TASK_NAMES[carried]} data), but {context}; {fix}", name)
    raise InputError(
        f"looks like {sniffed.looks_like}, with no labels; give {option} with its format if it is one of: "
        f"{', '.join(_labelled_formats(task))}", name, sniffed.first_line,
    )


def check_data_path(path: Any, option: str) -> None:
    """A directory is data only as a brat folder: anything else is an InputError naming ``option``."""
    from seqtag.formats.annotations import sniff_path

    if isinstance(path, (str, os.PathLike)) and Path(path).is_dir() and sniff_path(path) is None:
        raise InputError(f"{path} is a directory, not a data file (a brat folder holds .txt and .ann files)", option)


def detect_task(source: Any, encoding: str = "utf-8", input_format: str = "auto") -> str:
    """The task labelled data is for: from the explicit format, else from what the content looks like;
    classification data whose first lines hold lists of labels is for multi-label classification."""
    fmt, source = resolve(source, input_format, encoding=encoding, labelled=True, option="--input-format")
    assert fmt.task is not None
    if fmt.name in ("fasttext", "jsonl") and label_lists(head(source, encoding)[0], fmt.name):
        return MULTILABEL
    return fmt.task


def label_lists(lines: list[str], format: str) -> bool:
    """Whether some of ``lines`` (of a fasttext or jsonl file) give a text several labels: several
    ``__label__`` words, or a JSON list of labels (``label`` or ``labels``: Doccano's export)."""
    import json

    for line in lines:
        if format == "fasttext":
            words = line.split()
            if len(words) > 1 and words[0].startswith("__label__") and words[1].startswith("__label__"):
                return True
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            value = record.get("label", record.get("labels"))
            if isinstance(value, list) and all(isinstance(item, (str, int)) for item in value):
                return True
    return False


# ---------------------------------------------------------------------------- reading


def read_sentences(source: Any, config: Any, with_tags: bool = True, fmt: Format | None = None,
                   context: str | None = None) -> Iterator[Any]:
    """Sentences (:class:`~seqtag.data.sentence.Sentence`) of a CoNLL or CoNLL-U file, read with ``config``
    (a DataConfig). The format is ``fmt``, else the config's, else detected (``context`` as for :func:`resolve`)."""
    if fmt is None:
        fmt, source = resolve(source, config.input_format, task=TAG, labelled=True, encoding=config.encoding,
                              context=context)
    if fmt.name in SPAN_FORMATS:
        from seqtag.formats.annotations import read_annotated, read_options

        yield from read_annotated(source, fmt.name, read_options(config), with_tags=with_tags)
        return
    if fmt.name == "conllu":
        from seqtag.formats.conllu import read_conllu

        for sentence in read_conllu(source, field=config.conllu_field, encoding=config.encoding):
            if not with_tags:
                sentence.tags = None
            yield sentence
        return
    from seqtag.formats.columns import read_columns

    yield from read_columns(source, token_column=config.token_column, tag_column=config.tag_column,
                            encoding=config.encoding, with_tags=with_tags)


def read_sentences_to_tag(source: Any, fmt: Format, encoding: str = "utf-8", token_column: int = 0, *,
                          lines: range | None = None, config: Any = None) -> Iterator[Any]:
    """Sentences to tag, streamed from a path, ``-`` (stdin) or a stream: raw text (tokenized by syntok and
    sentence-split, with character offsets), tokenized lines, or CoNLL / CoNLL-U files (their tags ignored).
    With ``lines`` (``--shard``), only the sentences whose first line is in that range
    (:func:`seqtag.inference.shards.select`); raw text outside it is not tokenized. Annotation tools'
    exports give their texts, tokenized as ``config`` (a model's DataConfig) says."""
    if fmt.name in ("raw", "tokenized"):
        from seqtag.formats.text import read_raw, read_tokenized

        read = read_raw if fmt.name == "raw" else read_tokenized
        if lines is None:
            return read(source, encoding=encoding)
        sentences = read(source, encoding=encoding, lines=lines)
    elif fmt.name in SPAN_FORMATS:
        from seqtag.formats.annotations import read_annotated, read_options

        sentences = read_annotated(source, fmt.name, read_options(config, encoding), with_tags=False)
    elif fmt.name == "conllu":
        from seqtag.formats.conllu import read_conllu

        sentences = read_conllu(source, encoding=encoding)
    elif fmt.name == "conll":
        from seqtag.formats.columns import read_columns

        sentences = read_columns(source, token_column=token_column, encoding=encoding, with_tags=False)
    else:
        raise ValueError(f"expected a text or tagging format, got {fmt.name!r}")
    if lines is None:
        return sentences
    from seqtag.inference.shards import select

    return select(sentences, lines, fmt.line_records)


def read_token_lists(source: Any, fmt: Format, encoding: str = "utf-8", token_column: int = 0) -> Iterator[list[str]]:
    """The token lists (sentences or texts) of ``source`` in any format, labels ignored: what a corpus is
    made of for training word vectors or measuring their coverage."""
    if fmt.task == CLASSIFY:
        from seqtag.formats.classification import read_examples

        return (example.tokens for example in read_examples(source, format=fmt.name, encoding=encoding, with_labels=False))
    return (sentence.tokens for sentence in read_sentences_to_tag(source, fmt, encoding, token_column))
