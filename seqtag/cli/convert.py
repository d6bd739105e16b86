"""`seqtag convert`: tag schemes, columns, CoNLL-U fields and classification formats, stdin to stdout."""
from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional, TextIO

import typer

from seqtag.cli._common import DataFormat, _choices, reports_input_errors
from seqtag.tools.convert import SEPARATORS, TAG_SCHEMES
from seqtag.formats.classification import WRITE_FORMATS
from seqtag.formats.annotation_writers import CONVERT_WRITERS
from seqtag.errors import InputError

ToScheme = _choices("ToScheme", TAG_SCHEMES)
FromScheme = _choices("FromScheme", ("auto", *TAG_SCHEMES))
WriteFormat = _choices("WriteFormat", ("conll", *WRITE_FORMATS, *CONVERT_WRITERS))
Misaligned = _choices("Misaligned", ("error", "expand", "drop"))
Overlaps = _choices("Overlaps", ("error", "longest"))
Annotation = _choices("Annotation", ("first", "last", "prediction"))
Separator = _choices("Separator", SEPARATORS)


@reports_input_errors
def convert(
    source: Annotated[str, typer.Argument(metavar="INPUT", help="File to convert, or - for stdin.")] = "-",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write this file (atomically: complete or not at all) instead of stdout; for --output-format brat, the folder to write.")] = None,
    to_scheme: Annotated[Optional[ToScheme], typer.Option("--to", help="Column files: re-encode the tag column in this scheme.")] = None,
    from_scheme: Annotated[FromScheme, typer.Option("--from", help="Column files: the scheme of the input tags; auto detects it from the whole file.")] = FromScheme.auto,
    tag_column: Annotated[int, typer.Option(help="Column files: the tag column, 0-based, negative from the end.")] = -1,
    columns: Annotated[Optional[str], typer.Option(help="Column files: keep these columns in this order, e.g. 0,3 or -1,0.")] = None,
    fields: Annotated[Optional[str], typer.Option(help="CoNLL-U: the fields to write as columns, e.g. form,upos or form,lemma,xpos. (default: form,upos)")] = None,
    separator: Annotated[Optional[Separator], typer.Option(help="Column separator of the output. (default: as the input; space for CoNLL-U)")] = None,
    input_format: Annotated[DataFormat, typer.Option(help="Format of INPUT: conllu for .conllu files or with --fields, classification data with a classification --output-format, else conll.")] = DataFormat.auto,
    output_format: Annotated[Optional[WriteFormat], typer.Option(help="Classification data: the format to write. Column and CoNLL-U input give column files. Annotation tools: doccano, label-studio, spacy, brat (a folder: --output DIR) or token-jsonl, from tagging data or from another tool; their data gives CoNLL columns (conll) unless asked otherwise.")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL input: label column name or index. (default: 'label' or the first)")] = None,
    text_columns: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL input: comma-separated text columns, joined. (default: 'text'/'sentence' or the rest)")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input; the output is utf-8.")] = "utf-8",
    misaligned: Annotated[Optional[Misaligned], typer.Option(help="Annotation tools' spans whose ends cut a token: error (listing them), expand to the tokens they touch, or drop. (default: error)", show_default=False)] = None,
    overlaps: Annotated[Optional[Overlaps], typer.Option(help="Annotation tools' spans that share a token: error, or keep the longest. (default: error)", show_default=False)] = None,
    annotation: Annotated[Optional[Annotation], typer.Option(help="Label Studio: the annotation of a task to read: first or last not cancelled, or the first prediction. (default: first)", show_default=False)] = None,
    tokenized: Annotated[bool, typer.Option("--tokenized", help="Annotation tools' texts are tokenized already: tokens split on whitespace, one sentence per line (as seqtag writes CoNLL data for them). (default: syntok, as `seqtag predict` tokenizes raw text)")] = False,
) -> None:
    """Convert data files: IOB1 / IOB2 / BIOES tags, column selection and order, CoNLL-U to columns,
    classification formats into one another. Streams: a file of any size takes little memory."""
    from seqtag.tools.convert import convert_file

    if output_format is not None and output_format.value == "brat":
        from seqtag.formats.annotation_writers import AnnotationOutput

        if output is None:
            raise InputError("brat standoff is a folder of .txt and .ann files: give it with --output DIR", "--output-format")
        destination: Any = contextlib.nullcontext(AnnotationOutput(folder=output))
    else:
        destination = _destination(output)
    with destination as out:
        convert_file(
            source,
            out,
            input_format=input_format.value,
            output_format=None if output_format is None else output_format.value,
            to_scheme=None if to_scheme is None else to_scheme.value,
            from_scheme=from_scheme.value,
            tag_column=tag_column,
            columns=None if columns is None else _indexes(columns, "--columns"),
            fields=None if fields is None else _names(fields),
            separator=None if separator is None else separator.value,
            label_column=label_column,
            text_columns=None if text_columns is None else _names(text_columns),
            encoding=encoding,
            misaligned=None if misaligned is None else misaligned.value,
            overlaps=None if overlaps is None else overlaps.value,
            annotation=None if annotation is None else annotation.value,
            tokenized=tokenized or None,
        )


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def _indexes(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in _names(text)]
    except ValueError:
        raise InputError(f"expected comma-separated column numbers such as 0,3; got {text!r}", option) from None


@contextmanager
def _destination(output: Path | None) -> Iterator[TextIO]:
    """stdout, or a utf-8 text stream onto an atomic write of ``output`` (kept only if conversion ends well)."""
    if output is None:
        yield sys.stdout
        return
    from seqtag.fileio import atomic_write

    if not output.parent.is_dir():
        raise InputError(f"no such directory {str(output.parent)!r}", output)
    if output.is_dir():
        raise InputError("is a folder; --output names the file to write (a folder only for --output-format brat)", output)
    with atomic_write(output) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # atomic_write closes the file itself
