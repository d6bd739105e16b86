"""`predict --shard I/N`: one contiguous part of an input file, for splitting a corpus into independent jobs.

The file's L lines (counted in a cheap binary pass) are cut into N ranges of about L/N lines; part I holds
the units -- sentences of a column file, records of a CSV file, texts or lines of a line format -- whose
FIRST line lies in the I-th range. Every unit thus belongs to exactly one part, in input order, with the
line numbers it has in the whole file, so ``cat`` of the outputs of parts 0..N-1 is the output of the whole
file, byte for byte. A part with no unit (N above the number of sentences) writes nothing. (A part forms
its own chunks and so batches; the network's float results can depend on the batch in their last bits,
which could move a printed probability's 6th decimal. Tags, and on the 34,530-sentence CoNLL-2003 run
with --confidence the probabilities too, came out identical.)

Each part runs the normal reader from the start of the file and stops after its range: column files are
split on whitespace up to there (cheap), but raw text is only tokenized inside the range (syntok is the
expensive step), and classification texts likewise (see :func:`shard_examples`).
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from seqtag.errors import InputError

T = TypeVar("T")

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based
    count: int

    def lines(self, total: int) -> range:
        """The 1-based line numbers of this part among ``total`` lines. The first part also takes line 0 and
        the last one everything after ``total``, so the parts cover every line number whatever ``total`` is."""
        start = self.index * total // self.count + 1 if self.index else 0
        stop = (self.index + 1) * total // self.count + 1 if self.index < self.count - 1 else sys.maxsize
        return range(start, stop)


def parse_shard(value: str) -> Shard:
    """``"I/N"`` (0 <= I < N) as a :class:`Shard`; anything else is an InputError naming ``--shard``."""
    match = _SHARD.fullmatch(value)
    if match is None:
        raise InputError(f"--shard: expected I/N, part I of N counted from 0 (such as 0/4), got {value!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise InputError(f"--shard: N must be at least 1, got {value!r}")
    if index >= count:
        raise InputError(f"--shard: I must be between 0 and N-1 = {count - 1} (parts are counted from 0), got {value!r}")
    return Shard(index, count)


def check_source(source: str) -> None:
    """``--shard`` reads its input twice (to count lines, then to read its part): a regular file only."""
    if source == "-":
        raise InputError("--shard: needs an input file, not stdin (parts are found by counting the file's lines)")
    if os.path.exists(source) and not (os.path.isfile(source) or os.path.isdir(source)):
        # A pipe or process substitution would be used up by counting; missing files and directories are
        # left to the reader, which reports them as it always does.
        raise InputError(f"--shard: {source} is a pipe or device, not a regular file (parts are found by counting its lines)")


def count_lines(path: str | os.PathLike, block: int = 1 << 20) -> int:
    """Lines of a file as the readers count them: newline bytes, plus an unterminated last line.
    0 for a file that cannot be read (the reader reports why)."""
    lines = 0
    last = b"\n"
    try:
        with open(path, "rb") as stream:
            while data := stream.read(block):
                lines += data.count(b"\n")
                last = data[-1:]
    except OSError:
        return 0
    return lines + (last != b"\n")


def select(units: Iterable[T], lines: range, line_format: bool) -> Iterator[T]:
    """The units whose ``.line`` lies in ``lines``, stopping at the first one after it (units come in line
    order). For a ``line_format`` (one unit per line, :attr:`seqtag.formats.registry.Format.line_records`)
    an InputError located after the range is left to the part that holds it; in column files and CSV
    records, which span lines, it may still be in the part's last unit, and is reported."""
    iterator = iter(units)
    try:
        while True:
            try:
                unit = next(iterator)
            except StopIteration:
                return
            except InputError as err:
                if line_format and err.line is not None and err.line >= lines.stop:
                    return
                raise
            if unit.line >= lines.stop:
                return
            if unit.line >= lines.start:
                yield unit
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # the reader's file is closed now, not when the generator is collected


def shard_examples(read: Callable[..., Iterable[Any]], source: str, line_format: bool, tokenized: bool,
                   max_tokens: int, lines: range) -> Iterator[Any]:
    """Classification examples of one part. ``read`` is the model's reader (``Classifier.read`` with the
    format and encoding bound); it runs with whitespace tokenization and no truncation, which are cheap, and
    only the examples kept are then tokenized as the model's reader would have: ``tokens`` is always the
    reader's tokenizer applied to ``Example.text``, truncated to ``max_tokens``."""
    from seqtag.data.tokenize import tokenize as syntok_tokens

    tokenize = str.split if tokenized else syntok_tokens
    limit = max_tokens or None
    for example in select(read(source, tokenized=True, max_tokens=0), lines, line_format):
        example.tokens = tokenize(example.text)[:limit] if example.text else []
        yield example
