"""CoNLL-U treebanks (Universal Dependencies): ten tab-separated fields per word, ``#`` comments, blank lines
between sentences. Only word rows are kept; multiword tokens and empty nodes are skipped.

:func:`conllu_sentences` is the one parser; :func:`read_conllu` makes tagging sentences of it and
``seqtag convert`` (seqtag.tools.convert) writes its columns.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from seqtag.data.sentence import Sentence
from seqtag.errors import InputError
from seqtag.formats.lines import Source, decode_error, open_lines

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_NEWDOC = re.compile(r"#\s*newdoc(\s|=|$)")


@dataclass(slots=True)
class ConlluSentence:
    rows: list[list[str]]  # the ten fields of each word
    lines: list[int]  # the line of each row
    text: str | None  # from a ``# text = …`` comment
    newdoc: bool  # a ``# newdoc`` comment came before it


def conllu_sentences(source: Source, encoding: str = "utf-8") -> Iterator[ConlluSentence]:
    """Stream the sentences of a CoNLL-U file. A row without ten tab-separated fields, undecodable bytes and
    a file without a sentence are :class:`InputError` s naming the file and line."""
    with open_lines(source, encoding) as (name, lines):
        rows: list[list[str]] = []
        numbers: list[int] = []
        text: str | None = None
        newdoc = found = False
        lineno = 0
        try:
            for lineno, line in enumerate(lines, 1):
                # FORM may hold spaces, so split on tabs only; the line end stays in the MISC field.
                row = line.split("\t")
                if len(row) != 10 or line[0] == "#":  # rare: blank line, comment or malformed row
                    if line[0] == "#":
                        key, eq, value = line[1:].partition("=")
                        if eq and key.strip() == "text":
                            text = value.strip()
                        newdoc = newdoc or _NEWDOC.match(line) is not None
                    elif line.strip():
                        raise InputError(f"expected 10 tab-separated fields, got {len(row)}", name, lineno)
                    else:
                        if rows:
                            found = True
                            yield ConlluSentence(rows, numbers, text, newdoc)
                            rows, numbers, newdoc = [], [], False
                        text = None
                    continue
                if "-" in row[0] or "." in row[0]:  # multiword token range or empty node
                    continue
                row[9] = row[9].rstrip("\r\n")
                rows.append(row)
                numbers.append(lineno)
        except UnicodeDecodeError:
            # Raised while fetching the line after the last one counted.
            raise decode_error(name, lineno + 1, encoding) from None
        if rows:
            yield ConlluSentence(rows, numbers, text, newdoc)
        elif not found:
            raise InputError("no sentences found", name)


def read_conllu(source: Source, field: str = "upos", encoding: str = "utf-8") -> Iterator[Sentence]:
    """Stream sentences with FORM as tokens and UPOS (or XPOS with ``field="xpos"``) as tags.

    ``text`` comes from the ``# text = ...`` comment when present and ``line`` is the line of the first
    word; ``document`` counts the ``# newdoc`` comments (None before the first). Errors surface while
    iterating, as :class:`InputError` with path and line.
    """
    if field not in ("upos", "xpos"):
        raise ValueError(f"unknown CoNLL-U field {field!r}; expected one of ['upos', 'xpos']")
    tag_index = FIELDS.index(field)
    document = None  # counts ``# newdoc`` comments; None before the first
    for sentence in conllu_sentences(source, encoding):
        rows = sentence.rows
        if sentence.newdoc:
            document = 0 if document is None else document + 1
        yield Sentence([row[1] for row in rows], [row[tag_index] for row in rows], line=sentence.lines[0],
                       text=sentence.text, document=document)
