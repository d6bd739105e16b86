"""Every setting is declared once (a field of DataConfig / ModelConfig / TrainConfig made by config.setting):
the `seqtag train` options, their help, the validation, the TOML keys and `seqtag info` all come from it."""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import typing

import pytest
import typer
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.config import (
    CHOICES, CONFIG_CLASSES, SETTINGS, Setting, check_value, declared_settings, read_toml,
)
from seqtag.errors import InputError

runner = CliRunner()

# The options `seqtag train` had before its settings were generated: none may disappear or change spelling.
OLD_OPTIONS = """
--train --output -o --dev --embeddings --config --task --encoder --window --cell --activation --identity-init
--no-identity-init --layers --hidden --bidirectional --no-bidirectional --char-encoder --head --pooling --dropout
--fine-tune --freeze --word-dim --keep-vectors --epochs --patience --batch-size --batch-tokens --lr --optimizer --clip
--seed --seeds --threads --deterministic --no-deterministic --checkpoint-dir --checkpoint-every --resume
--input-format --token-column --tag-column --conllu-field --scheme --encoding --label-column --text-columns
--tokenized --untokenized --max-tokens --embedding-cache --no-embedding-cache --device --amp --nproc
""".split()
NOT_SETTINGS = {"train_file", "output", "force", "dev_file", "embeddings", "config", "seeds", "ensemble", "checkpoint_dir", "resume",
                "init_from", "rehearse", "embedding_cache", "device", "amp", "nproc"}


def train_command():
    return typer.main.get_command(app).commands["train"]


def train_options() -> dict[str, object]:
    """`seqtag train`'s click options by parameter name."""
    return {p.name: p for p in train_command().params}


def help_at(columns: int, *args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


# ---------------------------------------------------------------------------- one declaration


def test_every_config_field_is_a_declared_setting():
    names = [f.name for cls in CONFIG_CLASSES.values() for f in dataclasses.fields(cls)]
    assert list(SETTINGS) == names and len(set(names)) == len(names)  # no name in two sections
    for cls in CONFIG_CLASSES.values():
        for f in dataclasses.fields(cls):
            about = f.metadata["setting"]
            assert isinstance(about, Setting) and about.help and not about.help.endswith(")")
            assert type(f.default) in (bool, int, float, str)
    assert CHOICES == {s.name: s.about.choices for s in declared_settings() if s.about.choices}
    assert all(SETTINGS[name].default in choices for name, choices in CHOICES.items())
    assert [s.name for s in declared_settings("model")] == [f.name for f in dataclasses.fields(CONFIG_CLASSES["model"])]


def test_train_takes_one_option_per_setting_and_keeps_its_own():
    from seqtag.cli.train import train

    parameters = inspect.signature(train).parameters
    assert set(parameters) == set(SETTINGS) | NOT_SETTINGS
    for name in SETTINGS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY and parameters[name].default is None
    options = train_options()
    spelled = {opt for p in options.values() for opt in (*p.opts, *p.secondary_opts)}
    assert set(OLD_OPTIONS) <= spelled
    for declared in declared_settings():
        option = options[declared.name]
        assert (*option.opts, *option.secondary_opts) == declared.flags
        assert option.help == declared.describe() and option.help.endswith(f"(default: {declared.shown_default()})")
        assert option.rich_help_panel == declared.about.panel
        if declared.about.choices:
            kind = typing.get_args(typing.get_args(parameters[declared.name].annotation)[0])[0]
            assert tuple(member.value for member in kind) == declared.about.choices


def test_special_flag_spellings():
    options = train_options()
    assert options["fine_tune"].opts == ["--fine-tune"] and options["fine_tune"].secondary_opts == ["--freeze"]
    assert options["tokenized"].secondary_opts == ["--untokenized"]
    assert options["bidirectional"].secondary_opts == ["--no-bidirectional"]
    assert options["identity_init"].secondary_opts == ["--no-identity-init"]
    assert options["deterministic"].secondary_opts == ["--no-deterministic"]


@pytest.mark.parametrize("declared", list(declared_settings()), ids=lambda s: s.name)
def test_toml_keys_come_from_the_declarations(tmp_path, declared, write_file):
    literal = json.dumps(declared.default)  # a TOML literal for bool, int, float and str values
    for key in {declared.key, declared.name}:
        path = write_file(tmp_path / "c.toml", f"{key} = {literal}\n[{declared.section}]\n{key} = {literal}\n")
        assert read_toml(path) == {declared.name: declared.default}


@pytest.mark.parametrize("declared", [s for s in declared_settings() if s.kind in (int, float)], ids=lambda s: s.name)
def test_bounds_come_from_the_declarations(declared):
    about, kind = declared.about, declared.kind
    assert check_value(declared.name, declared.default, "x") == declared.default
    outside = []
    if about.min is not None:
        assert check_value(declared.name, kind(about.min), "x") == about.min
        outside.append(about.min - (1 if kind is int else 0.5))
    if about.gt is not None:
        outside.append(kind(about.gt))
    if about.lt is not None:
        outside.append(kind(about.lt))
    if kind is float:
        outside.append(math.nan)
        if about.finite:
            outside.append(math.inf)
    if kind is int and about.lt is None:
        outside.append(2**40)  # torch takes sizes as C integers
    for value in outside:
        with pytest.raises(InputError) as info:
            check_value(declared.name, value, declared.option)
        assert str(info.value).startswith(f"{declared.option}: ") and repr(declared.name) in str(info.value)


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_choices_come_from_the_declarations(name):
    for choice in CHOICES[name]:
        assert check_value(name, choice, "x") == choice
    with pytest.raises(InputError, match="must be one of"):
        check_value(name, "bogus", "x")


def test_special_validators_stay_next_to_their_fields():
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        check_value("encoding", "klingon", "--encoding")
    assert check_value("seed", 2**32 - 1, "--seed") == 2**32 - 1  # NumPy's range, wider than a C int
    with pytest.raises(InputError, match=re.escape("'seed' must be in [0, 2**32)")):
        check_value("seed", 2**32, "--seed")


# ---------------------------------------------------------------------------- unknown settings


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hiden = 3", "unknown setting 'hiden'; did you mean 'hidden'?"),
        ("[model]\nchar-encodr = 'lstm'", "unknown setting 'char-encodr'; did you mean 'char-encoder'?"),
        ("[train]\nbatch_sise = 3", "unknown setting 'batch_sise'; did you mean 'batch_size'?"),
        ("epoch = 3", "unknown setting 'epoch'; did you mean 'epochs'?"),
        ("[optim]\nlr = 0.1", "unknown setting 'optim' (a table); settings go at the top or under [data], [model], [train]"),
        ("[model.extra]\nx = 1", "unknown setting 'extra' (a table); settings go at the top or under [data], [model], [train]"),
    ],
)
def test_unknown_toml_key_names_the_closest_setting(tmp_path, write_file, text, expected):
    path = write_file(tmp_path / "config.toml", text + "\n")
    with pytest.raises(InputError) as info:
        read_toml(path)
    assert str(info.value) == f"{path}: {expected}"


