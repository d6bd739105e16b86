"""`seqtag train --init-from MODEL [--rehearse OLD]`: continue a model on new data. New words extend the
vocabulary, new labels the output layer and the CRF transitions, and untrained the extended model predicts
exactly what the old one predicts."""
from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import seqtag
from seqtag.cli import app

runner = CliRunner()
NEW_SENTENCES = [  # a new entity type (PROD), new words (Zorblax, Quintar) and a new character (ü, ß are in sample data)
    [("Zorblax", "B-PROD"), ("Quintar", "I-PROD"), ("was", "O"), ("sold", "O"), ("in", "O"), ("Berlin", "B-LOC"), (".", "O")],
    [("Elena", "B-PER"), ("bought", "O"), ("a", "O"), ("Zorblax", "B-PROD"), ("Ω-7", "I-PROD"), (".", "O")],
]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def new_data(tmp_path, write_conll):
    return write_conll(tmp_path / "new.txt", NEW_SENTENCES)


def extended(old, train, **overrides):
    """The model `--init-from` starts training from, before any step."""
    import dataclasses

    data_config = dataclasses.replace(old.data_config, **overrides)
    data = type(old).training_data(train, None, data_config, old.model_config, known=old.labels.items)
    return type(old).extend(old, data, data_config, old.train_config, old.model_config, {})


def test_untrained_extended_tagger_predicts_as_before(tagger, trained, new_data, conll_sentences):
    new = extended(tagger, new_data)
    assert set(tagger.labels.items) < set(new.labels.items) and "B-PROD" in new.labels.items
    assert new.words.items[: tagger.words.trainable] == tagger.words.items[: tagger.words.trainable]
    assert {"Zorblax", "Quintar"} <= set(new.words.items[tagger.words.trainable: new.words.trainable])
    assert len(new.chars) > len(tagger.chars)  # Ω
    sentences = [[row[0] for row in s] for s in conll_sentences(trained.test)] + [[w for w, _ in s] for s in NEW_SENTENCES]
    assert new.predict(sentences) == tagger.predict(sentences)
    assert [d.tags for d in new.predict_details(sentences, nbest=2)] == tagger.predict(sentences)
    # the old tags' emissions and transitions are copied; a new tag starts as O, 5 lower
    batch = new.collate(sentences[:5])
    with torch.inference_mode():
        emissions = new.net.emissions(batch)
        old_emissions = tagger.net.emissions(tagger.collate(sentences[:5]))
    index = [new.labels.index[label] for label in tagger.labels.items]
    torch.testing.assert_close(emissions[..., index], old_emissions)
    outside, added = new.labels.index["O"], new.labels.index["B-PROD"]
    torch.testing.assert_close(emissions[..., added], emissions[..., outside] - 5)
    old_outside = tagger.labels.index["O"]
    assert new.net.crf.transitions[added, added] == tagger.net.crf.transitions[old_outside, old_outside]
    assert new.net.crf.transitions[index[1], added] == tagger.net.crf.transitions[1, old_outside]


def test_untrained_extended_classifier_predicts_as_before(tmp_path):
    from seqtag.config import DataConfig, ModelConfig
    from seqtag.data.vocab import Vocab, WordVocab, char_vocab
    from seqtag.tasks.classification import Classifier

    words = WordVocab(["<pad>", "<unk>", "the", "final", "won", "rates", "rain"])
    labels = Vocab(["business", "sports", "weather"])
    config = ModelConfig(task="classify", hidden=8, word_dim=8, char_encoder="cnn", char_dim=8, char_hidden=8)
    torch.manual_seed(0)
    chars = char_vocab(words.items[2:])
    old = Classifier(Classifier.build_net(config, words, chars, labels), words, chars, labels, config, DataConfig())
    with torch.no_grad():
        old.net.output.weight.mul_(10)
    new_file = tmp_path / "new.tsv"
    new_file.write_text("label\ttext\npolitics\tThe Zorblax parliament voted\nsports\tQuintar won the final\n",
                        encoding="utf-8")
    new = extended(old, new_file, tokenized=True)
    assert new.labels.items == ["business", "politics", "sports", "weather"]
    assert len(new.chars) > len(old.chars) and "Zorblax" in new.words.items
    texts = [["the", "final"], ["rates", "rain", "won"], ["The", "Zorblax", "parliament"], ["Quintar", "ß"]]
    assert new.predict(texts) == old.predict(texts)
    with torch.inference_mode():
        before, after = old.net.logits(old.collate(texts)), new.net.logits(new.collate(texts))
    index = [new.labels.index[label] for label in old.labels.items]
    torch.testing.assert_close(after[:, index], before)
    torch.testing.assert_close(after[:, new.labels.index["politics"]], before[:, 0] - 5)  # a copy of the first, 5 lower


def test_untrained_extended_multilabel_model_keeps_its_thresholds(tmp_path):
    from seqtag.config import DataConfig, ModelConfig
    from seqtag.data.vocab import Vocab, WordVocab
    from seqtag.tasks.multilabel import MultiLabel

    words = WordVocab(["<pad>", "<unk>", "rain", "goal"])
    labels = Vocab(["sports", "weather"])
    config = ModelConfig(task="multilabel", hidden=8, word_dim=8, char_encoder="none", dropout=0.0)
    torch.manual_seed(0)
    old = MultiLabel(MultiLabel.build_net(config, words, None, labels), words, None, labels, config, DataConfig(),
                     thresholds={"sports": 0.3, "weather": 0.45})
    new_file = tmp_path / "new.ft"
    new_file.write_text("__label__politics __label__weather vote in the rain\n", encoding="utf-8")
    new = extended(old, new_file)
    assert new.thresholds == {"politics": 0.5, "sports": 0.3, "weather": 0.45}
    texts = [["rain"], ["goal", "rain"], ["vote", "in", "the", "rain"]]
    assert new.predict(texts) == old.predict(texts)


def test_cli_continues_with_new_labels_and_rehearsal(trained, new_data, tmp_path):
    output = tmp_path / "more.seqtag"
    result = run("train", "--init-from", trained.model, "--train", new_data, "--rehearse", trained.train,
                 "--dev", trained.dev, "--output", output, "--epochs", "1", "--lr", "0.01")
    assert result.exit_code == 0, result.output
    assert "continuing" in result.stderr and "PROD" in result.stderr
    info = json.loads(run("info", output, "--format", "json").stdout)
    assert "B-PROD" in info["labels"] and "B-PER" in info["labels"]
    model = seqtag.load(output)
    assert model.meta["init_from"] == str(trained.model) and model.meta["rehearse"] == str(trained.train)
    assert model.model_config == seqtag.load(trained.model).model_config


@pytest.mark.parametrize("args, fragment", [
    (["--hidden", "8"], "--hidden: the network is the --init-from model's (hidden = 16)"),
    (["--embeddings", "VECTORS"], "--embeddings: the --init-from model keeps its own vectors"),
    (["--task", "classify"], "--init-from: --task classify given, but"),
])
def test_cli_init_from_errors(trained, new_data, tmp_path, sample_vectors, one_error_line, args, fragment):
    args = [str(sample_vectors) if a == "VECTORS" else a for a in args]
    result = run("train", "--init-from", trained.model, "--train", new_data, "--output", tmp_path / "m.seqtag", *args)
    one_error_line(result, fragment)


def test_rehearse_needs_init_from(trained, new_data, tmp_path, one_error_line):
    result = run("train", "--train", new_data, "--rehearse", trained.train, "--output", tmp_path / "m.seqtag")
    one_error_line(result, "--rehearse: mixes old data into continued training")
