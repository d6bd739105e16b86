"""The unit every reader yields and every writer consumes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Sentence:
    """One sentence: tokens, optional gold tags, and where it came from.

    ``offsets`` and ``text`` are set only for raw-text input: ``offsets[i]`` is the ``(start, end)``
    character span of ``tokens[i]`` inside ``text`` (the whole input document or line).
    ``columns`` keeps the original column rows of a column file so writers can echo them.
    """

    tokens: list[str]
    tags: list[str] | None = None
    line: int = 0  # 1-based line of the first token in its source (0 when unknown)
    offsets: list[tuple[int, int]] | None = None
    text: str | None = None
    columns: list[list[str]] | None = None
    # which document of its file the sentence belongs to, when the file marks documents (-DOCSTART-, # newdoc,
    # a line of raw text); None otherwise. Taggers with document context read the neighbours in it.
    document: int | None = None
    context: tuple[list[str], list[str]] | None = None  # set by seqtag.data.context.with_context

    def __len__(self) -> int:
        return len(self.tokens)
