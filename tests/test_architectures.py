"""The architecture zoo (issue 10): the window-MLP encoder, the rnn cell's activation and identity (IRNN)
initialisation, their options and model files, and `seqtag diagnose gradients`."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from seqtag.data.batching import Collator
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.models.classifier import ClassifierNet
from seqtag.models.encoders import StackedRNN, TokenEncoder
from seqtag.data.vocab import Vocab, WordVocab

SMALL = dict(word_dim=8, char_dim=4, char_hidden=6, hidden=12, dropout=0.0)
WORDS = ["<pad>", "<unk>", "the", "cat", "sat", "on", "a", "mat", "dog", "ran", "home", "."]
# "Paris" is a person in one sentence and a place in the other: only its neighbours tell.
TWO = [
    [("Paris", "B-PER"), ("Hilton", "I-PER"), ("visited", "O"), ("Berlin", "B-LOC"), (".", "O")],
    [("He", "O"), ("flew", "O"), ("to", "O"), ("Paris", "B-LOC"), ("today", "O"), (".", "O")],
]
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These networks are tiny: handing their operations between threads costs more than it saves."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"


def user_error(result, fragment: str) -> None:
    """Exit 2 and exactly one `seqtag: error:` line naming ``fragment``, nothing on stdout."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    assert fragment in lines[0], lines[0]


def tiny_encoder(**settings) -> tuple[TokenEncoder, Collator]:
    config = ModelConfig(**{**SMALL, **settings})
    chars = Vocab(["<pad>", "<unk>", *sorted(set("".join(WORDS[2:])))])
    torch.manual_seed(0)
    encoder = TokenEncoder(config, len(WORDS), len(chars)).eval()
    return encoder, Collator(WordVocab(WORDS), chars, None)


@pytest.fixture(scope="module")
def train_two(write_conll):
    def train_two(tmp_path: Path, epochs: int = 80, **settings):
        """A tagger trained on the two sentences of TWO (no dev: the last epoch is kept)."""
        from seqtag.training.train import train_model as train_tagger

        data = write_conll(tmp_path / "two.txt", TWO)
        config = ModelConfig(**{**SMALL, **settings})
        tagger, _ = train_tagger(data, None, None, DataConfig(), config, TrainConfig(epochs=epochs, lr=0.02, batch_size=2, seed=3))
        return tagger

    return train_two


# ---------------------------------------------------------------------------- word dropout


def test_word_dropout_replaces_real_tokens_by_the_unknown_word_only_while_training():
    encoder, _ = tiny_encoder(word_dropout=0.5)
    ids = torch.tensor([[2, 3, 4, 5, 6, 7, 8, 0, 0, 0]] * 200)  # 0: padding
    unknown = encoder.words.weight[1]
    torch.manual_seed(1)
    encoder.train()
    out = encoder.embed_words(ids)
    replaced = (out == unknown).all(dim=2)
    assert not replaced[:, 7:].any()  # padding keeps its (zero) row
    share = replaced[:, :7].float().mean().item()
    assert 0.45 < share < 0.55, share  # 1,400 tokens at 0.5: 3.8 standard deviations either side
    kept = ~replaced[:, :7]
    assert torch.equal(out[:, :7][kept], encoder.words(ids[:, :7])[kept])
    encoder.eval()
    assert torch.equal(encoder.embed_words(ids), encoder.words(ids))
    plain, _ = tiny_encoder()
    plain.train()
    assert torch.equal(plain.embed_words(ids), plain.words(ids))  # the default: no word dropout


def test_word_dropout_trains_the_unknown_word_row(tmp_path, train_two):
    # Every training word is in the vocabulary, so without word dropout the unknown word's row gets no gradient
    # and stays as initialised (the same in both runs: same seed, same network).
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    untouched = train_two(tmp_path / "a", epochs=5).net.encoder.words.weight[1]
    trained = train_two(tmp_path / "b", epochs=5, word_dropout=0.3).net.encoder.words.weight[1]
    assert not torch.equal(untouched, trained)


# ---------------------------------------------------------------------------- window encoder


