"""Frozen configuration dataclasses, one per concern, and their TOML loading.

A TOML config file holds flat keys named after the command-line options (``hidden = 256`` or
``char-encoder = "lstm"``), optionally grouped under ``[data]``, ``[model]`` and ``[train]`` tables.
Precedence: dataclass defaults < config file < command-line options.
"""
from __future__ import annotations

import codecs
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from seqtag.errors import InputError


@dataclass(frozen=True)
class DataConfig:
    input_format: str = "auto"  # tagging: conll | conllu; classification: tsv | csv | label-tab | ...
    token_column: int = 0  # column holding the token (0-based; negative counts from the end)
    tag_column: int = -1  # column holding the gold tag
    conllu_field: str = "upos"  # upos | xpos, for CoNLL-U input
    scheme: str = "auto"  # tag scheme of the files: auto | iob1 | iob2 | bioes | plain
    encoding: str = "utf-8"  # text encoding of every input file
    label_column: str = ""  # classification TSV/CSV: label column name or index ("" = auto)
    text_columns: str = ""  # classification TSV/CSV: comma-separated text columns, joined ("" = auto)
    tokenized: bool = False  # classification text is already tokenized (split on whitespace)
    max_tokens: int = 0  # truncate classification texts to this many tokens (0 = keep all)


@dataclass(frozen=True)
class ModelConfig:
    task: str = "tag"  # tag (one label per token) | classify (one label per text); "auto" only on input
    train_scheme: str = "bioes"  # scheme the tagger learns in; predictions go back to the file's scheme
    word_dim: int = 100  # word embedding size when no pretrained vectors are given
    fine_tune: bool = True  # update the word embeddings during training
    keep_vectors: int = 400_000  # most frequent pretrained rows kept in the model besides the training words (0 = none)
    char_encoder: str = "cnn"  # none | cnn | lstm
    char_dim: int = 30  # character embedding size
    char_hidden: int = 50  # CNN filters, or LSTM units per direction
    char_kernel: int = 3  # CNN window in characters
    encoder: str = "rnn"  # rnn (stacked recurrent layers) | window (feed-forward layers over the ±window words)
    window: int = 2  # window encoder: words taken on each side of a token
    cell: str = "lstm"  # rnn | gru | lstm
    activation: str = "tanh"  # tanh | relu: the rnn cell's nonlinearity, or the window encoder's hidden layers'
    identity_init: bool = False  # rnn cell: recurrent weights start as the identity, biases at 0 (IRNN)
    layers: int = 1  # stacked recurrent layers (window encoder: hidden layers)
    hidden: int = 200  # recurrent units per direction (window encoder: units per hidden layer)
    bidirectional: bool = True  # read the sentence both ways
    dropout: float = 0.5  # on embeddings, between layers and before the head
    head: str = "crf"  # softmax | crf (taggers)
    pooling: str = "max"  # last | mean | max | attention (classifiers)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50  # maximum number of passes over the training data
    patience: int = 5  # stop after this many epochs without a better dev score
    batch_size: int = 32  # sentences per batch
    batch_tokens: int = 0  # also cap a batch at this many padded tokens (0 = no cap; for long documents)
    lr: float = 1e-3  # learning rate
    optimizer: str = "adam"  # adam | sgd (with momentum 0.9)
    lr_decay: float = 0.5  # multiply the learning rate by this when dev stalls for 2 epochs (1 = never)
    clip: float = 5.0  # gradient-norm clipping threshold (0 = off)
    seed: int = 1  # seeds Python, NumPy and torch
    threads: int = 0  # torch intra-op threads (0 = torch's default; 1 with ``deterministic``)
    deterministic: bool = False  # deterministic torch kernels, so equal seeds give bit-identical weights
    checkpoint_every: int = 0  # with a checkpoint directory: also save every N training steps (0 = epoch ends)


CONFIG_CLASSES = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
CHOICES = {  # the allowed values of every choice setting (the CLI builds its option types from these)
    "input_format": ("auto", "conll", "conllu", "tsv", "csv", "label-tab", "label-space", "fasttext", "jsonl"),
    "conllu_field": ("upos", "xpos"),
    "scheme": ("auto", "iob1", "iob2", "bioes", "plain"),
    "task": ("auto", "tag", "classify"),
    "train_scheme": ("bioes", "iob2"),
    "char_encoder": ("none", "cnn", "lstm"),
    "encoder": ("rnn", "window"),
    "cell": ("rnn", "gru", "lstm"),
    "activation": ("tanh", "relu"),
    "head": ("softmax", "crf"),
    "pooling": ("last", "mean", "max", "attention"),
    "optimizer": ("adam", "sgd"),
}
_POSITIVE = {
    "word_dim", "char_dim", "char_hidden", "char_kernel", "layers", "hidden", "epochs", "batch_size", "patience",
}


def _owner(key: str) -> str | None:
    for section, cls in CONFIG_CLASSES.items():
        if key in {f.name for f in fields(cls)}:
            return section
    return None


def check_value(key: str, value: Any, where: str) -> Any:
    """Validate one setting; ``where`` names the option or file for the error message."""
    section = _owner(key)
    if section is None:
        raise InputError(f"unknown setting {key!r}", where)
    field = next(f for f in fields(CONFIG_CLASSES[section]) if f.name == key)
    kind = type(field.default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{key!r} must be {kind.__name__}, got {value!r}", where)
    if key in CHOICES and value not in CHOICES[key]:
        raise InputError(f"{key!r} must be one of {', '.join(CHOICES[key])}; got {value!r}", where)
    if kind is int and key != "seed" and not -(2**31) <= value < 2**31:
        # Torch takes sizes as C integers: a larger value would end in an overflow deep inside it.
        raise InputError(f"{key!r} is out of range: {value!r}", where)
    if key == "encoding":
        try:
            codecs.lookup(value)
        except LookupError:
            raise InputError(f"unknown encoding {value!r}", where) from None
    if key == "checkpoint_every" and value < 0:
        raise InputError(f"'checkpoint_every' must be 0 (epoch ends only) or positive, got {value!r}", where)
    if key == "keep_vectors" and value < 0:
        raise InputError(f"'keep_vectors' must be 0 (none) or positive, got {value!r}", where)
    if key in ("max_tokens", "batch_tokens", "threads", "clip") and not value >= 0:
        raise InputError(f"{key!r} must be 0 (no limit) or positive, got {value!r}", where)
    if key == "window" and value < 0:
        raise InputError(f"'window' must be 0 (the token alone) or positive, got {value!r}", where)
    if key == "seed" and not 0 <= value < 2**32:
        raise InputError(f"'seed' must be in [0, 2**32), got {value!r}", where)  # NumPy's seed range
    if key in _POSITIVE and value <= 0:
        raise InputError(f"{key!r} must be positive, got {value!r}", where)
    if key == "dropout" and not 0 <= value < 1:
        raise InputError(f"'dropout' must be in [0, 1), got {value!r}", where)
    if key in ("lr", "lr_decay") and not 0 < value < float("inf"):
        raise InputError(f"{key!r} must be positive and finite, got {value!r}", where)
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
    if model.encoder == "window" and model.task == "classify" and model.pooling == "last":
        raise InputError("--pooling last needs --encoder rnn; a window encoder pools with mean, max or attention")


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
