"""TOML config files and setting validation: flat and dashed keys, sections, types, choices, locations in errors."""
from __future__ import annotations

import dataclasses

import pytest

from seqtag.config import DataConfig, ModelConfig, TrainConfig, build_configs, check_value, from_dict, read_toml
from seqtag.errors import InputError


@pytest.fixture(scope="module")
def toml(write_file):
    def toml(tmp_path, text: str | bytes, name: str = "config.toml"):
        return write_file(tmp_path / name, text)

    return toml


def error_of(path) -> InputError:
    with pytest.raises(InputError) as info:
        read_toml(path)
    assert info.value.path == str(path)
    return info.value


def test_flat_keys(tmp_path, toml):
    path = toml(tmp_path, 'hidden = 64\nepochs = 3\nlr = 0.01\ncell = "gru"\nbidirectional = false\nencoding = "latin-1"\n')
    assert read_toml(path) == {
        "hidden": 64, "epochs": 3, "lr": 0.01, "cell": "gru", "bidirectional": False, "encoding": "latin-1",
    }


def test_dashed_keys_become_field_names(tmp_path, toml):
    path = toml(tmp_path, 'char-encoder = "lstm"\nbatch-size = 8\nword_dim = 50\nkeep-vectors = 0\n')
    assert read_toml(path) == {"char_encoder": "lstm", "batch_size": 8, "word_dim": 50, "keep_vectors": 0}


def test_sections(tmp_path, toml):
    path = toml(
        tmp_path,
        'seed = 7\n\n[model]\nhidden = 32\nhead = "softmax"\nchar-dim = 8\n\n[train]\npatience = 2\nclip = 1\n\n'
        '[data]\ntag-column = 3\nscheme = "iob1"\n',
    )
    settings = read_toml(path)
    assert settings == {
        "seed": 7, "hidden": 32, "head": "softmax", "char_dim": 8, "patience": 2, "clip": 1.0, "tag_column": 3,
        "scheme": "iob1",
    }
    assert isinstance(settings["clip"], float)  # an integer where a float is expected is widened
    data, model, train = build_configs(settings)
    assert (data.tag_column, data.scheme, data.token_column) == (3, "iob1", 0)
    assert (model.hidden, model.head, model.char_dim, model.cell) == (32, "softmax", 8, "lstm")
    assert (train.seed, train.patience, train.clip, train.epochs) == (7, 2, 1.0, 50)


def test_empty_file_gives_defaults(tmp_path, toml):
    assert read_toml(toml(tmp_path, "")) == {}
    assert build_configs({}) == (DataConfig(), ModelConfig(), TrainConfig())


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('hidden = "64"', "'hidden' must be int"),
        ("hidden = 6.5", "'hidden' must be int"),
        ("hidden = true", "'hidden' must be int"),
        ('lr = "fast"', "'lr' must be float"),
        ("bidirectional = 1", "'bidirectional' must be bool"),
        ("cell = 3", "'cell' must be str"),
        ("[model]\ndropout = [0.1]", "'dropout' must be float"),
    ],
)
def test_wrong_types(tmp_path, text, fragment, toml):
    error = error_of(toml(tmp_path, text + "\n"))
    assert fragment in error.message
    assert str(tmp_path / "config.toml") in str(error)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("hiden = 3", "'hiden'"),
        ("[model]\nhiden = 3", "'hiden'"),
        ("[optim]\nlr = 0.1", "'optim'"),
        ("[model.extra]\nx = 1", "'extra'"),
        ("train = 3", "'train'"),
        ('embeddings = "glove.txt"', "'embeddings'"),
    ],
)
def test_unknown_keys(tmp_path, text, fragment, toml):
    error = error_of(toml(tmp_path, text + "\n"))
    assert "unknown setting" in error.message and fragment in error.message


def test_invalid_toml_names_the_line(tmp_path, toml):
    error = error_of(toml(tmp_path, "epochs = 3\nhidden = 64\ncell = lstm\n"))
    assert "not valid TOML" in error.message and "line 3" in error.message


def test_duplicate_key_is_invalid_toml(tmp_path, toml):
    error = error_of(toml(tmp_path, "epochs = 3\nepochs = 4\n"))
    assert "line 2" in error.message


def test_not_utf8_and_missing(tmp_path, toml):
    error_of(toml(tmp_path, 'cell = "l\xfcstm"\n'.encode("latin-1")))
    assert "no such file" in error_of(tmp_path / "missing.toml").message


@pytest.mark.parametrize(
    "key, bad, good",
    [
        ("cell", "transformer", "gru"),
        ("char_encoder", "bert", "none"),
        ("head", "mlp", "softmax"),
        ("optimizer", "lbfgs", "sgd"),
        ("scheme", "bilou", "bioes"),
        ("input_format", "xml", "conllu"),
        ("conllu_field", "lemma", "xpos"),
        ("train_scheme", "iob1", "iob2"),
    ],
)
def test_choices(tmp_path, key, bad, good, toml):
    error = error_of(toml(tmp_path, f'{key.replace("_", "-")} = "{bad}"\n'))
    assert "must be one of" in error.message and repr(bad) in error.message
    assert good in error.message  # the message lists the valid choices
    assert read_toml(toml(tmp_path, f'{key} = "{good}"\n', "ok.toml")) == {key: good}


@pytest.mark.parametrize(
    "text",
    ["hidden = 0", "epochs = -1", "batch-size = 0", "layers = 0", "dropout = 1.0", "dropout = -0.1", "lr = 0",
     "lr = -0.001", "lr = inf", "lr = nan", "lr-decay = 0", "threads = -2", "char-kernel = 0", "patience = 0",
     "keep-vectors = -1", "clip = -1", "seed = -1", "seed = 4294967296", "max-tokens = -1"],
)
def test_out_of_range_values(tmp_path, text, toml):
    error = error_of(toml(tmp_path, text + "\n"))
    assert text.split(" = ")[0].replace("-", "_") in error.message


@pytest.mark.parametrize(
    "text, value",
    [("dropout = 0", 0.0), ("dropout = 0.99", 0.99), ("keep-vectors = 0", 0), ("clip = 0", 0.0), ("seed = 0", 0),
     ("seed = 4294967295", 2**32 - 1), ("patience = 1", 1), ("threads = 0", 0)],
)
def test_boundary_values_are_accepted(tmp_path, text, value, toml):
    assert list(read_toml(toml(tmp_path, text + "\n")).values()) == [value]


def test_check_value_names_the_option():
    with pytest.raises(InputError) as info:
        check_value("hidden", -3, "--hidden")
    assert str(info.value) == "--hidden: 'hidden' must be positive, got -3"
    assert check_value("lr", 1, "--lr") == 1.0 and isinstance(check_value("lr", 1, "--lr"), float)


def test_from_dict_ignores_keys_of_newer_versions():
    saved = dataclasses.asdict(ModelConfig(hidden=12)) | {"some_future_setting": 1}
    assert from_dict(ModelConfig, saved) == ModelConfig(hidden=12)