def test_unknown_toml_key_from_the_command_line(tmp_path, write_file, one_error_line, sample_slice):
    data = sample_slice("train", 5, tmp_path / "train.txt")
    config = write_file(tmp_path / "config.toml", "hidden = 8\nhiden = 3\n")
    result = runner.invoke(app, ["train", "--train", str(data), "--config", str(config), "-o", str(tmp_path / "m.seqtag")])
    one_error_line(result)
    assert result.stderr == f"seqtag: error: {config}: unknown setting 'hiden'; did you mean 'hidden'?\n"
    assert not (tmp_path / "m.seqtag").exists()


# ---------------------------------------------------------------------------- help


def option_column(help_text: str) -> set[str]:
    """The option names in the first columns of rich's help tables (rows start at the panel's left edge)."""
    names: set[str] = set()
    for line in help_text.splitlines():
        if not line.startswith("│"):
            continue
        content = line[1:].rstrip("│")
        if len(content) - len(content.lstrip()) > 4:  # a continuation line of some help text
            continue
        for cell in re.split(r"\s{2,}", content.strip()):
            if cell == "*":  # a required option
                continue
            if not cell.startswith("-"):
                break
            names.update(cell.split(","))
    return names


@pytest.mark.parametrize("columns", [80, 100])
def test_help_shows_every_option_name_in_full(columns):
    text = help_at(columns, "train")
    assert max(len(line) for line in text.splitlines()) == columns  # rich drew it at that width
    expected = {opt for p in train_command().params for opt in (*p.opts, *p.secondary_opts)}
    assert option_column(text) == expected | {"--help"}
    assert "…" not in "".join(line[:40] for line in text.splitlines())  # nothing truncated in the name columns


def test_help_shows_the_declared_help_and_default():
    text = " ".join(help_at(200, "train").replace("│", " ").split())
    for declared in declared_settings():
        assert f"(default: {declared.shown_default()})" in text, declared.name
    assert "(default: fine-tune)" in text and "(default: 400000)" in text and "One of: rnn, gru, lstm." in text


def test_version():
    from seqtag._version import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"seqtag {__version__}\n" and result.stderr == ""
    assert __version__ == "0.2.0"


def test_top_level_help_mentions_classification():
    text = " ".join(help_at(80).split())
    assert "text classification" in text and "--version" in text
    assert "sequence labelling" in text


# ---------------------------------------------------------------------------- seqtag info


def test_info_lists_the_settings_with_their_declared_help(trained):
    result = runner.invoke(app, ["info", str(trained.model), "--format", "json"])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)["settings"]
    assert [s["name"] for s in settings] == [
        s.key for section in ("model", "train", "data") for s in declared_settings(section)
    ]
    by_name = {s["name"]: s for s in settings}
    for declared in declared_settings():
        row = by_name[declared.key]
        assert row["help"] == declared.about.help and row["default"] == declared.default
        assert row["section"] == declared.section
    assert by_name["hidden"]["value"] == 16 and by_name["epochs"]["value"] == 3  # the session model's options
    assert by_name["cell"]["value"] == "lstm"

    table = runner.invoke(app, ["info", str(trained.model)])
    assert table.exit_code == 0 and table.stderr == ""
    lines = table.stdout.splitlines()
    hidden = next(line for line in lines if line.split()[0] == "model.hidden")
    assert hidden.split()[1:3] == ["16", "*"] and hidden.endswith(SETTINGS["hidden"].about.help)
    cell = next(line for line in lines if line.split()[0] == "model.cell")
    assert cell.split()[1] == '"lstm"' and "*" not in cell.split()[2]


def test_info_on_a_file_older_than_a_setting_shows_its_default(tmp_path, trained):
    import torch

    body = torch.load(trained.model, weights_only=True)
    del body["config"]["model"]["window"]
    old = tmp_path / "old.seqtag"
    torch.save(body, old)
    result = runner.invoke(app, ["info", str(old), "--format", "json"])
    assert result.exit_code == 0, result.output
    row = next(s for s in json.loads(result.stdout)["settings"] if s["name"] == "window")
    assert row["value"] == row["default"] == 2
