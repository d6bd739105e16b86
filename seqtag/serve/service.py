"""Served models and prediction requests: parsing and checking them, and answering with the records that
`seqtag predict --format jsonl` writes.

A request's texts go through the model's own prediction input and writer (the task protocol's
``prediction_input``, ``prediction_job`` and ``write_predictions``), exactly as `seqtag predict` runs them,
so the server knows nothing about tasks and its records are the CLI's, byte for byte: ``texts`` are read
as the lines of a raw-text file, ``tokens`` as the lines of a ``--tokenized`` file, and a record's ``line``
is the 1-based number of its text in the request. A text is one document: its line breaks (``\\n``,
``\\r``) count as spaces, as if it were one line of a file, and character offsets index the text as sent.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.serve.limits import Limits

PREDICT_FIELDS = ("model", "texts", "tokens", "confidence", "nbest", "top_k", "min_confidence")
_BREAKS = str.maketrans({"\n": " ", "\r": " "})


class ApiError(Exception):
    """A request the server refuses: the HTTP status and one line saying what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Served:
    """One model the server holds: loaded once, with the `seqtag info` description of its file."""

    name: str
    path: Path
    model: Any
    info: dict[str, Any]
    version: str  # name@<first 12 hex digits of the file's SHA-256>: Label Studio's model_version
    # Batching counters for /healthz and the benchmark: passes run, token lists predicted, the largest pass,
    # in this process; ``shared`` holds the same three for every worker process together (see share_counters).
    passes: int = field(default=0, repr=False)
    predicted: int = field(default=0, repr=False)
    largest_pass: int = field(default=0, repr=False)
    shared: Any = field(default=None, repr=False)

    def share_counters(self) -> None:
        """Keep server-wide counters in shared memory, before the worker processes are forked: each worker
        adds its passes to them, and a worker that replaces a dead one goes on from the dead one's."""
        import multiprocessing

        self.shared = multiprocessing.get_context("fork").Array("q", 3)  # passes, predicted, largest pass

    def counters(self) -> dict[str, int]:
        """passes, predicted and largest_pass over the whole server (every worker; this process alone when
        counters are not shared)."""
        if self.shared is None:
            return {"passes": self.passes, "predicted": self.predicted, "largest_pass": self.largest_pass}
        with self.shared.get_lock():
            passes, predicted, largest = self.shared[:]
        return {"passes": passes, "predicted": predicted, "largest_pass": largest}

    @property
    def task(self) -> str:
        return self.model.task

    def describe(self, default: bool) -> dict[str, Any]:
        """The /v1/models entry: name, task, whether requests without ``model`` get it, and `seqtag info`."""
        return {"name": self.name, "task": self.task, "default": default, "version": self.version, "info": self.info}

    def run_pass(self, method: str, options: Sequence[tuple[str, Any]], token_lists: list[Sequence[str]],
                 batch_size: int) -> list[Any]:
        """One forward pass (in the batching thread): the predictions of ``method`` for ``token_lists``."""
        predictions = getattr(self.model, method)(token_lists, batch_size=batch_size, **dict(options))
        self.passes += 1
        self.predicted += len(token_lists)
        self.largest_pass = max(self.largest_pass, len(token_lists))
        if self.shared is not None:
            with self.shared.get_lock():
                self.shared[0] += 1
                self.shared[1] += len(token_lists)
                self.shared[2] = max(self.shared[2], len(token_lists))
        return predictions


def model_specs(arguments: Sequence[str]) -> list[tuple[str, Path]]:
    """``MODEL`` or ``NAME=MODEL`` arguments as ``(name, path)``; the name defaults to the file's stem."""
    specs: list[tuple[str, Path]] = []
    for argument in arguments:
        name, sep, path = argument.partition("=")
        if not sep or not name or "/" in name or Path(argument).exists():
            name, path = Path(argument).stem, argument
        if not path:
            raise InputError(f"expected MODEL or NAME=MODEL, got {argument!r}")
        if not Path(path).is_file():
            raise InputError("no such model file" if not Path(path).exists() else "is not a file", path)
        if name in {n for n, _ in specs}:
            raise InputError(f"two models are called {name!r}; name them: NAME=MODEL (e.g. {name}2={path})", path)
        specs.append((name, Path(path)))
    if not specs:
        raise InputError("give at least one model file")
    return specs


def load_served(specs: Sequence[tuple[str, Path]], device: Any = None) -> list[Served]:
    """Load each model file once (an InputError for a file that is not a seqtag model)."""
    from seqtag.archive import load_archive
    from seqtag.tasks import task_class
    from seqtag.tools.info import describe

    served = []
    for name, path in specs:
        body = load_archive(path)
        info = describe(body, path)
        model = task_class(body["task"], path).from_archive(body, path)
        if device is not None:
            model.to(device)
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        served.append(Served(name, path, model, info, f"{name}@{digest.hexdigest()[:12]}"))
        del body
    return served


