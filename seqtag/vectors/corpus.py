"""Token streams for training and coverage: plain text, tokenized text, CoNLL / CoNLL-U and classification
files, read through seqtag's own readers, one sentence (or text) at a time."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqtag.formats.registry import FORMATS as REGISTERED

# What a corpus file can be: text lines (syntok or whitespace tokens), tagging column files, or labelled
# classification files whose labels are ignored. "auto" goes by the content (seqtag.formats.registry).
FORMATS = ("auto", *REGISTERED)


def read_tokens(
    path: str | Path, input_format: str = "auto", encoding: str = "utf-8", token_column: int = 0
) -> Iterator[list[str]]:
    """Stream the token lists (sentences or texts) of one file; empty ones are skipped.

    The format is detected as every command detects it; labels are ignored. Errors surface while iterating,
    as :class:`InputError`.
    """
    from seqtag.formats.registry import read_token_lists, resolve

    if input_format not in FORMATS:
        raise ValueError(f"expected input format in {FORMATS}, got {input_format!r}")
    fmt, source = resolve(path, input_format, labelled=False, encoding=encoding)
    return (tokens for tokens in read_token_lists(source, fmt, encoding, token_column) if tokens)


@dataclass
class Corpus:
    """A restartable iterable of token lists over several files, as gensim wants it (one pass per epoch).

    ``on_sentence(count)`` is called every ``report_every`` sentences and at the end of each pass with the
    number of sentences read so far in that pass; gensim iterates in its own thread, so it must be
    thread-safe. ``lowercase`` lowercases every token.
    """

    paths: Sequence[str | Path]
    input_format: str = "raw"
    encoding: str = "utf-8"
    token_column: int = 0
    lowercase: bool = False
    on_sentence: Callable[[int], None] | None = None
    report_every: int = 1000

    def __iter__(self) -> Iterator[list[str]]:
        count = 0
        for path in self.paths:
            for tokens in read_tokens(path, self.input_format, self.encoding, self.token_column):
                yield [t.lower() for t in tokens] if self.lowercase else tokens
                count += 1
                if self.on_sentence is not None and count % self.report_every == 0:
                    self.on_sentence(count)
        if self.on_sentence is not None:
            self.on_sentence(count)
