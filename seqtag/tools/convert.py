"""The conversions behind `seqtag convert`, streamed sentence by sentence or line by line.

* Column files: re-encode the tag column between IOB1, IOB2 and BIOES, and/or keep and reorder columns.
  Blank lines and ``-DOCSTART-`` lines stay where they were.
* CoNLL-U: chosen fields of the word rows as a column file. ``# newdoc`` comments become ``-DOCSTART-``
  lines; other comments are dropped, since column readers would take them for tokens. Multiword-token
  ranges and empty nodes are skipped, as in training.
* Classification data: any labelled format :mod:`seqtag.formats.classification` reads, into another one.

Everything is written to an open text stream; nothing is printed. User errors are :class:`InputError`
naming the file and line, or the option. Re-encoding tags with ``from_scheme="auto"`` reads the input
twice, because the scheme is a property of the whole file; standard input is spooled to a temporary file
for the second pass.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TextIO

from seqtag.formats.columns import ColumnBlock, column_blocks, column_index
from seqtag.formats.conllu import FIELDS as CONLLU_FIELDS, conllu_sentences
from seqtag.formats.lines import open_lines
from seqtag.formats.registry import resolve
from seqtag.data.schemes import convert as convert_tags
from seqtag.data.schemes import detect_scheme, fits_scheme
from seqtag.formats.classification import WRITE_FORMATS, format_example, format_header, read_examples
from seqtag.errors import InputError
from seqtag.formats.annotation_writers import CONVERT_WRITERS
from seqtag.formats.annotations import LABEL_FORMATS
from seqtag.formats.registry import SPAN_FORMATS

DOCUMENT_FORMATS = SPAN_FORMATS + LABEL_FORMATS  # annotation tools' data (seqtag.formats.annotations)

TAG_SCHEMES = ("iob1", "iob2", "bioes")
DEFAULT_FIELDS = ("form", "upos")
SEPARATORS = {"space": " ", "tab": "\t"}
DOCSTART = "-DOCSTART-"
NOTHING_TO_DO = (
    "nothing to convert: give --to or --columns for column files, --fields for CoNLL-U, "
    "--output-format for classification data"
)

_KINDS = {  # what each kind of input is called in messages, and the options that apply to it
    "columns": ("column files", {"--to", "--from", "--columns", "--separator"}),
    "conllu": ("CoNLL-U input", {"--fields", "--separator"}),
    "examples": ("classification data", {"--label-column", "--text-columns"}),
    "documents": ("annotation tools' data", {"--to", "--from", "--tag-column", "--label-column", "--misaligned",
                                             "--overlaps", "--annotation", "--tokenized"}),
}


def input_kind(source: str | Path, input_format: str = "auto", output_format: str | None = None,
               fields: Sequence[str] | None = None) -> str:
    """``columns``, ``conllu`` or ``examples`` (classification data), from the input format, else from
    the file name (``.conllu``) and the options: ``--fields`` means CoNLL-U, a classification output
    format means classification input unless the file looks like a column file."""
    auto = input_format == "auto"
    if input_format in DOCUMENT_FORMATS or output_format in CONVERT_WRITERS:
        return "documents"  # an annotation tool's export in, or out
    if input_format == "conllu" or (auto and (fields is not None or str(source).endswith(".conllu"))):
        return "conllu"
    if auto and str(source) != "-":
        from seqtag.formats.annotations import sniff_path

        if sniff_path(source) is not None:  # a brat folder (a spaCy DocBin is an error saying what to do)
            return "documents"
        try:
            if _labelled_format(source) in DOCUMENT_FORMATS:
                return "documents"
        except InputError:
            pass  # the conversion's own reader says what is wrong
    if input_format in WRITE_FORMATS:
        return "examples"
    if auto and output_format in WRITE_FORMATS and (str(source) == "-" or _labelled_format(source) in WRITE_FORMATS):
        return "examples"
    return "columns"


def _labelled_format(source: str | Path) -> str:
    """The labelled format the content of ``source`` looks like (an InputError when it fits none)."""
    fmt, _ = resolve(Path(source), labelled=True)
    return fmt.name


def convert_file(
    source: str | Path,
    out: TextIO,
    *,
    input_format: str = "auto",
    output_format: str | None = None,
    to_scheme: str | None = None,
    from_scheme: str = "auto",
    tag_column: int = -1,
    columns: Sequence[int] | None = None,
    fields: Sequence[str] | None = None,
    separator: str | None = None,
    label_column: str | None = None,
    text_columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
    misaligned: str | None = None,
    overlaps: str | None = None,
    annotation: str | None = None,
    tokenized: bool | None = None,
) -> None:
    """Convert ``source`` (a path, or ``-`` for stdin) onto ``out``, choosing the conversion by
    :func:`input_kind`. ``separator`` is ``space`` or ``tab``. An option that does not apply to the input
    raises :class:`InputError` naming it. ``misaligned``, ``overlaps``, ``annotation`` and ``tokenized`` are
    the DataConfig settings of annotation tools' data (:func:`convert_documents`)."""
    kind = input_kind(source, input_format, output_format, fields)
    what, applies = _KINDS[kind]
    given = {
        "--to": to_scheme, "--from": None if from_scheme == "auto" else from_scheme, "--columns": columns,
        "--fields": fields, "--separator": separator, "--label-column": label_column, "--text-columns": text_columns,
        "--misaligned": misaligned, "--overlaps": overlaps, "--annotation": annotation, "--tokenized": tokenized or None,
        "--tag-column": None if tag_column == -1 or kind == "columns" else tag_column,
    }
    for option, value in given.items():
        if value is not None and option not in applies:
            raise InputError(f"{option} does not apply to {what}")
    if kind == "documents":
        convert_documents(source, out, input_format=input_format, output_format=output_format, to_scheme=to_scheme,
                          from_scheme=from_scheme, tag_column=tag_column, label_column=label_column, encoding=encoding,
                          misaligned=misaligned or "error", overlaps=overlaps or "error", annotation=annotation or "first",
                          tokenized=bool(tokenized))
        return
    if kind != "examples" and output_format not in (None, "conll"):
        raise InputError(f"--output-format {output_format} is for classification data; {what} become column files")
    sep = None if separator is None else SEPARATORS[separator]
    if kind == "columns":
        convert_columns(source, out, to_scheme=to_scheme, from_scheme=from_scheme, tag_column=tag_column,
                        columns=columns, separator=sep, encoding=encoding)
    elif kind == "conllu":
        convert_conllu(source, out, fields=fields or DEFAULT_FIELDS, separator=sep or " ", encoding=encoding)
    elif output_format is None:
        raise InputError(f"give --output-format ({', '.join(WRITE_FORMATS)}) to convert classification data")
    else:
        convert_examples(source, out, output_format=output_format, input_format=input_format,
                         label_column=label_column, text_columns=text_columns, encoding=encoding)