@pytest.mark.parametrize("window, layers", [(0, 1), (2, 1), (1, 2)])
def test_window_encoder_shapes(window, layers):
    encoder, collate = tiny_encoder(encoder="window", window=window, layers=layers)
    batch = collate([["the", "cat", "sat"], ["a", "dog", "ran", "home", "."]])
    out = encoder(batch)
    assert out.shape == (2, 5, 12) and encoder.output_dim == 12
    assert encoder.rnn is None
    first = encoder.window.layers[0]
    assert first.in_features == (2 * window + 1) * (8 + 6)  # word + char CNN vectors of the whole window


def test_window_output_ignores_batch_padding():
    encoder, collate = tiny_encoder(encoder="window", window=2)
    short = ["the", "cat", "sat"]
    with torch.inference_mode():
        alone = encoder(collate([short]))[0]
        batched = encoder(collate([short, ["a", "dog", "ran", "home", "on", "the", "mat", "."]]))[0, :3]
    torch.testing.assert_close(alone, batched)


def test_window_sees_exactly_its_window():
    encoder, collate = tiny_encoder(encoder="window", window=2)
    base = ["the", "cat", "sat", "on", "a", "mat"]
    with torch.inference_mode():
        before = encoder(collate([base]))[0]
        near = encoder(collate([base[:2] + ["dog"] + base[3:]]))[0]  # position 2: inside token 0's window
        far = encoder(collate([base[:3] + ["dog"] + base[4:]]))[0]  # position 3: outside it
    assert not torch.allclose(before[0], near[0])
    torch.testing.assert_close(before[0], far[0])


def test_window_classifier_pools_but_refuses_last():
    config = ModelConfig(task="classify", encoder="window", pooling="max", **SMALL)
    net = ClassifierNet(config, len(WORDS), 1, 2).eval()
    collate = Collator(WordVocab(WORDS), None, None)
    assert net.probabilities(collate([["the", "cat"], ["a", "dog", "ran"]])).shape == (2, 2)
    with pytest.raises(ValueError, match="pooling 'last'"):
        ClassifierNet(ModelConfig(task="classify", encoder="window", pooling="last", **SMALL), len(WORDS), 1, 2)


# ---------------------------------------------------------------------------- rnn activation and IRNN


def test_irnn_starts_as_identity():
    rnn = StackedRNN("rnn", 5, 7, 2, True, 0.0, activation="relu", identity_init=True)
    layers = [*rnn.forward_layers, *rnn.backward_layers]
    assert len(layers) == 4
    for layer in layers:
        assert layer.nonlinearity == "relu"
        torch.testing.assert_close(layer.weight_hh_l0, torch.eye(7), rtol=0, atol=0)
        assert not layer.bias_hh_l0.any() and not layer.bias_ih_l0.any()
        assert layer.weight_ih_l0.abs().sum() > 0  # input weights keep their random start
    plain = StackedRNN("rnn", 5, 7, 1, False, 0.0)
    assert plain.forward_layers[0].nonlinearity == "tanh"
    assert not torch.equal(plain.forward_layers[0].weight_hh_l0, torch.eye(7))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_rnn_options_refused_for_gated_cells(cell):
    with pytest.raises(ValueError, match="rnn cell"):
        StackedRNN(cell, 5, 7, 1, False, 0.0, activation="relu")
    with pytest.raises(ValueError, match="rnn cell"):
        StackedRNN(cell, 5, 7, 1, False, 0.0, identity_init=True)


# ---------------------------------------------------------------------------- training and model files


@pytest.mark.parametrize(
    "settings",
    [
        dict(encoder="window", window=1, head="softmax", activation="relu"),
        dict(encoder="window", window=2, layers=2, head="crf"),
        dict(cell="rnn", activation="relu", identity_init=True, head="crf"),
        dict(cell="rnn", activation="relu", identity_init=True, bidirectional=False, head="softmax"),
    ],
    ids=["window-softmax", "window2-2layers-crf", "irnn-crf", "irnn-uni-softmax"],
)
def test_overfits_two_sentences(tmp_path, settings, train_two):
    tagger = train_two(tmp_path, **settings)
    predicted = tagger.predict([[token for token, _ in sentence] for sentence in TWO])
    assert predicted == [[tag for _, tag in sentence] for sentence in TWO]


