"""Character spans -> token tags, through the one tokenizer (:mod:`seqtag.data.tokenize`), so a model
trained on annotation-tool exports sees the very tokens `seqtag predict` makes of the same raw text.

A document's text is split into sentences of tokens (syntok; or, for pre-tokenized text, one sentence
per line and tokens split on whitespace). Each span ``(start, end, label)`` must start where a token
starts and end where a token ends; whitespace at its edges is trimmed first (it covers no token). A span
that cuts a token is *misaligned*: an error by default that lists the first ones (file:line, the span's
text and the nearest token boundaries) and counts them all, or, with ``misaligned="expand"`` /
``"drop"``, widened to the tokens it touches / left out, with the same listing on stderr. Spans that
share a token *overlap*: an error naming both, or with ``overlaps="longest"`` the longer one is kept
(stderr says how many were not). A sentence break that falls inside a span is ignored: the sentences it
joins become one unit, so no entity is ever cut in two.

Tags come out in IOB2 (``B-X`` starts every entity).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from seqtag.errors import InputError

MISALIGNED = ("error", "expand", "drop")
OVERLAPS = ("error", "longest")
SHOWN = 3  # problems listed in an error or warning line

Offsets = list[tuple[int, int]]


def warn(message: str) -> None:
    """A note for the user on stderr (results go to stdout), in the CLI's style."""
    sys.stderr.write(f"seqtag: warning: {message}\n")
    sys.stderr.flush()


def clip(text: str, limit: int = 40) -> str:
    """``text`` for a message: one line, at most ``limit`` characters, quoted."""
    one = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return repr(one if len(one) <= limit else one[: limit - 1] + "…")