# ---------------------------------------------------------------------------- column files


def convert_columns(
    source: str | Path,
    out: TextIO,
    *,
    to_scheme: str | None = None,
    from_scheme: str = "auto",
    tag_column: int = -1,
    columns: Sequence[int] | None = None,
    separator: str | None = None,
    encoding: str = "utf-8",
) -> None:
    """Re-encode the tag column in ``to_scheme`` and/or keep ``columns`` (0-based, negative from the end,
    in the order given), one sentence at a time. ``separator`` joins the output columns (default: as the
    input, a space or a tab). ``from_scheme="auto"`` detects the input scheme from the whole file first.
    """
    if to_scheme is None and columns is None:
        raise InputError(NOTHING_TO_DO)
    if to_scheme is None and from_scheme != "auto":
        raise InputError("give --to with --from: the scheme to convert the tags into", "--from")
    if to_scheme is not None and to_scheme not in TAG_SCHEMES:
        raise InputError(f"unknown tag scheme {to_scheme!r}; expected one of {', '.join(TAG_SCHEMES)}", "--to")
    if from_scheme not in ("auto", *TAG_SCHEMES):
        raise InputError(f"unknown tag scheme {from_scheme!r}; expected auto, {', '.join(TAG_SCHEMES)}", "--from")
    if columns is not None and not columns:
        raise InputError("give at least one column", "--columns")
    detect = to_scheme is not None and from_scheme == "auto"
    with _passes(source, encoding, twice=detect) as reopen:
        if detect:
            with reopen() as (name, lines):
                from_scheme = _detect(name, column_blocks(name, lines, encoding, separators=True), tag_column)
        with reopen() as (name, lines):
            blocks = column_blocks(name, lines, encoding, separators=True)
            recode = None if to_scheme is None else (from_scheme, to_scheme)
            _write_blocks(name, blocks, out, recode, tag_column, columns, separator)


