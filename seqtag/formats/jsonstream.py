"""JSON records one at a time, with the line each starts on: JSON lines, and the items of one big JSON
array (a Label Studio export) decoded as they are read, so neither is ever held whole in memory.

The array reader uses the standard library's decoder on a moving window of the text: an item is decoded
once the window holds all of it (the window grows while it does not), and the text before it is dropped.
Errors are :class:`InputError` naming the file and line.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from seqtag.errors import InputError

WINDOW = 1 << 16  # characters read ahead at least, and dropped once decoded past
_decoder = json.JSONDecoder()


def json_type(value: object) -> str:
    """What a JSON value is, for messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def json_lines(name: str, lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` per non-blank line of JSON lines."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        line = line.rstrip("\r\n")
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg} (column {err.pos + 1})", name, lineno) from None
        except RecursionError:
            raise InputError("invalid JSON: nested too deeply", name, lineno) from None


def json_array(name: str, lines: Iterator[str]) -> Iterator[tuple[int, Any]]:
    """``(line number, item)`` per item of the JSON array that is the whole of ``lines``."""
    window = _Window(name, lines)
    window.skip_space()
    if window.at_end():
        raise InputError("empty file: expected a JSON array", name)
    if window.char() != "[":
        raise InputError(f"expected a JSON array ([ … ]), found {window.char()!r}", name, window.line())
    window.pos += 1
    window.skip_space()
    if window.char() == "]":
        window.pos += 1
        window.expect_end()
        return
    while True:
        line = window.line()
        yield line, window.decode()
        window.skip_space()
        ch = window.char()
        if ch == ",":
            window.pos += 1
            window.skip_space()
            continue
        if ch == "]":
            window.pos += 1
            window.expect_end()
            return
        found = "the end of the file" if ch == "" else repr(ch)
        raise InputError(f"invalid JSON: expected ',' or ']' after an item, found {found}", name, window.line())


class _Window:
    def __init__(self, name: str, lines: Iterator[str]) -> None:
        self.name = name
        self.lines = lines
        self.text = ""
        self.pos = 0
        self.eof = False
        self.counted_to = 0  # self.text[:counted_to] has been counted into counted_line
        self.counted_line = 1

    def more(self) -> bool:
        """Read at least WINDOW more characters (or as many as the text holds); False at its end."""
        if self.eof:
            return False
        if self.pos > WINDOW:  # drop what has been decoded, keeping the line count
            self.line()
            self.text = self.text[self.pos:]
            self.counted_to -= self.pos
            self.pos = 0
        pieces, size = [], 0
        for line in self.lines:
            pieces.append(line)
            size += len(line)
            if size >= max(WINDOW, len(self.text)):
                break
        else:
            self.eof = True
        self.text += "".join(pieces)
        return bool(pieces)

    def char(self) -> str:
        while self.pos >= len(self.text):
            if not self.more():
                return ""
        return self.text[self.pos]

    def at_end(self) -> bool:
        return self.char() == ""

    def skip_space(self) -> None:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.text) or not self.more():
                return

    def line(self, pos: int | None = None) -> int:
        pos = self.pos if pos is None else pos
        if pos >= self.counted_to:
            self.counted_line += self.text.count("\n", self.counted_to, pos)
            self.counted_to = pos
            return self.counted_line
        return self.counted_line - self.text.count("\n", pos, self.counted_to)

    def decode(self) -> Any:
        while True:
            try:
                value, end = _decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as err:
                if self.more():
                    continue
                raise InputError(f"invalid JSON: {err.msg}", self.name, self.line(min(err.pos, len(self.text)))) from None
            except RecursionError:
                raise InputError("invalid JSON: nested too deeply", self.name, self.line()) from None
            if end == len(self.text) and not self.eof and isinstance(value, (int, float)):
                self.more()  # a number may go on in the next piece
                continue
            self.pos = end
            return value

    def expect_end(self) -> None:
        self.skip_space()
        if not self.at_end():
            raise InputError("invalid JSON: text after the end of the array", self.name, self.line())
