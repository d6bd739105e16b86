"""`--class-weights auto|none`: inverse-frequency weights on the loss of classifiers, multi-label classifiers
(positive weights) and the softmax tagger head; a CRF head refuses them."""
from __future__ import annotations

import random

import pytest
import torch
from torch.nn import functional as F
from typer.testing import CliRunner

import seqtag
from seqtag.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def imbalanced(tmp_path):
    """90 'common' texts and 9 'rare' ones (10:1)."""
    rng = random.Random(0)
    rows = ["label\ttext"]
    for label, words, count in (("common", ["fine", "good", "nice"], 90), ("rare", ["bad", "awful", "poor"], 9)):
        rows += [f"{label}\t{' '.join(rng.choice(words) for _ in range(4))} day" for _ in range(count)]
    rng.shuffle(rows[1:])
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_inverse_frequency_weights(imbalanced, tmp_path):
    logged = []
    result = seqtag.train(imbalanced, hidden=8, word_dim=8, epochs=1, char_encoder="none", class_weights="auto",
                          output=tmp_path / "w.seqtag", log=logged.append)
    model = result.model
    assert model.labels.items == ["common", "rare"]
    # n / (classes × count): 99 / (2 × 90) and 99 / (2 × 9)
    assert model.net.class_weights.tolist() == pytest.approx([99 / 180, 99 / 18])
    assert any(line.startswith("class weights (inverse frequency): common 0.55, rare 5.5") for line in logged), logged
    saved = seqtag.load(tmp_path / "w.seqtag")
    assert saved.net.class_weights is None  # training only: not in the model file
    assert "class_weights" not in torch.load(tmp_path / "w.seqtag", weights_only=True)["state_dict"]
    assert saved.model_config.class_weights == "auto"


def test_weighted_loss_is_the_weighted_mean(imbalanced):
    model = seqtag.train(imbalanced, hidden=8, word_dim=8, epochs=1, char_encoder="none", class_weights="auto").model
    net = model.net.train(False)
    batch = model.training_batch([["fine", "day"], ["bad", "day"], ["good", "day"]], ["common", "rare", "common"])
    with torch.no_grad():
        logits = net.logits(batch)
        losses = F.cross_entropy(logits, batch.labels, reduction="none")
        weights = net.class_weights[batch.labels]
        assert float(net.loss(batch)) == pytest.approx(float((weights * losses).sum() / weights.sum()), rel=1e-5)
        net.class_weights = None
        assert float(net.loss(batch)) == pytest.approx(float(losses.mean()), rel=1e-5)


def test_none_leaves_the_loss_alone(imbalanced):
    logged = []
    model = seqtag.train(imbalanced, hidden=8, word_dim=8, epochs=1, char_encoder="none", log=logged.append).model
    assert model.net.class_weights is None and not any("class weights" in line for line in logged)


def test_softmax_tagger_weighs_tags(trained, tmp_path):
    logged = []
    model = seqtag.train(trained.train, hidden=8, epochs=1, char_encoder="none", head="softmax", class_weights="auto",
                         log=logged.append).model
    counts = model.label_counts([s for s in _targets(model, trained.train)])
    seen = sum(1 for c in counts if c)
    expected = [sum(counts) / (seen * c) if c else 0.0 for c in counts]
    assert model.net.class_weights.tolist() == pytest.approx(expected)
    assert model.net.class_weights[model.labels.index["O"]] == min(w for w in model.net.class_weights if w > 0)
    assert any("(lowest and highest)" in line for line in logged)


def _targets(model, path):
    from seqtag.data.schemes import convert
    from seqtag.formats.registry import read_sentences

    return [convert(s.tags, model.data_scheme, model.model_scheme) for s in read_sentences(path, model.data_config)]


def test_multilabel_positive_weights(tmp_path):
    path = tmp_path / "train.ft"
    path.write_text("__label__a __label__b one two\n__label__a three\n__label__a four five\n__label__c six\n",
                    encoding="utf-8")
    model = seqtag.train(path, hidden=8, word_dim=8, epochs=1, char_encoder="none", class_weights="auto").model
    # negatives / positives per label: a 1/3, b 3/1, c 3/1
    assert model.net.class_weights.tolist() == pytest.approx([1 / 3, 3.0, 3.0])


def test_crf_head_refuses_class_weights(trained, tmp_path, one_error_line):
    result = run("train", "--train", trained.train, "--class-weights", "auto", "--output", tmp_path / "m.seqtag")
    one_error_line(result, "--class-weights auto needs --head softmax")


def test_toml_and_info_know_the_setting(imbalanced, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('class-weights = "auto"\nhidden = 8\nword-dim = 8\nepochs = 1\nchar-encoder = "none"\n',
                      encoding="utf-8")
    output = tmp_path / "m.seqtag"
    result = run("train", "--train", imbalanced, "--config", config, "--output", output)
    assert result.exit_code == 0, result.output
    assert "class weights" in result.stderr
    info = run("info", output)
    assert "class_weights" in info.stdout or "class-weights" in info.stdout
