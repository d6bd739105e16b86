"""What every command shares: the stderr console, choice enums, and the one place that turns an
:class:`~seqtag.errors.InputError` into ``seqtag: error: …`` and exit code 2."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from seqtag.errors import InputError

err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    err.print(f"seqtag: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def reports_input_errors(func: F) -> F:
    """Decorate a command: user errors become one stderr line and exit 2; a closed stdout pipe is quiet."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as error:
            fail(str(error))
        except BrokenPipeError:
            # `seqtag predict … | head` closed our stdout: not an error worth a traceback.
            sys.stderr.close()
            raise typer.Exit(0) from None

    return wrapper  # type: ignore[return-value]


def is_tty() -> bool:
    return sys.stderr.isatty()


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class TagOutput(str, Enum):
    conll = "conll"
    jsonl = "jsonl"


class InputFormat(str, Enum):
    """Prediction input: raw/tokenized text lines, tagging column files, or labelled classification files."""

    raw = "raw"
    tokenized = "tokenized"
    conll = "conll"
    conllu = "conllu"
    tsv = "tsv"
    csv = "csv"
    label_tab = "label-tab"
    label_space = "label-space"
    fasttext = "fasttext"
    jsonl = "jsonl"


class DataFormat(str, Enum):
    """Labelled data: column files for tagging, text formats for classification."""

    auto = "auto"
    conll = "conll"
    conllu = "conllu"
    tsv = "tsv"
    csv = "csv"
    label_tab = "label-tab"
    label_space = "label-space"
    fasttext = "fasttext"
    jsonl = "jsonl"


class Task(str, Enum):
    auto = "auto"
    tag = "tag"
    classify = "classify"


class Pooling(str, Enum):
    last = "last"
    mean = "mean"
    max = "max"
    attention = "attention"


class Scheme(str, Enum):
    auto = "auto"
    iob1 = "iob1"
    iob2 = "iob2"
    bioes = "bioes"
    plain = "plain"


class Mode(str, Enum):
    default = "default"
    strict = "strict"


class Cell(str, Enum):
    rnn = "rnn"
    gru = "gru"
    lstm = "lstm"


class CharEncoder(str, Enum):
    none = "none"
    cnn = "cnn"
    lstm = "lstm"


class Head(str, Enum):
    softmax = "softmax"
    crf = "crf"


class Optimizer(str, Enum):
    adam = "adam"
    sgd = "sgd"


class UposField(str, Enum):
    upos = "upos"
    xpos = "xpos"