# ---------------------------------------------------------------------------- requests


@dataclass
class Query:
    """A checked prediction request."""

    texts: list[str] | None  # raw texts, or None when ``tokens`` were sent
    tokens: list[list[str]] | None
    confidence: bool = False
    nbest: int = 0
    top_k: int | None = None
    min_confidence: float | None = None  # multi-label classifiers: the labels' threshold; taggers: spans above it

    @property
    def count(self) -> int:
        return len(self.texts if self.texts is not None else self.tokens or [])

    @property
    def chars(self) -> int:
        if self.texts is not None:
            return sum(map(len, self.texts))
        return sum(len(token) + 1 for tokens in self.tokens or [] for token in tokens)


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; a 400 ApiError that says where it is malformed."""
    if not body.strip():
        raise ApiError(400, 'the request body is empty; send a JSON object such as {"texts": ["John lives in Berlin."]}')
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, f"malformed JSON: {error}") from None


def _kind(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _unicode(text: str, where: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ApiError(422, f"{where} holds an unpaired surrogate (\\u{ord(text[error.start]):04x}) at "
                                f"character {error.start}: not a Unicode text") from None


def check_object(data: Any, fields: Sequence[str], example: str) -> dict:
    """``data`` as a JSON object with only ``fields`` (a 422 ApiError otherwise)."""
    if not isinstance(data, dict):
        raise ApiError(422, f"the body must be a JSON object such as {example}, got {_kind(data)}")
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise ApiError(422, f"unknown field {unknown[0]!r}; the fields are {', '.join(fields)}")
    return data


def check_text(text: Any, where: str, limits: Limits) -> str:
    """One text of a request: a non-empty string of at most ``max_chars`` characters."""
    if not isinstance(text, str):
        raise ApiError(422, f"{where}: expected a string, got {_kind(text)}")
    if len(text) > limits.max_chars:
        raise ApiError(413, f"{where} has {len(text):,} characters; this server takes at most "
                            f"{limits.max_chars:,} per text (--max-chars)")
    if not text.strip():
        raise ApiError(422, f"{where} is empty: there is nothing to predict")
    _unicode(text, where)
    return text


def check_count(items: Any, where: str, limits: Limits, noun: str) -> list:
    """A non-empty JSON array of at most ``max_texts`` entries."""
    if not isinstance(items, list):
        raise ApiError(422, f"{where}: expected an array of {noun}s, got {_kind(items)}")
    if not items:
        raise ApiError(422, f"{where} is empty: give at least one {noun}")
    if len(items) > limits.max_texts:
        raise ApiError(413, f"{where} holds {len(items):,} {noun}s; this server takes at most {limits.max_texts:,} "
                            "per request (--max-texts)")
    return items


def parse_query(data: Any, limits: Limits) -> tuple[str | None, Query]:
    """``(model name or None, query)`` of a /v1/predict body; a 4xx ApiError saying what is wrong."""
    data = check_object(data, PREDICT_FIELDS, '{"texts": ["John lives in Berlin."]}')
    name = data.get("model")
    if name is not None and not isinstance(name, str):
        raise ApiError(422, f"model: expected a model name (a string), got {_kind(name)}")
    texts, tokens = data.get("texts"), data.get("tokens")
    if (texts is None) == (tokens is None):
        raise ApiError(422, "give either texts (an array of strings) or tokens (an array of token arrays)"
                            + (", not both" if texts is not None else ""))
    if texts is not None:
        texts = [check_text(text, f"texts[{i}]", limits) for i, text in enumerate(check_count(texts, "texts", limits, "text"))]
    else:
        tokens = [_check_tokens(row, f"tokens[{i}]", limits)
                  for i, row in enumerate(check_count(tokens, "tokens", limits, "token array"))]
    confidence = data.get("confidence", False)
    if not isinstance(confidence, bool):
        raise ApiError(422, f"confidence: expected true or false, got {_kind(confidence)}")
    nbest = _count_option(data.get("nbest"), "nbest", limits.max_nbest, "--max-nbest")
    top_k = _count_option(data.get("top_k"), "top_k", None, None)
    min_confidence = data.get("min_confidence")
    if min_confidence is not None and (isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float))):
        raise ApiError(422, f"min_confidence: expected a probability (a number in (0, 1]), got {_kind(min_confidence)}")
    return name, Query(texts, tokens, confidence, nbest or 0, top_k,
                       None if min_confidence is None else float(min_confidence))


def _check_tokens(row: Any, where: str, limits: Limits) -> list[str]:
    if not isinstance(row, list):
        raise ApiError(422, f"{where}: expected an array of tokens (strings), got {_kind(row)}")
    if not row:
        raise ApiError(422, f"{where} is empty: give at least one token")
    if not all(isinstance(token, str) for token in row):
        j, token = next((j, token) for j, token in enumerate(row) if not isinstance(token, str))
        raise ApiError(422, f"{where}[{j}]: expected a token (a string), got {_kind(token)}")
    line = " ".join(row)
    if len(line) > limits.max_chars:
        raise ApiError(413, f"{where} has {len(line):,} characters (tokens joined by spaces); this server takes at "
                            f"most {limits.max_chars:,} per text (--max-chars)")
    if line.split() != row:  # an empty token, or one holding whitespace: find it
        for j, token in enumerate(row):
            if not token or token != "".join(token.split()):
                raise ApiError(422, f"{where}[{j}] is {'empty' if not token else 'not one token: it holds whitespace'}; "
                                    "send tokens without spaces, or send the text as texts")
    if not line.isascii():
        for j, token in enumerate(row):
            _unicode(token, f"{where}[{j}]")
    return row


def _count_option(value: Any, name: str, most: int | None, option: str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, f"{name}: expected a whole number, got {_kind(value)}")
    if value < 1:
        raise ApiError(422, f"{name}: expected at least 1, got {value}")
    if most is not None and value > most:
        raise ApiError(422, f"{name}: this server gives at most {most} ({option}), got {value}")
    return value


def find_model(served: dict[str, Served], name: str | None) -> Served:
    """The model called ``name`` (the first one served when None); a 404 ApiError naming those there are."""
    if name is None:
        return next(iter(served.values()))
    if name not in served:
        raise ApiError(404, f"no model called {name!r}; this server has {', '.join(map(repr, served))}")
    return served[name]


# ---------------------------------------------------------------------------- answering


@dataclass
class Job:
    """A query made ready for the batcher: the model's input items, the prediction method and options."""

    items: list[Any]
    key: tuple[str, str, tuple[tuple[str, Any], ...]]  # the model's name, the method, its options
    query: Query
    fixes: dict[int, str]  # 1-based line -> the text as sent, where line breaks were read as spaces


