"""What every command shares: the stderr console, choice enums, and the one place that turns an
:class:`~seqtag.errors.InputError` into ``seqtag: error: …`` and exit code 2."""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from seqtag.formats.registry import FORMATS
from seqtag.config import CHOICES
from seqtag.errors import InputError
from seqtag.evaluation.metrics import MODES

err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


_errors_shown = True  # False in torchrun's ranks other than 0 (see silence_errors)


def silence_errors() -> None:
    """In a distributed training rank other than 0: every rank meets the same bad input, rank 0 says so."""
    global _errors_shown
    _errors_shown = False


def fail(message: str) -> NoReturn:
    if _errors_shown:
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
    html = "html"
    # annotation tools (seqtag.formats.annotation_writers.WRITERS)
    label_studio = "label-studio"
    doccano = "doccano"
    brat = "brat"
    spacy = "spacy"


def _choices(name: str, values: Iterable[str]) -> Any:
    """A str Enum whose members are ``values`` (names = values), for Typer's choice options."""
    return Enum(name, {value: value for value in values}, type=str)


# One source of truth: the choices config.check_value validates (and the TOML file may use).
Task = _choices("Task", CHOICES["task"])
Cell = _choices("Cell", CHOICES["cell"])
Encoder = _choices("Encoder", CHOICES["encoder"])
Activation = _choices("Activation", CHOICES["activation"])
# `diagnose gradients` on fresh networks: irnn = the rnn cell with ReLU and identity init (Le et al., 2015).
DiagnoseCell = _choices("DiagnoseCell", ("rnn", "irnn", "gru", "lstm"))
CharEncoder = _choices("CharEncoder", CHOICES["char_encoder"])
Head = _choices("Head", CHOICES["head"])
Pooling = _choices("Pooling", CHOICES["pooling"])
Optimizer = _choices("Optimizer", CHOICES["optimizer"])
Scheme = _choices("Scheme", CHOICES["scheme"])
UposField = _choices("UposField", CHOICES["conllu_field"])
DataFormat = _choices("DataFormat", CHOICES["input_format"])  # labelled data for train / evaluate
# Prediction (and corpus) input: detected, text lines, or any labelled format with its labels ignored.
InputFormat = _choices("InputFormat", ("auto", *FORMATS))
Mode = _choices("Mode", MODES)
_SETTING_TYPES = {"task": Task, "cell": Cell, "encoder": Encoder, "activation": Activation, "char_encoder": CharEncoder,
                  "head": Head, "pooling": Pooling, "optimizer": Optimizer, "scheme": Scheme, "conllu_field": UposField,
                  "input_format": DataFormat}
Amp = _choices("Amp", ("none", "bf16", "fp16"))


def choice_type(setting: str) -> Any:
    """The option type (a str Enum) of a choice setting, made from its declaration in seqtag.config."""
    if setting not in _SETTING_TYPES:
        _SETTING_TYPES[setting] = _choices("".join(part.title() for part in setting.split("_")), CHOICES[setting])
    return _SETTING_TYPES[setting]


def stdout_console() -> Console:
    """The console for results on stdout: no colour codes or wrapping surprises in pipes, and a closed
    pipe (`seqtag evaluate … | head`) ends quietly like predict does."""

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits with status 1 here; `seqtag evaluate … | head` should end like predict does (quietly, 0).
            try:
                super().on_broken_pipe()
            except SystemExit:
                raise BrokenPipeError from None

    return StdoutConsole(highlight=False, soft_wrap=True)
