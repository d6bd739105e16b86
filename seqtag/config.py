"""Frozen configuration dataclasses, one per concern, and their TOML loading.

Every setting is declared once, as a field of :class:`DataConfig`, :class:`ModelConfig` or
:class:`TrainConfig` made by :func:`setting`: its default, help text, allowed values (choices or bounds),
help panel and special flag spellings live in the field's metadata. From that one declaration come the
``seqtag train`` options (``--hidden``, ``--fine-tune/--freeze``; seqtag.cli.train), their validation
(:func:`check_value`), the TOML keys (:func:`read_toml`) and the settings that ``seqtag info`` shows.

A TOML config file holds flat keys named after the command-line options (``hidden = 256`` or
``char-encoder = "lstm"``), optionally grouped under ``[data]``, ``[model]`` and ``[train]`` tables.
Precedence: dataclass defaults < config file < command-line options.
"""
from __future__ import annotations

import codecs
import dataclasses
import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.formats.registry import LABELLED
from seqtag.tasks import TASKS


@dataclass(frozen=True)
class Setting:
    """What a setting's declaration says besides its default (the field metadata made by :func:`setting`)."""

    help: str  # one or two sentences for --help and `seqtag info`, without the default
    panel: str | None  # the `seqtag train --help` panel; None = the main "Options" panel
    choices: tuple[str, ...] = ()  # the allowed values of a str setting (empty: any string)
    min: float | None = None  # lowest allowed value
    gt: float | None = None  # values must be greater than this
    lt: float | None = None  # values must be lower than this
    finite: bool = False  # refuse inf (NaN fails every bound anyway)
    zero: str | None = None  # what 0 means, for the error message of a negative value ("0 (off) or positive")
    flags: tuple[str, str] | None = None  # a bool's on / off options; default --NAME / --no-NAME
    shown: str | None = None  # the "(default: …)" text of --help, where the default value alone says too little
    check: Callable[[Any], str | None] | None = None  # further validation: an error message, or None if fine