def test_window_model_round_trip(tmp_path, train_two):
    from seqtag import load_model
    from seqtag.archive import load_archive
    from seqtag.tools.info import describe

    tagger = train_two(tmp_path, epochs=3, encoder="window", window=2)
    path = tmp_path / "window.seqtag"
    tagger.save(path)
    loaded = load_model(path)
    texts = [["Paris", "flew", "to", "Hilton", "."], ["unseen", "words", "here"], ["Berlin"]]
    assert loaded.predict(texts) == tagger.predict(texts)
    batch = tagger.collate(texts)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.net.emissions(batch), tagger.net.emissions(batch), rtol=0, atol=0)
    assert describe(load_archive(path), path)["architecture"].startswith("window MLP (±2 words, 1 hidden layer(s) of 12 tanh units)")


def test_model_files_without_the_new_settings_still_load(tmp_path, train_two):
    from seqtag import load_model

    tagger = train_two(tmp_path, epochs=2, cell="rnn")
    path = tmp_path / "old.seqtag"
    tagger.save(path)
    body = torch.load(path, weights_only=True)
    for key in ("encoder", "window", "activation", "identity_init"):
        del body["config"]["model"][key]  # as written before these settings existed
    torch.save(body, path)
    loaded = load_model(path)
    assert (loaded.model_config.encoder, loaded.model_config.activation, loaded.model_config.identity_init) == ("rnn", "tanh", False)
    texts = [[token for token, _ in sentence] for sentence in TWO]
    assert loaded.predict(texts) == tagger.predict(texts)


# ---------------------------------------------------------------------------- option errors


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--cell", "gru", "--activation", "relu"], "--activation relu needs --cell rnn"),
        (["--activation", "relu"], "--activation relu needs --cell rnn"),  # the default cell is lstm
        (["--cell", "lstm", "--identity-init"], "--identity-init needs --encoder rnn --cell rnn"),
        (["--encoder", "window", "--identity-init"], "--identity-init needs --encoder rnn --cell rnn"),
        (["--window", "-1"], "'window' must be 0"),
        (["--encoder", "mlp"], "mlp"),
        (["--activation", "sigmoid"], "sigmoid"),
    ],
)
def test_option_errors(tmp_path, options, fragment, ner_dir):
    result = run("train", "--train", ner_dir / "train.txt", "--output", tmp_path / "m.seqtag", *options)
    user_error(result, fragment)
    assert not (tmp_path / "m.seqtag").exists()


def test_option_errors_from_a_config_file_and_for_classifiers(tmp_path, ner_dir, sample_dir, write_file):
    config = write_file(tmp_path / "c.toml", 'cell = "gru"\n[model]\nidentity-init = true\n')
    user_error(run("train", "--train", ner_dir / "train.txt", "--config", config, "--output", tmp_path / "m"), "--identity-init")
    result = run("train", "--train", sample_dir / "cls" / "train.tsv", "--task", "classify", "--encoder", "window",
                 "--pooling", "last", "--output", tmp_path / "m")
    user_error(result, "--pooling last needs --encoder rnn")


# ---------------------------------------------------------------------------- diagnose gradients


@pytest.fixture(scope="module")
def long_data(tmp_path_factory, write_conll) -> Path:
    """Eight generated sentences of 30-40 tokens (and a short one, which is skipped)."""
    rng = random.Random(4)
    vocabulary = [f"w{i}" for i in range(40)]
    sentences = [[(w, "O") for w in rng.choices(vocabulary, k=rng.randint(30, 40))] for _ in range(8)]
    sentences.insert(3, [("short", "O"), ("one", "O")])
    return write_conll(tmp_path_factory.mktemp("long") / "long.txt", sentences)