@dataclass(slots=True)
class CharSpan:
    """An annotated span: characters ``[start, end)`` of the text, its label and where it was read (for
    messages: ``path`` and ``line``). ``fragments`` are a discontinuous span's pieces (brat)."""

    start: int
    end: int
    label: str
    path: str
    line: int | None
    fragments: tuple[tuple[int, int], ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


def tokenize_text(text: str, tokenized: bool = False) -> list[Offsets]:
    """The sentences of ``text`` as token offsets: syntok's, as for raw text everywhere in seqtag, or with
    ``tokenized`` one sentence per line of whitespace-separated tokens. Empty sentences are left out."""
    if not tokenized:
        from seqtag.data.tokenize import sentence_spans  # syntok, imported on use

        return [sentence for sentence in sentence_spans(text) if sentence]
    sentences: list[Offsets] = []
    at = 0
    for line in text.split("\n"):
        offsets, pos = [], 0
        for token in line.split():
            start = line.find(token, pos)
            pos = start + len(token)
            offsets.append((at + start, at + pos))
        if offsets:
            sentences.append(offsets)
        at += len(line) + 1
    return sentences


@dataclass
class _Problems:
    """The spans one kind of problem was found in, counted; the first few kept for the message."""

    count: int = 0
    shown: list[str] = field(default_factory=list)
    first: CharSpan | None = None

    def add(self, span: CharSpan, detail: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = span
        if len(self.shown) < SHOWN:
            self.shown.append(f"{span.where}: {detail}")

    def listing(self) -> str:
        more = self.count - len(self.shown)
        return "; ".join(self.shown) + (f"; and {more} more" if more > 0 else "")


class Aligner:
    """Turns the spans of one file's documents into token tags, counting what does not fit; call
    :meth:`finish` after the last document (it raises the misaligned-span error, or warns)."""

    def __init__(self, name: str, misaligned: str = "error", overlaps: str = "error", tokenized: bool = False) -> None:
        if misaligned not in MISALIGNED:
            raise InputError(f"must be one of {', '.join(MISALIGNED)}; got {misaligned!r}", "--misaligned")
        if overlaps not in OVERLAPS:
            raise InputError(f"must be one of {', '.join(OVERLAPS)}; got {overlaps!r}", "--overlaps")
        self.name = name
        self.misaligned = misaligned
        self.overlaps = overlaps
        self.tokenized = tokenized
        self.misfits = _Problems()
        self.overlapping = _Problems()

    @property
    def failed(self) -> bool:
        """A misaligned span was met and misaligned spans are errors: the rest is only counted."""
        return self.misaligned == "error" and self.misfits.count > 0

    def units(self, text: str, spans: list[CharSpan] | None) -> list[tuple[Offsets, list[str] | None]]:
        """The units (sentences, joined where a span crosses a break) of ``text`` as ``(token offsets, IOB2
        tags)``; tags are None when ``spans`` is None (unlabelled reading)."""
        sentences = tokenize_text(text, self.tokenized)
        if spans is None:
            return [(sentence, None) for sentence in sentences]
        tokens = [token for sentence in sentences for token in sentence]
        sentence_of = [n for n, sentence in enumerate(sentences) for _ in sentence]
        ranges = self._token_ranges(text, tokens, spans)
        ranges = self._without_overlaps(text, ranges)
        joined = [False] * len(sentences)  # joined[n]: sentence n continues sentence n - 1
        tags = ["O"] * len(tokens)
        for first, last, span in ranges:
            for n in range(sentence_of[first] + 1, sentence_of[last - 1] + 1):
                joined[n] = True
            tags[first] = "B-" + span.label
            for i in range(first + 1, last):
                tags[i] = "I-" + span.label
        units: list[tuple[Offsets, list[str] | None]] = []
        at = 0
        for n, sentence in enumerate(sentences):
            unit_tags = tags[at : at + len(sentence)]
            at += len(sentence)
            if joined[n] and units:
                offsets, previous = units[-1]
                units[-1] = (offsets + sentence, (previous or []) + unit_tags)
            else:
                units.append((list(sentence), unit_tags))
        return units

    def _token_ranges(self, text: str, tokens: Offsets, spans: list[CharSpan]) -> list[tuple[int, int, CharSpan]]:
        """``(first token, last token + 1, span)`` per span that is kept, misaligned ones noted."""
        starts = {start: i for i, (start, _) in enumerate(tokens)}
        ends = {end: i for i, (_, end) in enumerate(tokens)}
        found: list[tuple[int, int, CharSpan]] = []
        seen: set[tuple[int, int, str]] = set()
        for span in spans:
            start, end = span.start, span.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if span.fragments and any(text[a:b].strip() for a, b in _gaps(span.fragments)):
                problem = "a discontinuous span"
            elif start in starts and end in ends and starts[start] <= ends[end]:
                key = (starts[start], ends[end] + 1, span.label)
                if key not in seen:  # the very same entity twice: once is enough
                    seen.add(key)
                    found.append((key[0], key[1], span))
                continue
            else:
                problem = ""
            # The tokens the span touches (none: it lies in whitespace between tokens).
            touched = [i for i, (a, b) in enumerate(tokens) if a < end and b > start]
            label = f"({span.label}, characters {span.start}-{span.end})"
            if not touched:
                self.misfits.add(span, f"{clip(text[span.start:span.end])} {label} covers no token")
                continue  # nothing to widen it to: dropped whatever --misaligned says (and reported)
            first, last = touched[0], touched[-1] + 1
            wide = (tokens[first][0], tokens[last - 1][1])
            what = problem or "does not fall on token boundaries"
            self.misfits.add(span, f"{clip(text[span.start:span.end])} {label} {what}; the nearest token "
                                   f"boundaries are {wide[0]}-{wide[1]} {clip(text[wide[0]:wide[1]])}")
            if self.misaligned == "expand":
                key = (first, last, span.label)
                if key not in seen:
                    seen.add(key)
                    found.append((first, last, span))
        return found

    def _without_overlaps(self, text: str, ranges: list[tuple[int, int, CharSpan]]) -> list[tuple[int, int, CharSpan]]:
        """The ranges, none sharing a token: an error at the first overlap, or the longest kept."""
        if self.overlaps == "error":
            ordered = sorted(ranges, key=lambda r: (r[0], -r[1]))
            for (a, b, one), (c, d, other) in zip(ordered, ordered[1:]):
                if c < b:
                    raise InputError(
                        f"spans overlap: {_describe(text, one)} and {_describe(text, other)}"
                        + (f" (at {other.where})" if other.where != one.where else "")
                        + "; a token takes one tag: --overlaps longest keeps the longer one",
                        one.path, one.line,
                    )
            return ordered
        taken = [False] * (max((b for _, b, _ in ranges), default=0))
        kept = []
        for first, last, span in sorted(ranges, key=lambda r: (-(r[1] - r[0]), r[0])):
            if any(taken[first:last]):
                winner = next(s for a, b, s in kept if a < last and b > first)
                self.overlapping.add(span, f"{_describe(text, span)} overlaps the longer {_describe(text, winner)}")
                continue
            taken[first:last] = [True] * (last - first)
            kept.append((first, last, span))
        return sorted(kept, key=lambda r: r[0])

    def finish(self) -> None:
        """After the last document: the misaligned-span error, or the warnings of expand / drop / longest."""
        misfits = self.misfits
        if misfits.count and self.misaligned == "error":
            assert misfits.first is not None
            spans = "span does" if misfits.count == 1 else "spans do"
            raise InputError(
                f"{misfits.count} {spans} not fit the tokens: {misfits.listing()}; --misaligned expand widens "
                "them to the tokens they touch, --misaligned drop leaves them out",
                self.name,
            )
        if misfits.count:
            done = "widened to the tokens they touch" if self.misaligned == "expand" else "left out"
            spans = "span did" if misfits.count == 1 else "spans did"
            warn(f"{self.name}: {misfits.count} {spans} not fit the tokens and {'was' if misfits.count == 1 else 'were'} "
                 f"{done} (--misaligned {self.misaligned}; spans that cover no token are always left out): "
                 f"{misfits.listing()}")
        if self.overlapping.count:
            warn(f"{self.name}: {self.overlapping.count} overlapping span{'s' * (self.overlapping.count != 1)} left "
                 f"out (--overlaps longest): {self.overlapping.listing()}")


def _gaps(fragments: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    ordered = sorted(fragments)
    return [(a[1], b[0]) for a, b in zip(ordered, ordered[1:])]


def _describe(text: str, span: CharSpan) -> str:
    return f"{clip(text[span.start:span.end])} ({span.label}, characters {span.start}-{span.end})"


def joined_tokens(tokens: list[str]) -> tuple[str, Offsets]:
    """A text for a token list (tokens joined by spaces) and each token's offsets in it."""
    offsets, at = [], 0
    for token in tokens:
        offsets.append((at, at + len(token)))
        at += len(token) + 1
    return " ".join(tokens), offsets
