"""The one user-facing error type.

Readers, loaders and option parsers raise :class:`InputError` for anything a user can fix (a malformed
line, a missing file, a bad option value). The CLI turns it into ``seqtag: error: path:line: message`` on
stderr and exit code 2. Programming errors are never wrapped: they surface as tracebacks.
"""
from __future__ import annotations


class InputError(Exception):
    """A problem with user input, located by file and line (or by option name)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return where + self.message
