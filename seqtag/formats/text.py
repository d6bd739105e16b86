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

import codecs
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Union

from seqtag.data.sentence import Sentence
from seqtag.data.tokenize import sentence_spans
from seqtag.errors import InputError

Source = Union[str, os.PathLike, IO[str], IO[bytes]]

STDIN_NAME = "<stdin>"


def read_raw(
    source: Source, encoding: str = "utf-8", split_sentences: bool = True, *, lines: range | None = None
) -> Iterator[Sentence]:
    """Tokenize raw text with syntok; yield sentences (or one sentence per line) with character offsets.

    ``source`` is a path, ``"-"`` for standard input, or an open text or binary stream (not closed here).
    With ``lines``, only the lines whose 1-based number is in that range are tokenized and yielded, and
    reading stops after its last line (``predict --shard``).
    """
    numbered = _read_lines(source, encoding)
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
                tokens=[text[start:end] for start, end in spans], line=lineno, offsets=spans, text=text
            )


def read_tokenized(source: Source, encoding: str = "utf-8", *, lines: range | None = None) -> Iterator[Sentence]:
    """Yield one sentence per line, tokens split on whitespace, with offsets into the line (``lines`` as
    for :func:`read_raw`)."""
    numbered = _read_lines(source, encoding)
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


def _read_lines(source: Source, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending), decoding bytes line by line.

    Decoding ourselves (rather than through a TextIOWrapper, which decodes in 8 KB chunks) lets a decode
    error name the exact line it is on.
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None

    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        path = os.fspath(source)
        try:
            stream = open(path, "rb")
        except FileNotFoundError:
            raise InputError("no such file", path) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a text file", path) from None
        except OSError as exc:
            raise InputError(f"cannot read file: {exc.strerror}", path) from None
        with stream:
            yield from _decode_lines(stream, codec, path)
        return

    if isinstance(source, (str, os.PathLike)):  # "-"
        source = getattr(sys.stdin, "buffer", sys.stdin)  # a replaced sys.stdin may be text-only
        name = STDIN_NAME
    else:
        name = str(getattr(source, "name", "<stream>"))
    if isinstance(source, io.TextIOBase) or isinstance(getattr(source, "encoding", None), str):
        yield from _text_lines(source, name)
    else:
        yield from _decode_lines(source, codec, name)


def _decode_lines(stream: IO[bytes], codec: codecs.CodecInfo, name: str) -> Iterator[tuple[int, str]]:
    decoder = codec.incrementaldecoder("strict")
    strip_bom = codec.name == "utf-8"  # a plain utf-8 reader would otherwise keep U+FEFF in the first token
    pending = ""  # decoded text not yet ended by a newline (only non-empty for non-ASCII-based codecs)
    lineno = 0
    for raw in _iter_chunks(stream):
        try:
            pending += decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid {codec.name} text ({exc.reason} at byte {exc.start} of the line); "
                "try --encoding latin-1 or the file's real encoding",
                name,
                lineno + pending.count("\n") + 1,
            ) from None
        *complete, pending = pending.split("\n")
        for text in complete:
            lineno += 1
            if lineno == 1 and strip_bom:
                text = text.removeprefix("\ufeff")
            yield lineno, text.removesuffix("\r")
        if not raw:
            break
    if pending:  # last line without a final newline
        lineno += 1
        if lineno == 1 and strip_bom:
            pending = pending.removeprefix("\ufeff")
        yield lineno, pending.removesuffix("\r")


def _iter_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """Byte lines of the stream, then one b"" so the decoder can flush."""
    # Not `yield from stream`: that would pass our close() on to the stream, closing the caller's file.
    for raw in stream:
        yield raw
    yield b""


def _text_lines(stream: IO[str], name: str) -> Iterator[tuple[int, str]]:
    lineno = 0
    try:
        for text in stream:
            lineno += 1
            yield lineno, text.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        # The stream decodes in chunks, so the line is approximate: the first line not yet read.
        raise InputError(
            f"not valid {exc.encoding} text ({exc.reason}); "
            "try --encoding latin-1 or the file's real encoding",
            name,
            lineno + 1,
        ) from None