def setting(
    default: Any,
    help: str,
    *,
    panel: str | None,
    choices: tuple[str, ...] = (),
    min: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    finite: bool = False,
    zero: str | None = None,
    flags: tuple[str, str] | None = None,
    shown: str | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A config field declaring one setting (see :class:`Setting` for the arguments)."""
    declared = Setting(help, panel, tuple(choices), min, gt, lt, finite, zero, flags, shown, check)
    return field(default=default, metadata={"setting": declared})


def _known_encoding(value: str) -> str | None:
    try:
        codecs.lookup(value)
    except LookupError:
        return f"unknown encoding {value!r}"
    return None


MODEL, TRAINING, DATA = "Model", "Training", "Data"  # help panels of `seqtag train`
FORMATS = ("auto", *LABELLED)  # of labelled data, from the format registry


@dataclass(frozen=True)
class DataConfig:
    input_format: str = setting(
        "auto", "Format of --train/--dev.", panel=DATA, choices=FORMATS,
        shown="auto: conllu for .conllu files, else conll; classification formats are detected",
    )
    token_column: int = setting(0, "Token column, 0-based.", panel=DATA)
    tag_column: int = setting(-1, "Tag column, 0-based, negative from the end.", panel=DATA)
    conllu_field: str = setting("upos", "Tag field of CoNLL-U files.", panel=DATA, choices=("upos", "xpos"))
    scheme: str = setting(
        "auto", "Tag scheme of the files.", panel=DATA, choices=("auto", "iob1", "iob2", "bioes", "plain"),
    )
    encoding: str = setting("utf-8", "Text encoding of the data files.", panel=DATA, check=_known_encoding)
    label_column: str = setting(
        "", "Classification TSV/CSV/JSONL: label column name or index.", panel=DATA, shown="'label' or the first",
    )
    text_columns: str = setting(
        "", "Classification TSV/CSV/JSONL: comma-separated text columns, joined.", panel=DATA,
        shown="'text'/'sentence' or the rest",
    )
    tokenized: bool = setting(
        False, "Classification text is already tokenized (split on spaces); span formats: also one sentence per "
        "line.", panel=DATA,
        flags=("--tokenized", "--untokenized"), shown="untokenized: syntok",
    )
    max_tokens: int = setting(
        0, "Truncate classification texts to this many tokens, 0 = keep all.", panel=DATA, min=0, zero="keep all",
    )
    misaligned: str = setting(
        "error", "Span formats (Doccano, Label Studio, brat, spaCy): a span whose ends cut a token is an error "
        "listing them; expand widens it to the tokens it touches, drop leaves it out (both listed on stderr).",
        panel=DATA, choices=("error", "expand", "drop"),
    )
    overlaps: str = setting(
        "error", "Span formats: spans sharing a token are an error naming both; longest keeps the longer one.",
        panel=DATA, choices=("error", "longest"),
    )
    annotation: str = setting(
        "first", "Label Studio: the annotation of a task to read: the first or last one not cancelled, or the "
        "first prediction (pre-annotations).", panel=DATA, choices=("first", "last", "prediction"),
    )


@dataclass(frozen=True)
class ModelConfig:
    task: str = setting(
        "tag", "tag (CoNLL columns), classify (one text per line) or multilabel (texts with lists of labels); auto "
        "guesses from the file.", panel=None,
        choices=("auto", *TASKS), shown="auto",  # "auto" only on input: the CLI resolves it
    )
    encoder: str = setting(
        "rnn", "rnn: stacked recurrent layers; window: feed-forward layers over the ±--window words around "
        "each token.", panel=MODEL, choices=("rnn", "window"),
    )
    window: int = setting(2, "Window encoder: words on each side of a token.", panel=MODEL, min=0, zero="the token alone")
    cell: str = setting("lstm", "Recurrent cell.", panel=MODEL, choices=("rnn", "gru", "lstm"))
    activation: str = setting(
        "tanh", "Nonlinearity of the rnn cell or of the window encoder's hidden layers.", panel=MODEL,
        choices=("tanh", "relu"),
    )
    identity_init: bool = setting(
        False, "rnn cell: start the recurrent weights as the identity and biases at 0 (IRNN, with "
        "--activation relu).", panel=MODEL,
    )
    layers: int = setting(1, "Stacked recurrent layers (window encoder: hidden layers).", panel=MODEL, min=1)
    hidden: int = setting(
        200, "Recurrent units per direction (window encoder: units per hidden layer).", panel=MODEL, min=1,
    )
    bidirectional: bool = setting(True, "Read sentences both ways.", panel=MODEL)
    document_context: int = setting(
        0, "Taggers: when the files mark documents (-DOCSTART- lines, CoNLL-U # newdoc, a line of raw text), the "
        "encoder also reads this many tokens of the neighbouring sentences on each side of a sentence; 0 = the "
        "sentence alone. Training data without documents trains (and saves) a sentence-only model.",
        panel=MODEL, min=0, zero="the sentence alone",
    )
    char_encoder: str = setting("cnn", "Character encoder.", panel=MODEL, choices=("none", "cnn", "lstm"))
    char_dim: int = setting(30, "Character embedding size.", panel=MODEL, min=1)
    char_hidden: int = setting(50, "Character CNN filters, or LSTM units per direction.", panel=MODEL, min=1)
    char_kernel: int = setting(3, "Character CNN window, in characters.", panel=MODEL, min=1)
    char_dropout: float = setting(
        0.0, "Dropout on the character embeddings, before the character encoder (Ma & Hovy 2016).", panel=MODEL,
        min=0, lt=1,
    )
    head: str = setting("crf", "Tagger output layer.", panel=MODEL, choices=("softmax", "crf"))
    train_scheme: str = setting(
        "bioes", "Tag scheme the tagger learns in; predictions go back to the files' scheme.", panel=MODEL,
        choices=("bioes", "iob2"),
    )
    class_weights: str = setting(
        "none", "Classifiers and the softmax tagger head: auto weighs each class's loss by inverse frequency, "
        "n / (classes × its count), so that every class weighs as much in total (multi-label: each label's "
        "positives by negatives / positives); none weighs every example alike.", panel=TRAINING,
        choices=("none", "auto"),
    )
    pooling: str = setting(
        "max", "Classifier pooling over time steps (mean-max: both, concatenated).", panel=MODEL,
        choices=("last", "mean", "max", "mean-max", "attention"),
    )
    dropout: float = setting(0.5, "Dropout on embeddings, between layers and before the output.", panel=MODEL, min=0, lt=1)
    word_dropout: float = setting(
        0.0, "While training, the share of tokens whose word vector is replaced by the unknown word's (the characters "
        "stay), so that the unknown-word vector is trained and the model learns to read words it has no vector for.",
        panel=MODEL, min=0, lt=1,
    )
    casing_dim: int = setting(
        0, "Size of a learned vector for each token's casing class (lower, UPPER, Initial, numeric, has digit, …) "
        "beside its word vector, which lower-cased vectors such as GloVe lack; 0 = none.", panel=MODEL, min=0,
        zero="none",
    )
    unknown_vector: str = setting(
        "random", "What the unknown word's vector starts as (the vector of a word that has none of its own at "
        "prediction time): random, like a new word's, or zero (no word information; the characters still speak).",
        panel=MODEL, choices=("random", "zero"),
    )
    locked_dropout: bool = setting(
        False, "Locked (variational) dropout: one mask per sentence (Gal & Ghahramani 2016), so the same units "
        "are dropped all along it, on the recurrent layers' inputs and outputs.", panel=MODEL,
    )
    fine_tune: bool = setting(
        True, "Update the word vectors while training.", panel=MODEL, flags=("--fine-tune", "--freeze"),
    )
    word_dim: int = setting(100, "Word vector size without --embeddings.", panel=MODEL, min=1)
    keep_vectors: int = setting(
        400_000, "Most frequent pretrained rows kept beside the training words, 0 = none.", panel=MODEL,
        min=0, zero="none",
    )


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(50, "Maximum epochs.", panel=TRAINING, min=1)
    patience: int = setting(5, "Stop after this many epochs without dev improvement.", panel=TRAINING, min=1)
    batch_size: int = setting(32, "Sentences (or texts) per batch.", panel=TRAINING, min=1)
    batch_tokens: int = setting(
        0, "Also cap batches at this many padded tokens, 0 = no cap (long documents).", panel=TRAINING,
        min=0, zero="no cap",
    )
    lr: float = setting(1e-3, "Learning rate.", panel=TRAINING, gt=0, finite=True)
    optimizer: str = setting("adam", "Optimizer (sgd with momentum 0.9).", panel=TRAINING, choices=("adam", "sgd"))
    lr_decay: float = setting(
        0.5, "Multiply the learning rate by this when dev stalls for 2 epochs, 1 = never.", panel=TRAINING,
        gt=0, finite=True,
    )
    lr_time_decay: float = setting(
        0.0, "Also divide the learning rate of epoch t by 1 + this × (t − 1), the schedule of Ma & Hovy 2016 and "
        "NCRF++ (0.05, with sgd). 0 = off.", panel=TRAINING, min=0, finite=True, zero="off",
    )
    clip: float = setting(5.0, "Gradient-norm clipping, 0 = off.", panel=TRAINING, min=0, zero="off")
    ema: float = setting(
        0.0, "Decay of an exponential moving average of the weights after each step (e.g. 0.999): dev is scored, "
        "and the model saved, with the averaged weights. 0 = off.", panel=TRAINING, min=0, lt=1, zero="off",
    )
    seed: int = setting(1, "Random seed (Python, NumPy and torch).", panel=TRAINING, min=0, lt=2**32)  # NumPy's range
    threads: int = setting(
        0, "Torch threads, 0 = torch's default (1 with --deterministic).", panel=TRAINING, min=0,
        zero="torch's default",
    )
    deterministic: bool = setting(
        False, "Deterministic torch kernels and, unless --threads says otherwise, 1 thread: the same seed gives "
        "bit-identical weights.", panel=TRAINING,
    )
    checkpoint_every: int = setting(
        0, "With --checkpoint-dir: also checkpoint every N training steps, 0 = at epoch ends only.",
        panel=TRAINING, min=0, zero="epoch ends only",
    )


CONFIG_CLASSES = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class Declared:
    """One declared setting, as the CLI, the validator and `seqtag info` see it."""

    name: str  # the field name (``char_encoder``)
    section: str  # data | model | train
    kind: type  # bool | int | float | str
    default: Any
    about: Setting

    @property
    def option(self) -> str:
        """The command-line option (``--char-encoder``); a bool's "on" flag."""
        return self.flags[0]

    @property
    def key(self) -> str:
        """The TOML key, spelled like the option (``char-encoder``; ``char_encoder`` works too)."""
        return self.name.replace("_", "-")

    @property
    def flags(self) -> tuple[str, ...]:
        """``("--NAME",)``, or a bool's on and off flags (``("--fine-tune", "--freeze")``)."""
        if self.kind is bool:
            return self.about.flags or (f"--{self.key}", f"--no-{self.key}")
        return (f"--{self.key}",)

    def shown_default(self) -> str:
        """The default as --help shows it: its own text, a bool's flag in effect, or the value."""
        if self.about.shown is not None:
            return self.about.shown
        if self.kind is bool:
            return self.flags[0 if self.default else 1].lstrip("-")
        if self.kind is float:
            return f"{self.default:g}"
        return str(self.default)

    def describe(self) -> str:
        """Help text for --help: the declared help, the choices when it does not name them, the default."""
        text = self.about.help
        choices = self.about.choices
        words = set(text.replace(";", " ").replace(":", " ").replace(",", " ").split())
        if choices and not all(choice in words for choice in choices):
            text += f" One of: {', '.join(choices)}."
        return f"{text} (default: {self.shown_default()})"


def _declare() -> dict[str, Declared]:
    declared: dict[str, Declared] = {}
    for section, cls in CONFIG_CLASSES.items():
        for item in fields(cls):
            about = item.metadata.get("setting")
            if about is None:  # pragma: no cover - every field is declared with setting()
                raise TypeError(f"{cls.__name__}.{item.name} is not declared with setting()")
            kind = type(item.default)
            if kind not in (bool, int, float, str):  # pragma: no cover - a declaration mistake
                raise TypeError(f"{cls.__name__}.{item.name}: settings are bool, int, float or str")
            declared[item.name] = Declared(item.name, section, kind, item.default, about)
    return declared


SETTINGS: dict[str, Declared] = _declare()  # every setting, by field name, in declaration order
CHOICES = {name: s.about.choices for name, s in SETTINGS.items() if s.about.choices}  # derived: the CLI's choice types


def declared_settings(section: str | None = None) -> Iterator[Declared]:
    """The declared settings (of one section: data, model or train), in declaration order."""
    return (s for s in SETTINGS.values() if section is None or s.section == section)


def _number(value: float) -> str:
    if isinstance(value, int) and value >= 2**16 and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _allowed_range(about: Setting, kind: type) -> str:
    """The allowed values of a bounded setting, in words ("positive", "in [0, 1)", "0 (off) or positive")."""
    low, high = about.min, about.lt
    if high is not None:
        opening = f"[{_number(low)}" if low is not None else f"({_number(about.gt)}" if about.gt is not None else "(-inf"
        text = f"in {opening}, {_number(high)})"
    elif low == 0:
        text = f"0 ({about.zero}) or positive" if about.zero else "0 or positive"
    elif about.gt == 0 or (low == 1 and kind is int):
        text = "positive"
    elif low is not None:
        text = f"at least {_number(low)}"
    else:
        text = f"greater than {_number(about.gt)}"
    return text + (" and finite" if about.finite else "")


def _in_bounds(about: Setting, value: float) -> bool:
    # Written so that NaN fails every bound.
    return (
        (about.min is None or value >= about.min)
        and (about.gt is None or value > about.gt)
        and (about.lt is None or value < about.lt)
        and (not about.finite or math.isfinite(value))
    )


def unknown_setting(key: str, where: str) -> InputError:
    """The error for a name that is no setting, with the closest one when a close one exists."""
    name = key.replace("-", "_")
    message = f"unknown setting {key!r}"
    close = difflib.get_close_matches(name, list(SETTINGS), n=1)
    if close:
        # Spelled as the user spells: field names after an underscore, else like the options.
        suggestion = close[0] if "_" in key else SETTINGS[close[0]].key
        message += f"; did you mean {suggestion!r}?"
    return InputError(message, where)


def check_value(key: str, value: Any, where: str) -> Any:
    """Validate one setting against its declaration; ``where`` names the option or file for the error message."""
    declared = SETTINGS.get(key)
    if declared is None:
        raise unknown_setting(key, where)
    kind, about = declared.kind, declared.about
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{key!r} must be {kind.__name__}, got {value!r}", where)
    if about.choices and value not in about.choices:
        raise InputError(f"{key!r} must be one of {', '.join(about.choices)}; got {value!r}", where)
    if kind is int and about.lt is None and not -(2**31) <= value < 2**31:
        # Torch takes sizes as C integers: a larger value would end in an overflow deep inside it.
        raise InputError(f"{key!r} is out of range: {value!r}", where)
    if about.check is not None:
        problem = about.check(value)
        if problem:
            raise InputError(problem, where)
    bounded = about.min is not None or about.gt is not None or about.lt is not None or about.finite
    if bounded and not _in_bounds(about, value):
        raise InputError(f"{key!r} must be {_allowed_range(about, kind)}, got {value!r}", where)
    return value


def read_toml(path: Path) -> dict[str, Any]:
    """Flat ``{setting: value}`` from a TOML file; unknown keys and bad values are InputErrors."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except tomllib.TOMLDecodeError as err:
        # tomllib reports "(at line N, column M)"; keep it in the message.
        raise InputError(f"not valid TOML: {err}", path) from None
    except UnicodeDecodeError:
        raise InputError("not valid utf-8 text", path) from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in CONFIG_CLASSES and isinstance(value, dict):
            items = value.items()
        else:
            items = [(key, value)]
        for name, item in items:
            if isinstance(item, dict):  # [optim] or [model.extra]: no such section
                sections = ", ".join(f"[{section}]" for section in CONFIG_CLASSES)
                raise InputError(f"unknown setting {name!r} (a table); settings go at the top or under {sections}", path)
            if name.replace("-", "_") not in SETTINGS:
                raise unknown_setting(name, str(path))
            name = name.replace("-", "_")
            flat[name] = check_value(name, item, str(path))
    return flat


def check_architecture(model: ModelConfig) -> None:
    """Model settings that are valid alone but not together (named as the options that set them)."""
    recurrent_cell = model.encoder == "rnn" and model.cell == "rnn"
    if model.identity_init and not recurrent_cell:
        raise InputError("--identity-init needs --encoder rnn --cell rnn (the IRNN); gru, lstm and window layers keep their own initialisation")
    if model.activation != "tanh" and model.encoder == "rnn" and model.cell != "rnn":
        raise InputError(f"--activation {model.activation} needs --cell rnn: gru and lstm cells have fixed nonlinearities")
    from seqtag.tasks import TASKS, task_class

    if model.task in TASKS:  # not "auto": the data decides later
        task_class(model.task).check_settings(model)


def build_configs(settings: dict[str, Any]) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    """Split validated flat settings into the three configs (missing keys keep their defaults)."""
    built = []
    for cls in (DataConfig, ModelConfig, TrainConfig):
        names = {f.name for f in fields(cls)}
        built.append(cls(**{k: v for k, v in settings.items() if k in names}))
    check_architecture(built[1])
    return built[0], built[1], built[2]


def as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a config from a saved dict, ignoring keys a newer version may have added."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
