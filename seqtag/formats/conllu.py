"""CoNLL-U treebanks (Universal Dependencies): ten tab-separated fields per word, ``#`` comments, blank lines
between sentences. Only word rows are tagged; multiword tokens and empty nodes are skipped.
"""
from __future__ import annotations

from collections.abc import Iterator

from seqtag.formats.columns import Source, decode_error, open_lines
from seqtag.data.sentence import Sentence
from seqtag.errors import InputError

_FIELDS = {"upos": 3, "xpos": 4}


def read_conllu(source: Source, field: str = "upos", encoding: str = "utf-8") -> Iterator[Sentence]:
    """Stream sentences with FORM as tokens and UPOS (or XPOS with ``field="xpos"``) as tags.

    ``text`` comes from the ``# text = ...`` comment when present and ``line`` is the line of the first
    word. Errors surface while iterating, as :class:`InputError` with path and line.
    """
    if field not in _FIELDS:
        raise ValueError(f"unknown CoNLL-U field {field!r}; expected one of {sorted(_FIELDS)}")
    tag_index = _FIELDS[field]
    with open_lines(source, encoding) as (name, lines):
        tokens: list[str] = []
        tags: list[str] = []
        text: str | None = None
        first = 0
        found = False
        lineno = 0
        try:
            for lineno, line in enumerate(lines, 1):
                # FORM may hold spaces, so split on tabs only; the line end stays in the unused MISC field.
                row = line.split("\t")
                if len(row) != 10 or line[0] == "#":  # rare: blank line, comment or malformed row
                    if line[0] == "#":
                        key, eq, value = line[1:].partition("=")
                        if eq and key.strip() == "text":
                            text = value.strip()
                    elif line.strip():
                        raise InputError(f"expected 10 tab-separated fields, got {len(row)}", name, lineno)
                    else:
                        if tokens:
                            found = True
                            yield Sentence(tokens, tags, line=first, text=text)
                            tokens, tags = [], []
                        text = None
                    continue
                word_id = row[0]
                if "-" in word_id or "." in word_id:  # multiword token range or empty node
                    continue
                if not tokens:
                    first = lineno
                tokens.append(row[1])
                tags.append(row[tag_index])
        except UnicodeDecodeError:
            # Raised while fetching the line after the last one counted.
            raise decode_error(name, lineno + 1, encoding) from None
        if tokens:
            yield Sentence(tokens, tags, line=first, text=text)
        elif not found:
            raise InputError("no sentences found", name)
