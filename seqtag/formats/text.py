"""Read raw or pre-tokenized text, one document per line, into :class:`Sentence` objects with offsets.

Every input LINE is one document: it is tokenized (and, by default, sentence-split) on its own, so a
stream of any length is processed line by line and never loaded whole. Each yielded sentence keeps
``text`` = the line it came from, ``line`` = that line's 1-based number, and ``offsets`` = the
``(start, end)`` character span of each token inside ``text``; ``text[start:end] == token`` always holds.

An empty (or whitespace-only) line yields exactly one empty sentence (``tokens == []``), so a caller
writing one output line per sentence group can keep its output aligned with the input lines.

Errors (missing file, undecodable bytes, unknown encoding) are raised as :class:`InputError` when
iteration reaches them, not when the reader is created: the readers are plain generators.
"""
from __future__ import annotations

from collections.abc import Iterator

from seqtag.data.sentence import Sentence
from seqtag.data.tokenize import sentence_spans
from seqtag.formats.lines import Source, numbered_lines


def read_raw(
    source: Source, encoding: str = "utf-8", split_sentences: bool = True, *, lines: range | None = None
) -> Iterator[Sentence]:
    """Tokenize raw text with syntok; yield sentences (or one sentence per line) with character offsets.
    Each line is a document (``Sentence.document``: its line number) whose sentences a tagger with document
    context reads together.

    ``source`` is a path, ``"-"`` for standard input, or an open text or binary stream (not closed here).
    With ``lines``, only the lines whose 1-based number is in that range are tokenized and yielded, and
    reading stops after its last line (``predict --shard``).
    """
    numbered = numbered_lines(source, encoding)
    for lineno, text in numbered if lines is None else _lines_in(numbered, lines):
        sentences = sentence_spans(text)
        if not split_sentences:
            sentences = [[tok for sent in sentences for tok in sent]]
        sentences = [s for s in sentences if s]
        if not sentences:
            yield Sentence(tokens=[], line=lineno, offsets=[], text=text)
            continue
        for spans in sentences:
            yield Sentence(
                tokens=[text[start:end] for start, end in spans], line=lineno, offsets=spans, text=text, document=lineno
            )


def read_tokenized(source: Source, encoding: str = "utf-8", *, lines: range | None = None) -> Iterator[Sentence]:
    """Yield one sentence per line, tokens split on whitespace, with offsets into the line (``lines`` as
    for :func:`read_raw`)."""
    numbered = numbered_lines(source, encoding)
    for lineno, text in numbered if lines is None else _lines_in(numbered, lines):
        tokens = text.split()
        offsets = []
        pos = 0
        for tok in tokens:
            # str.split() and str.find() agree on what a token is, so no separate whitespace rule is needed.
            start = text.find(tok, pos)
            pos = start + len(tok)
            offsets.append((start, pos))
        yield Sentence(tokens=tokens, line=lineno, offsets=offsets, text=text)


def _lines_in(numbered: Iterator[tuple[int, str]], lines: range) -> Iterator[tuple[int, str]]:
    """The numbered lines in ``lines``; stops without reading the line after its last one."""
    for lineno, text in numbered:
        if lineno >= lines.stop:  # only for an empty range: the first line was read, so a missing file is reported
            return
        if lineno >= lines.start:
            yield lineno, text
        if lineno >= lines.stop - 1:
            return