def test_gradient_norms_align_by_distance_and_ignore_padding():
    from seqtag.tools.diagnose import gradient_norms

    encoder, collate = tiny_encoder(cell="gru", bidirectional=True, layers=2)
    short = ["the", "cat", "sat", "on", "a", "mat"]
    alone = gradient_norms(encoder, collate([short]))
    batched = gradient_norms(encoder, collate([short, short + ["the", "dog", "ran", "home"]]))
    assert alone.shape == (1, 6) and batched.shape == (2, 10)
    torch.testing.assert_close(alone[0], batched[0, :6])
    assert not batched[0, 6:].any()  # distances beyond the sentence
    torch.testing.assert_close(batched[:, 0], torch.ones(2))  # the gradient of a norm is a unit vector


def test_diagnose_compares_fresh_cells(tmp_path, long_data):
    args = ["diagnose", "gradients", "default", long_data, "--cell", "rnn", "--cell", "irnn", "--cell", "gru",
            "--cell", "lstm", "--hidden", "8", "--min-length", "30"]
    table = run(*args, "--plot", tmp_path / "g.png")
    ok(table)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["distance", "rnn", "norm", "rnn", "rel", "irnn", "norm", "irnn", "rel",
                                "gru", "norm", "gru", "rel", "lstm", "norm", "lstm", "rel"]
    assert len(lines) == 31 and lines[-1].split()[0] == "29"
    assert set(lines[1].split()[1:]) == {"1.000e+00"}
    assert "8 sentences of ≥ 30 tokens" in table.stderr
    png = (tmp_path / "g.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000

    result = run(*args, "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert report["sentences"] == 8 and report["min_length"] == 30
    curves = {c["label"]: c for c in report["curves"]}
    assert list(curves) == ["rnn", "irnn", "gru", "lstm"]
    for curve in curves.values():
        assert len(curve["mean_norm"]) == 30 and curve["relative"][0] == pytest.approx(1.0)
    # The course's claim at initialisation: the identity-initialised ReLU RNN keeps its gradient, tanh loses it.
    assert curves["irnn"]["relative"][29] > 0.5 > 1e-3 > curves["rnn"]["relative"][29]


def test_diagnose_a_model_file_and_a_config_file(tmp_path, long_data, train_two, write_file):
    tagger = train_two(tmp_path, epochs=2, cell="rnn", activation="relu", identity_init=True)
    tagger.save(tmp_path / "irnn.seqtag")
    result = run("diagnose", "gradients", tmp_path / "irnn.seqtag", long_data, "--min-length", "35", "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert [c["label"] for c in report["curves"]] == ["irnn"] and len(report["curves"][0]["mean_norm"]) == 35
    assert report["sentences"] == sum(1 for line in long_data.read_text().split("\n\n") if line.count("\n") >= 34)

    config = write_file(tmp_path / "gru.toml", 'cell = "gru"\nhidden = 6\nchar-encoder = "none"\n')
    result = run("diagnose", "gradients", config, long_data, "--sentences", "3", "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert [c["label"] for c in report["curves"]] == ["gru"] and report["sentences"] == 3


def test_diagnose_errors(tmp_path, long_data, train_two, write_file):
    window = train_two(tmp_path, epochs=1, encoder="window")
    window.save(tmp_path / "window.seqtag")
    user_error(run("diagnose", "gradients", tmp_path / "window.seqtag", long_data), "need a recurrent encoder")
    user_error(run("diagnose", "gradients", tmp_path / "window.seqtag", long_data, "--cell", "gru"), "--cell is for fresh networks")
    user_error(run("diagnose", "gradients", "default", long_data, "--min-length", "41"), "no sentence has 41 or more tokens")
    user_error(run("diagnose", "gradients", "default", long_data, "--hidden", "0"), "'hidden' must be positive")
    user_error(run("diagnose", "gradients", tmp_path / "absent.seqtag", long_data), "no such file")
    config = write_file(tmp_path / "w.toml", 'encoder = "window"\n')
    user_error(run("diagnose", "gradients", config, long_data), "need a recurrent encoder")
    user_error(run("diagnose", "gradients", "default", long_data, "--plot", tmp_path / "no" / "g.png"), "no such directory")
