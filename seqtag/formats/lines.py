"""The one line reader every data format reads through: a path, ``-`` for standard input, or an open
stream; a UTF-8 byte order mark is dropped, and undecodable bytes are an error naming the file and line.

Files and stdin are read as bytes and decoded one line at a time, so a bad byte raises
``UnicodeDecodeError`` from ``next(lines)`` exactly while the offending line is fetched: readers that count
lines themselves turn it into :func:`decode_error`; :func:`checked_lines` and :func:`numbered_lines` do it
for the others. Lines keep their line ends (CSV needs them); readers strip ``\\n`` / ``\\r\\n`` as they split.
"""
from __future__ import annotations

import codecs
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain, repeat
from pathlib import Path
from typing import IO, TextIO, Union

from seqtag.errors import InputError

Source = Union[str, Path, IO]
"""A path, ``"-"`` for standard input, or an already-open text or binary stream."""


@contextmanager
def open_lines(source: Source, encoding: str = "utf-8") -> Iterator[tuple[str, Iterator[str]]]:
    """Open ``source`` and yield ``(name, lines)``; ``lines`` iterates over decoded lines.

    A text stream decodes ahead in blocks, so its errors cannot be placed on a line and are raised as an
    :class:`InputError` without one. Only streams opened here are closed.
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None

    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name == "-":
            stdin = getattr(sys.stdin, "buffer", None)  # a replaced sys.stdin may be text only
            yield "<stdin>", _decoded(stdin, codec) if stdin is not None else _text_lines(sys.stdin, "<stdin>")
            return
        try:
            stream = open(name, "rb")
        except FileNotFoundError:
            raise InputError("no such file", name) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a file", name) from None
        except OSError as err:
            raise InputError(f"cannot open: {err.strerror}", name) from None
        with stream:
            yield name, _decoded(stream, codec)
        return

    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else "<stream>"
    if isinstance(source, io.TextIOBase) or isinstance(getattr(source, "encoding", None), str):
        yield name, _text_lines(source, name)
    else:
        yield name, _decoded(source, codec)


def decode_error(name: str, line: int, encoding: str) -> InputError:
    """The error for undecodable bytes on ``line``."""
    return InputError(f"not valid {encoding} text; try --encoding latin-1", name, line)


def checked_lines(lines: Iterator[str], name: str, encoding: str) -> Iterator[str]:
    """``lines`` with a decode error turned into the InputError of the line it is on."""
    lineno = 0
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise decode_error(name, lineno + 1, encoding) from None
        lineno += 1
        yield line


def numbered_lines(source: Source, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(1-based line number, line without its line end)`` of ``source``, decode errors as InputErrors."""
    with open_lines(source, encoding) as (name, lines):
        for lineno, line in enumerate(checked_lines(lines, name, encoding), 1):
            yield lineno, line.rstrip("\n").removesuffix("\r")


def _decoded(binary: IO[bytes], codec: codecs.CodecInfo) -> Iterator[str]:
    if _line_by_line(codec):
        lines = iter(binary)
        first = next(lines, b"")
        # A UTF-8 byte order mark (Windows editors add one) would otherwise stick to the first token.
        if codec.name == "utf-8" and first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8):]
        head = (first,) if first else ()  # an empty file has no first line
        # map() with a C method keeps per-line decoding cheap; no Python frame per line.
        return map(bytes.decode, chain(head, lines), repeat(codec.name))
    return _incremental(binary, codec)


def _line_by_line(codec: codecs.CodecInfo) -> bool:
    """Whether a newline byte always ends a line in this encoding (UTF-8, Latin-1 …; not UTF-16 / UTF-32)."""
    try:
        return codecs.encode("a\n", codec.name) == b"a\n"
    except (UnicodeError, LookupError):
        return False


def _incremental(binary: IO[bytes], codec: codecs.CodecInfo) -> Iterator[str]:
    """Lines of an encoding whose newline is more than one byte: decoded in order, split after decoding."""
    decoder = codec.incrementaldecoder("strict")
    pending = ""
    for raw in chain(binary, [b""]):
        pending += decoder.decode(raw, final=not raw)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    if pending:
        yield pending


def _text_lines(stream: TextIO, name: str) -> Iterator[str]:
    try:
        yield from stream
    except UnicodeDecodeError as err:
        raise InputError(f"not valid {err.encoding} text ({err.reason})", name) from None
