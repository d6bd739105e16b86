"""Guess whether a training file is for tagging (token per line) or classification (text per line)."""
from __future__ import annotations

import gzip
import zlib
from collections import Counter
from itertools import islice
from pathlib import Path

TAG_SUFFIXES = {".conll", ".conllu", ".bio", ".iob", ".iob2", ".bioes"}
CLASSIFY_SUFFIXES = {".tsv", ".csv", ".jsonl", ".ndjson"}


def detect_task(path: Path, sample_lines: int = 200) -> str:
    """``tag`` or ``classify`` from the file name, else from the first lines' shape.

    Column files have a few fields per line, the same number on every line, and blank lines between
    sentences; classification files have one whole text per line.
    """
    suffix = path.suffix.lower()
    if suffix in TAG_SUFFIXES:
        return "tag"
    if suffix in CLASSIFY_SUFFIXES:
        return "classify"
    opener = gzip.open if suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            lines = [line.rstrip("\n") for line in islice(handle, sample_lines)]
    except (OSError, EOFError, zlib.error):  # unreadable, or a truncated / corrupted .gz
        return "tag"  # the reader will report the problem with the file
    rows = [line for line in lines if line.strip() and not line.startswith("-DOCSTART-")]
    if not rows:
        return "tag"
    if rows[0].lstrip().startswith(("__label__", "{")):
        return "classify"
    # The commonest width, so one malformed line (the reader will name it) does not flip the guess.
    widths = Counter(len(line.split("\t") if "\t" in line else line.split()) for line in rows)
    width, count = widths.most_common(1)[0]
    has_breaks = any(not line.strip() for line in lines)
    if width <= 12 and count >= 0.9 * len(rows) and (has_breaks or len(rows) < 3):
        return "tag"
    return "classify"