def _detect(name: str, blocks: Iterator[ColumnBlock], tag_column: int) -> str:
    """The scheme of the tag column over the whole file; plain tags cannot be converted."""

    def tag_sequences() -> Iterator[list[str]]:
        tag = None
        for block in blocks:
            if block.rows and not block.docstart:
                if tag is None:
                    tag = column_index("tag", tag_column, len(block.rows[0]), name, block.line)
                yield [row[tag] for row in block.rows]

    scheme = detect_scheme(tag_sequences())
    if scheme == "plain":
        raise InputError(
            f"tag column {tag_column} holds tags without B-/I-/E-/S- prefixes (such as POS tags), which have no "
            "scheme to convert; choose the column with --tag-column, or give --from to find the first such tag",
            name,
        )
    return scheme


def _write_blocks(
    name: str,
    blocks: Iterator[ColumnBlock],
    out: TextIO,
    recode: tuple[str, str] | None,
    tag_column: int,
    columns: Sequence[int] | None,
    separator: str | None,
) -> None:
    """Write the blocks, each sentence with its tags re-encoded (``recode``: source, target scheme) and its
    columns selected."""
    tag: int | None = None  # resolved on the first sentence, when the number of columns is known
    keep: list[int] | None = None
    known_tags: set[str] = set()  # tags already checked against the source scheme
    pending: list[str] = []  # lines before the first sentence, held until its columns are checked
    for block in blocks:
        sep = separator or block.sep
        if block.docstart or not block.rows:
            line = sep.join(_docstart_row(block.rows[0], columns)) + "\n" if block.docstart else "\n"
            if tag is None:
                pending.append(line)
            else:
                out.write(line)
            continue
        rows = block.rows
        if tag is None:
            ncols = len(rows[0])
            tag = column_index("tag", tag_column, ncols, name, block.line)
            if columns is not None:
                keep = [column_index("selected", i, ncols, name, block.line) for i in columns]
            out.write("".join(pending))
        if recode is not None:
            tags = [row[tag] for row in rows]
            for offset, value in enumerate(tags):
                if value not in known_tags:
                    if not fits_scheme(value, recode[0]):
                        raise InputError(f"tag {value!r} is not a {recode[0]} tag; check --from and --tag-column",
                                         name, block.line + offset)
                    known_tags.add(value)
            for row, value in zip(rows, _recode(tags, *recode)):
                row[tag] = value
        if keep is not None:
            rows = [[row[i] for i in keep] for row in rows]
        if sep == " " and block.sep == "\t":  # tab-separated values may hold spaces
            _check_no_spaces(rows, name, block.line)
        out.write("".join(sep.join(row) + "\n" for row in rows))


def _recode(tags: list[str], source: str, target: str) -> list[str]:
    """The chunks of ``tags`` in ``target``'s own letters, even when ``source`` is the same scheme: BILOU
    becomes BIOES, and a sequence the scheme forbids (I- after O in IOB2) is re-encoded as read."""
    if source != target:
        return convert_tags(tags, source, target)
    via = "iob2" if target != "iob2" else "bioes"  # convert() copies tags unchanged within one scheme
    return convert_tags(convert_tags(tags, source, via), via, target)


