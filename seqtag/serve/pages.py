"""Static HTML: the page at ``/`` of `seqtag serve`, and self-contained pages for looking at results without a
server: ``seqtag predict --format html`` (:class:`PredictionPage`) and ``seqtag evaluate --html FILE``
(:func:`evaluation_page`). Entities are highlighted inline with a colour per type, the probability on
hover; classes show as probability bars. Every page is one file with its CSS and a few lines of plain
JavaScript inline: no CDN, nothing fetched.
"""
from __future__ import annotations

import functools
import html
import json
from collections import deque
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any, TextIO

# One colour per entity type, by the type's place in the sorted list of types (static/index.html has the same).
PALETTE = ["#8ecae6", "#ffb703", "#90be6d", "#f4a3b4", "#c3a6ff", "#f9844a", "#76d7c4", "#e9c46a",
           "#a3b18a", "#ff8fab", "#9bb1ff", "#d4a373"]


@functools.lru_cache(maxsize=1)
def index_page() -> str:
    """The page at ``/`` (seqtag/serve/static/index.html)."""
    return resources.files("seqtag.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def entity_types(labels: Iterable[str]) -> list[str]:
    """The sorted entity types of tags (``B-PER``, ``I-PER`` … -> ``PER``; plain tags are their own type)."""
    found = set()
    for label in labels:
        if label == "O":
            continue
        found.add(label[2:] if len(label) > 2 and label[1] == "-" and label[0] in "BIESLU" else label)
    return sorted(found)


def colours(types: Iterable[str]) -> dict[str, str]:
    return {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(sorted(set(types)))}


STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
.meta { color: #666; margin-bottom: 1em; }
mark.ent { background: var(--c); border-radius: .3em; padding: .05em .25em; margin: 0 .05em; position: relative;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
mark.ent[data-tip]:hover::after { content: attr(data-tip); position: absolute; left: 0; bottom: 100%; z-index: 1;
  background: #222; color: #fff; font-size: .75em; line-height: 1.4; padding: .15em .5em; border-radius: .3em;
  white-space: nowrap; }
mark.ent .lbl { font-size: .7em; font-weight: 600; margin-left: .3em; vertical-align: .1em; opacity: .75; }
mark.fp { outline: 2px solid #d00; } mark.fn { outline: 2px dashed #d00; }
.sent { padding: .35em .5em; border-bottom: 1px solid #eee; }
.ln { color: #999; font-size: .8em; margin-right: .6em; font-variant-numeric: tabular-nums; }
.tok { display: inline-block; text-align: center; margin: 0 .2em .3em 0; }
.tok .t { display: block; font-size: .7em; color: #555; } .tok.bad .t { color: #d00; font-weight: 700; }
table { border-collapse: collapse; margin: .4em 0; } td, th { padding: .2em .7em; text-align: right; }
td:first-child, th:first-child { text-align: left; } th { border-bottom: 1px solid #ccc; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: .2em 1em; }
.pair > div { padding: .3em .5em; } .side { color: #888; font-size: .75em; display: block; }
.err { background: #fff5f5; border-left: 3px solid #d00; } .ok { border-left: 3px solid transparent; }
.bars .row { display: grid; grid-template-columns: 9em 1fr 4.5em; gap: .6em; align-items: center; }
.bar { background: #eee; height: .9em; border-radius: .2em; } .fill { background: #4c8bf5; height: 100%; border-radius: .2em; }
.wrong { color: #d00; font-weight: 600; } .legend mark { margin-right: .4em; }
body.errors-only .ok { display: none; }
"""

_FILTER = """<label><input type="checkbox" id="only-errors"> show only the {what} with errors ({count:,} of {total:,})</label>
<script>document.getElementById("only-errors").addEventListener("change", e =>
  document.body.classList.toggle("errors-only", e.target.checked));</script>"""


def _head(title: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n")


def _mark(text: str, kind: str, colour: str, probability: float | None = None, extra: str = "") -> str:
    data = ""
    if probability is not None:  # the probability on hover (a CSS tooltip)
        data = f' data-probability="{probability:.6f}" data-tip="{html.escape(kind)} {100 * probability:.1f}%"'
    return (f'<mark class="ent{extra}" style="--c:{colour}" data-label="{html.escape(kind)}"{data}>'
            f'{html.escape(text)}<span class="lbl">{html.escape(kind)}</span></mark>')


def _legend(palette: dict[str, str]) -> str:
    if not palette:
        return ""
    return '<p class="legend">' + "".join(
        f'<mark class="ent" style="--c:{colour}">{html.escape(kind)}</mark>' for kind, colour in palette.items()) + "</p>\n"


def highlighted(text: str, found: list[tuple[int, int, str, float | None, str]], palette: dict[str, str]) -> str:
    """``text`` as HTML with ``(start, end, type, probability, extra class)`` character spans marked."""
    parts, at = [], 0
    for start, end, kind, probability, extra in sorted(found, key=lambda span: (span[0], -span[1])):
        if start < at:  # overlapping spans (candidates) are listed, not nested
            continue
        parts.append(html.escape(text[at:start]))
        parts.append(_mark(text[start:end], kind, palette.get(kind, PALETTE[0]), probability, extra))
        at = end
    parts.append(html.escape(text[at:]))
    return "".join(parts)


def _token_text(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    offsets, at = [], 0
    for token in tokens:
        offsets.append((at, at + len(token)))
        at += len(token) + 1
    return " ".join(tokens), offsets


def _tokens_with_tags(tokens: list[str], tags: list[str], bad: set[int] = frozenset()) -> str:
    return " ".join(
        f'<span class="tok{" bad" if i in bad else ""}"><span class="w">{html.escape(token)}</span>'
        f'<span class="t">{html.escape(tag)}</span></span>'
        for i, (token, tag) in enumerate(zip(tokens, tags))
    )


# ---------------------------------------------------------------------------- predict --format html


class PredictionPage:
    """A text stream for ``write_predictions``: it takes the JSONL records `seqtag predict` writes and
    writes an HTML page to ``out`` as they come. :meth:`items` wraps the ``(item, prediction)`` pairs
    given to the writer, so each record is shown with its own text (records carry tokens, not text)."""

    def __init__(self, out: TextIO, title: str, labels: list[str]) -> None:
        self.out = out
        self.palette = colours(entity_types(labels))
        self.plain = not any(len(label) > 2 and label[1] == "-" and label[0] in "BIESLU" for label in labels)
        self.pending: deque[Any] = deque()
        self.buffer = ""
        self.count = 0
        out.write(_head(title) + f"<h1>{html.escape(title)}</h1>\n" + ("" if self.plain else _legend(self.palette)))

    def items(self, results: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        for item, prediction in results:
            self.pending.append(item)
            yield item, prediction

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self.out.write(self.render(json.loads(line), self.pending.popleft() if self.pending else None))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.write(f'<p class="meta">{self.count:,} record(s)</p>\n</body></html>\n')
        self.out.flush()

    def render(self, record: dict, item: Any) -> str:
        self.count += 1
        line = record.get("line", getattr(item, "line", ""))
        head = f'<div class="sent" data-line="{line}"><span class="ln">{line}</span>'
        tokens = record.get("tokens", getattr(item, "tokens", []))
        if "label" in record:  # a classified text: the text, then its classes as bars
            text = getattr(item, "text", None) or " ".join(tokens)
            return head + html.escape(text) + bars(record["label"], record.get("probabilities", {})) + "</div>\n"
        if not record:  # an empty text of a classifier
            return head + "</div>\n"
        tags = record.get("tags", [])
        # Plain tags (POS): each token over its tag. An entity tagger's non-O tags always make spans.
        if "spans" not in record or self.plain or (not record["spans"] and any(tag != "O" for tag in tags)):
            return head + _tokens_with_tags(tokens, record.get("tags", [])) + "</div>\n"
        offsets = getattr(item, "offsets", None)
        source = getattr(item, "text", None)
        if offsets and source is not None and len(offsets) == len(tokens):
            base, stop = offsets[0][0], offsets[-1][1]
            text = source[base:stop]
        else:
            text, offsets = _token_text(tokens)
            base = 0
        found = []
        for span in record["spans"]:
            first, last = offsets[span["token_start"]][0] - base, offsets[span["token_end"] - 1][1] - base
            found.append((first, last, span["type"], span.get("confidence"), ""))
        return head + highlighted(text, found, self.palette) + "</div>\n"


def bars(label: str, probabilities: dict[str, float]) -> str:
    rows = "".join(
        f'<div class="row" data-label="{html.escape(name)}"><span>{html.escape(name)}</span>'
        f'<div class="bar"><div class="fill" style="width:{100 * p:.1f}%"></div></div><span>{100 * p:.1f}%</span></div>'
        for name, p in probabilities.items()
    )
    return f'<div class="bars" data-label="{html.escape(label)}">{rows}</div>'


# ---------------------------------------------------------------------------- evaluate --html


def evaluation_page(outcome: Any, report: dict, title: str) -> str:
    """Gold beside predicted for every sentence (or text) of an evaluation, errors marked, scores on top."""
    parts = [_head(title), f"<h1>{html.escape(title)}</h1>\n", _scores(report)]
    if hasattr(outcome, "tokens"):
        parts += _tagging_rows(outcome)
    else:
        parts += _classification_rows(outcome)
    parts.append("</body></html>\n")
    return "".join(parts)


def _scores(report: dict) -> str:
    per = report.get("per_type") or report.get("per_class") or {}
    rows = []
    for name, row in [*per.items(), ("micro avg", report.get("micro")), ("macro avg", report.get("macro"))]:
        if not isinstance(row, dict):
            continue
        rows.append(f"<tr><td>{html.escape(str(name))}</td>" + "".join(
            f"<td>{100 * row[key]:.2f}</td>" if isinstance(row.get(key), float) else f"<td>{row.get(key, '')}</td>"
            for key in ("precision", "recall", "f1", "support")) + "</tr>")
    table = ("<table><tr><th></th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>"
             + "".join(rows) + "</table>") if rows else ""
    accuracy = report.get("accuracy")
    line = f'<p class="meta">accuracy {100 * accuracy:.2f}</p>' if isinstance(accuracy, float) else ""
    return table + line + "\n"


def _tagging_rows(outcome: Any) -> list[str]:
    from seqtag.data.schemes import spans

    scheme = outcome.scheme
    plain = scheme == "plain"
    palette = colours(entity_types(tag for tags in [*outcome.gold, *outcome.pred] for tag in tags))
    rows, wrong = [], 0
    for tokens, gold, pred, line in zip(outcome.tokens, outcome.gold, outcome.pred, outcome.lines):
        text, offsets = _token_text(tokens)
        if plain:
            bad = {i for i, (g, p) in enumerate(zip(gold, pred)) if g != p}
            left, right = _tokens_with_tags(tokens, gold), _tokens_with_tags(tokens, pred, bad)
        else:
            gold_spans, pred_spans = set(spans(gold, scheme)), set(spans(pred, scheme))
            bad = gold_spans ^ pred_spans

            def marks(found: set, missing: str) -> list:
                return [(offsets[s][0], offsets[e - 1][1], kind, None, missing if (kind, s, e) in bad else "")
                        for kind, s, e in found]

            left = highlighted(text, marks(gold_spans, " fn"), palette)
            right = highlighted(text, marks(pred_spans, " fp"), palette)
        wrong += bool(bad)
        rows.append(
            f'<div class="pair {"err" if bad else "ok"}" data-line="{line}"><div><span class="side">gold · line {line}'
            f'</span>{left}</div><div><span class="side">predicted{" · errors" if bad else ""}</span>{right}</div></div>\n'
        )
    what = "sentences"
    note = ("" if plain else '<p class="meta">red outline: a predicted entity that is not in gold; dashed: '
            "a gold entity that was not predicted exactly.</p>")
    return [_legend(palette), note, _FILTER.format(what=what, count=wrong, total=len(rows)), "\n", *rows]


def _classification_rows(outcome: Any) -> list[str]:
    rows, wrong = [], 0
    for tokens, gold, pred, line in zip(outcome.texts, outcome.gold, outcome.pred, outcome.lines):
        bad = gold != pred
        wrong += bad
        rows.append(
            f'<tr class="{"err" if bad else "ok"}" data-line="{line}"><td>{line}</td><td>{html.escape(" ".join(tokens))}</td>'
            f'<td>{html.escape(gold)}</td><td class="{"wrong" if bad else ""}">{html.escape(pred)}</td></tr>\n'
        )
    table = ["<table><tr><th>line</th><th>text</th><th>gold</th><th>predicted</th></tr>\n", *rows, "</table>\n"]
    return [_FILTER.format(what="texts", count=wrong, total=len(rows)), "\n", *table]
