"""CoNLL-style column files: one token per line, columns split by whitespace or tabs, blank lines between
sentences.

Readers stream: they hold one sentence at a time, so a million-sentence file costs no more memory than a
small one. Every problem a user can fix becomes an :class:`InputError` naming the file and line.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.formats.lines import Source, decode_error, open_lines

# A first line made only of these words is a header row naming the columns, not a token.
HEADER_NAMES = frozenset({
    "token", "tokens", "word", "words", "form", "text", "tag", "tags", "label", "labels", "ner", "ner_tag",
    "ner_tags", "pos", "pos_tag", "upos", "xpos", "chunk", "chunk_tag", "iob", "bio", "entity", "lemma", "id",
})


def is_column_header(line: str) -> bool:
    """``token<TAB>tag``-style first lines: at least two fields, every one a usual column name."""
    fields = [f.strip().lower() for f in (line.rstrip("\r\n").split("\t") if "\t" in line else line.split())]
    return len(fields) >= 2 and all(f in HEADER_NAMES for f in fields)


@dataclass(slots=True)
class ColumnBlock:
    """A sentence (its split token rows) or, when asked for, a blank line (no rows) or a ``-DOCSTART-``
    line (one row)."""

    line: int  # of the first row
    rows: list[list[str]]
    sep: str  # what the rows are split on: " " (runs of whitespace) or a tab
    docstart: bool = False


def column_blocks(name: str, lines: Iterator[str], encoding: str, separators: bool = False) -> Iterator[ColumnBlock]:
    """The sentences of a column file's ``lines`` (from :func:`open_lines`) and, with ``separators``, the
    blank and ``-DOCSTART-`` lines between them, in order.

    Columns are split on runs of whitespace, or on tabs only when the first token row holds a tab (so
    tokens may contain spaces). A first line that names the columns (``token<TAB>tag``) is skipped. Every row must have as many columns as that first row. Blank or
    whitespace-only lines end a sentence; ``-DOCSTART-`` lines also end one. A file without a sentence,
    a row with another number of columns and undecodable bytes are InputErrors naming the line.
    """
    rows: list[list[str]] = []
    first = 0  # line of the first row in ``rows``
    split = str.split  # becomes _split_tabs if the first token row holds a tab
    sep = " "
    ncols = -1  # until the first token row fixes the layout
    found = False
    lineno = 0
    try:
        for lineno, line in enumerate(lines, 1):
            row = split(line)
            # Fast path: one split and two cheap tests per ordinary token row.
            if len(row) != ncols or row[0] == "-DOCSTART-":
                if not row or row == [""] or row[0] == "-DOCSTART-":  # blank ends a sentence
                    if rows:
                        found = True
                        yield ColumnBlock(first, rows, sep)
                        rows = []
                    if separators:
                        if row and row[0] == "-DOCSTART-":
                            yield ColumnBlock(lineno, [row], "\t" if "\t" in line.rstrip() else " ", docstart=True)
                        else:
                            yield ColumnBlock(lineno, [], sep)
                    continue
                if ncols > 0:
                    raise InputError(f"expected {ncols} columns, got {len(row)}", name, lineno)
                if not found and not rows and is_column_header(line):
                    continue
                if "\t" in line.rstrip():
                    split, sep = _split_tabs, "\t"
                    row = split(line)
                ncols = len(row)
            if not rows:
                first = lineno
            rows.append(row)
    except UnicodeDecodeError:
        # Raised while fetching the line after the last one counted.
        raise decode_error(name, lineno + 1, encoding) from None
    if rows:
        yield ColumnBlock(first, rows, sep)
    elif not found:
        raise InputError("no sentences found", name)


def read_columns(
    source: Source,
    token_column: int = 0,
    tag_column: int = -1,
    encoding: str = "utf-8",
    with_tags: bool = True,
) -> Iterator[Sentence]:
    """Stream the sentences of a column file (split as :func:`column_blocks` says).

    ``-DOCSTART-`` lines are not sentences: they number the documents (``Sentence.document``; None in files
    without them). Column indexes are 0-based and may be negative. With
    ``with_tags=False`` the tag column is ignored and ``tags`` is None. Each sentence keeps its split rows
    in ``columns`` and the line of its first token in ``line``. Errors surface while iterating, as
    :class:`InputError` with path and line.
    """
    with open_lines(source, encoding) as (name, lines):
        tok = tag = -1  # resolved on the first sentence, when the number of columns is known
        document = None  # counts -DOCSTART- lines; None before the first
        for block in column_blocks(name, lines, encoding, separators=True):
            if block.docstart:
                document = 0 if document is None else document + 1
                continue
            if not block.rows:
                continue
            if tok < 0:
                tok, tag = _resolve_columns(len(block.rows[0]), token_column, tag_column, with_tags, name, block.line)
            sentence = _sentence(block.rows, block.line, tok, tag, with_tags)
            sentence.document = document
            yield sentence


def _split_tabs(line: str) -> list[str]:
    """Tab-separated fields; a blank or whitespace-only line gives ``[""]``."""
    return line.rstrip().split("\t")


def _resolve_columns(
    ncols: int, token_column: int, tag_column: int, with_tags: bool, name: str, line: int
) -> tuple[int, int]:
    """Check the column indexes against the first row and make them non-negative."""
    tok = column_index("token", token_column, ncols, name, line)
    if not with_tags:
        return tok, tok
    tag = column_index("tag", tag_column, ncols, name, line)
    if tag == tok:
        # Typically a one-column file of raw tokens read as training data.
        raise InputError(f"tag column {tag_column} is also the token column (the file has {ncols})", name, line)
    return tok, tag


def column_index(what: str, index: int, ncols: int, name: str, line: int) -> int:
    if not -ncols <= index < ncols:
        raise InputError(f"{what} column {index} is out of range: the file has {ncols} columns", name, line)
    return index % ncols


def _sentence(rows: list[list[str]], line: int, tok: int, tag: int, with_tags: bool) -> Sentence:
    return Sentence(
        tokens=[row[tok] for row in rows],
        tags=[row[tag] for row in rows] if with_tags else None,
        line=line,
        columns=rows,
    )


def write_columns(sentence: Sentence, predicted: list[str], out: TextIO, sep: str = " ") -> None:
    """Write one sentence as ``token<sep>tag`` lines, then a blank line.

    When the sentence kept its input rows (``columns``), the whole row is echoed with the predicted tag
    appended, as conlleval expects. Pass ``sep="\\t"`` when tokens may contain spaces.
    """
    if len(predicted) != len(sentence.tokens):
        raise ValueError(f"{len(predicted)} tags for a sentence of {len(sentence.tokens)} tokens")
    rows = sentence.columns if sentence.columns is not None else ([t] for t in sentence.tokens)
    out.write("".join(sep.join(row) + sep + tag + "\n" for row, tag in zip(rows, predicted)) + "\n")