def _docstart_row(row: list[str], columns: Sequence[int] | None) -> list[str]:
    """A ``-DOCSTART-`` row with the selected columns; -DOCSTART- stays first whatever the new order, and
    a column the row lacks becomes the placeholder ``-X-``."""
    if columns is None:
        return row
    n = len(row)
    return [DOCSTART, *(row[i] if -n <= i < n and i % n != 0 else "-X-" for i in columns[1:])]


def _check_no_spaces(rows: list[list[str]], name: str, first: int) -> None:
    for offset, row in enumerate(rows):
        for value in row:
            if " " in value:
                raise InputError(f"{value!r} holds a space; keep tabs with --separator tab", name, first + offset)


@contextmanager
def _passes(
    source: str | Path, encoding: str, twice: bool
) -> Iterator[Callable[[], AbstractContextManager[tuple[str, Iterator[str]]]]]:
    """A function that opens ``source`` for one pass; for two passes over stdin, a temporary copy of it."""
    if not twice or str(source) != "-":
        yield lambda: open_lines(source, encoding)
        return
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)

        @contextmanager
        def rewound() -> Iterator[tuple[str, Iterator[str]]]:
            spool.seek(0)
            with open_lines(spool, encoding) as (_, lines):
                yield "<stdin>", lines

        yield rewound


# ---------------------------------------------------------------------------- CoNLL-U


def convert_conllu(
    source: str | Path,
    out: TextIO,
    *,
    fields: Sequence[str] = DEFAULT_FIELDS,
    separator: str = " ",
    encoding: str = "utf-8",
) -> None:
    """Write the chosen ``fields`` (names from ``CONLLU_FIELDS``) of every word row as columns joined by
    ``separator``, a blank line after each sentence."""
    unknown = [f for f in fields if f not in CONLLU_FIELDS]
    if unknown or not fields:
        raise InputError(f"unknown CoNLL-U field {unknown[0] if unknown else ''!r}; choose from "
                         f"{', '.join(CONLLU_FIELDS)}", "--fields")
    indexes = [CONLLU_FIELDS.index(f) for f in fields]
    docstart = separator.join([DOCSTART] + ["-X-"] * (len(fields) - 1)) + "\n\n"
    for sentence in conllu_sentences(source, encoding):
        if sentence.newdoc:
            out.write(docstart)
        for row, lineno in zip(sentence.rows, sentence.lines):
            values = [row[i] for i in indexes]
            if separator == " ":
                _check_no_spaces([values], "<stdin>" if str(source) == "-" else str(source), lineno)
            out.write(separator.join(values) + "\n")
        out.write("\n")


# ---------------------------------------------------------------------------- annotation tools' data