def prepare(served: Served, query: Query) -> Job:
    """Read the query's texts as `seqtag predict` reads the lines of a file (CPU work: syntok for raw text)."""
    from seqtag.formats.registry import FORMATS

    model = served.model
    try:
        model.check_prediction_options("jsonl", query.top_k, query.min_confidence)
    except InputError as error:
        raise ApiError(422, _api_words(error)) from None
    fixes: dict[int, str] = {}
    if query.texts is not None:
        lines = []
        for number, text in enumerate(query.texts, 1):
            flat = text.translate(_BREAKS)
            if flat != text:
                fixes[number] = text
            lines.append(flat)
        fmt = FORMATS["raw"]
    else:
        lines = [" ".join(tokens) for tokens in query.tokens or []]
        fmt = FORMATS["tokenized"]
    # The line reader drops a byte-order mark at the start: this one, so that a text's own stays.
    source = io.BytesIO(codecs.BOM_UTF8 + ("\n".join(lines) + "\n").encode("utf-8"))
    items = list(model.prediction_input(source, fmt))
    method, options = model.prediction_job(query.confidence, query.nbest, query.min_confidence)
    return Job(items, (served.name, method, tuple(sorted(options.items()))), query, fixes)


def _api_words(error: InputError) -> str:
    """An InputError about a CLI option, in the API's words (``--top-k: …`` -> ``top_k: …``)."""
    if error.path and error.path.startswith("--"):
        message = error.message.replace("--format jsonl", "JSON output")
        return f"{error.path[2:].replace('-', '_')}: {message}"
    return str(error)


def records(served: Served, job: Job, predictions: list[Any]) -> list[str]:
    """The JSONL records of the predictions, as `seqtag predict --format jsonl` writes them (one JSON text
    each); spans of texts whose line breaks were read as spaces get their text as sent."""
    out = io.StringIO()
    query = job.query
    served.model.write_predictions(zip(job.items, predictions), out, "jsonl", top_k=query.top_k,
                                   confidence=query.confidence, nbest=query.nbest,
                                   min_confidence=query.min_confidence)
    lines = out.getvalue().split("\n")[:-1]  # "\n" only ends records: JSON escapes it inside strings
    if job.fixes:
        lines = [_fix(line, job.fixes) for line in lines]
    return lines


def _fix(line: str, fixes: dict[int, str]) -> str:
    record = json.loads(line)
    text = fixes.get(record.get("line"))
    if text is None:
        return line
    for found in [record.get("spans") or [], *[alt.get("spans") or [] for alt in record.get("nbest") or []]]:
        for span in found:
            if "start" in span and "end" in span:
                span["text"] = text[span["start"] : span["end"]]
    return json.dumps(record, ensure_ascii=False)


def response_body(served: Served, lines: list[str]) -> bytes:
    """The /v1/predict answer: ``{"model", "task", "records": [...]}``, the records as written."""
    head = json.dumps({"model": served.name, "task": served.task}, ensure_ascii=False)[:-1]
    return (head + ', "records": [' + ", ".join(lines) + "]}").encode("utf-8")