def convert_documents(
    source: str | Path,
    out: Any,
    *,
    input_format: str = "auto",
    output_format: str | None = None,
    to_scheme: str | None = None,
    from_scheme: str = "auto",
    tag_column: int = -1,
    label_column: str | None = None,
    encoding: str = "utf-8",
    misaligned: str = "error",
    overlaps: str = "error",
    annotation: str = "first",
    tokenized: bool = False,
) -> None:
    """Annotation tools' data (:mod:`seqtag.formats.annotations`) to CoNLL columns or another tool's format,
    and tagging data (CoNLL columns, CoNLL-U) or classification data to a tool's format, one record at a
    time. Spans become IOB2 tags (``to_scheme`` re-encodes them) through the tokenizer `seqtag predict`
    uses; ``out`` is a text stream, or an AnnotationOutput for a brat folder."""
    from seqtag.config import DataConfig
    from seqtag.formats.annotation_writers import (
        CLASSIFICATION_WRITERS, CONVERT_WRITERS, OutDoc, tagged_documents, write_documents,
    )
    from seqtag.formats.registry import CLASSIFY, read_sentences

    fmt, source = resolve(source, input_format, labelled=True, encoding=encoding)
    if fmt.task == CLASSIFY:
        if output_format not in (*WRITE_FORMATS, *CLASSIFICATION_WRITERS):
            choices = ", ".join(dict.fromkeys((*WRITE_FORMATS, *CLASSIFICATION_WRITERS)))
            raise InputError(f"{fmt.looks_like} is classification data: give --output-format {choices}")
        if to_scheme is not None:
            raise InputError("--to re-encodes tags; classification data has labels")
        examples = read_examples(source, format=fmt.name, label_column=label_column, encoding=encoding, tokenized=True,
                                 annotation=annotation)
        if output_format in CLASSIFICATION_WRITERS:
            write_documents((OutDoc(e.text, label=e.label, gold=True) for e in examples if e.label is not None), out,
                            output_format)
            return
        name = "<stdin>" if str(source) == "-" else str(source)
        header = format_header(output_format)
        for example in examples:
            try:
                line = format_example(example.label, example.text, output_format)  # type: ignore[arg-type]
            except ValueError as error:
                raise InputError(str(error), name, example.line) from None
            out.write(header + line)
            header = ""
        return
    output_format = output_format or "conll"
    if output_format != "conll" and output_format not in CONVERT_WRITERS:
        raise InputError(f"{fmt.looks_like} is tagging data: give --output-format conll or one of "
                         f"{', '.join(CONVERT_WRITERS)}")
    config = DataConfig(input_format=fmt.name, encoding=encoding, tag_column=tag_column, label_column=label_column or "",
                        misaligned=misaligned, overlaps=overlaps, annotation=annotation, tokenized=tokenized)
    spans_in = fmt.name in DOCUMENT_FORMATS and fmt.name != "token-jsonl"  # tags made here, in IOB2
    source_scheme = "iob2" if spans_in else from_scheme
    if source_scheme == "auto" and (to_scheme is not None or output_format != "conll"):
        if str(source) == "-":
            raise InputError("give --from: the scheme of tags read from standard input cannot be detected first")
        source_scheme = detect_scheme(s.tags or [] for s in read_sentences(source, config, fmt=fmt))
    sentences = read_sentences(source, config, fmt=fmt)
    if output_format != "conll":
        if source_scheme == "plain":
            raise InputError("the tags have no B-/I- prefixes (POS tags?), so they make no spans; choose the tag "
                             "column with --tag-column", str(source))
        write_documents(tagged_documents(((s, s.tags) for s in sentences), source_scheme, gold=True), out, output_format)
        return
    target = to_scheme
    for sentence in sentences:
        tags = sentence.tags or []
        if target is not None and target != source_scheme:
            tags = _recode(tags, source_scheme, target)
        sep = "\t" if any(" " in token for token in sentence.tokens) else " "
        out.write("".join(f"{token}{sep}{tag}\n" for token, tag in zip(sentence.tokens, tags)) + "\n")


# ---------------------------------------------------------------------------- classification data


def convert_examples(
    source: str | Path,
    out: TextIO,
    *,
    output_format: str,
    input_format: str = "auto",
    label_column: str | None = None,
    text_columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> None:
    """Rewrite labelled texts in ``output_format`` (one of ``WRITE_FORMATS``), one example at a time.

    Several text columns are joined with a space, as for training; see
    :func:`seqtag.formats.classification.format_example` for what each format can hold.
    """
    if output_format not in WRITE_FORMATS:
        raise InputError(f"unknown output format {output_format!r}; expected one of {', '.join(WRITE_FORMATS)}")
    name = "<stdin>" if str(source) == "-" else str(source)
    # tokenized=True: the tokens are not needed, so skip syntok.
    examples = read_examples(source, format=input_format, label_column=label_column, text_columns=text_columns,
                             encoding=encoding, tokenized=True)
    header = format_header(output_format)
    for example in examples:
        assert example.label is not None or example.labels is not None  # read with labels
        try:
            line = format_example(example.label if example.labels is None else example.labels, example.text, output_format)
        except ValueError as error:
            raise InputError(str(error), name, example.line) from None
        out.write(header + line)
        header = ""  # written with the first example, so an input error leaves no output
