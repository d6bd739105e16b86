"""Sentences and documents of 5,000 tokens: trained on and tagged / classified whole, never dropped or cut."""
from __future__ import annotations

import json
import pathlib

import pytest
from typer.testing import CliRunner

from seqtag.training.train import train_model as train_classifier
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.training.train import train_model as train_tagger

LONG = 5000
PATTERN = [("John", "B-PER"), ("Smith", "I-PER"), ("visited", "O"), ("Berlin", "B-LOC"), ("and", "O"), ("then", "O")]
SMALL = ModelConfig(hidden=8, word_dim=16)


def long_sentence(n: int = LONG) -> list[tuple[str, str]]:
    return [PATTERN[i % len(PATTERN)] for i in range(n)]


@pytest.fixture(scope="module")
def tagging_data(tmp_path_factory, conll_sentences, ner_dir, write_conll) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("long")
    short = conll_sentences(ner_dir / "train.txt", limit=8)
    rows = [[token, "NNP", tag] for token, tag in long_sentence()]
    write_conll(folder / "train.txt", [*short[:4], rows, *short[4:]])
    write_conll(folder / "dev.txt", [rows, *conll_sentences(ner_dir / "dev.txt", limit=3)])
    return folder


@pytest.fixture(scope="module")
def long_tagger(tagging_data):
    """Trained with a --batch-tokens cap below the long sentence's length (it gets a batch of its own)."""
    config = TrainConfig(epochs=2, batch_size=4, batch_tokens=1000, lr=0.01, threads=1)
    tagger, history = train_tagger(tagging_data / "train.txt", tagging_data / "dev.txt", None, DataConfig(), SMALL, config)
    model = tagging_data / "long.seqtag"
    tagger.save(model)
    return tagger, history, model


def test_a_5000_token_sentence_trains_and_tags_whole(long_tagger):
    tagger, history, _ = long_tagger
    assert all(epoch.sentences == 9 for epoch in history.epochs)  # the long one was trained on every epoch
    assert history.epochs[-1].dev  # and scored on dev
    tokens = [token for token, _ in long_sentence()]
    assert [len(tags) for tags in tagger.predict([tokens, tokens[:3]])] == [LONG, 3]


def test_without_a_token_cap_it_shares_a_padded_batch(tagging_data):
    config = TrainConfig(epochs=1, batch_size=4, lr=0.01, threads=1)
    _, history = train_tagger(tagging_data / "train.txt", None, None, DataConfig(), SMALL, config)
    assert history.epochs[0].sentences == 9


def test_cli_tags_a_5000_token_sentence_from_conll_and_raw_text(tagging_data, long_tagger):
    model = long_tagger[2]
    result = CliRunner().invoke(app, ["predict", str(model), str(tagging_data / "dev.txt"), "--input-format", "conll"])
    assert result.exit_code == 0, result.output
    first = result.stdout.split("\n\n")[0].splitlines()
    assert len(first) == LONG and [row.split()[0] for row in first] == [t for t, _ in long_sentence()]

    line = " ".join(token for token, _ in long_sentence())  # no sentence end: syntok keeps it whole
    result = CliRunner().invoke(app, ["predict", str(model), "-", "--format", "jsonl"], input=line + "\n")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert len(record["tokens"]) == len(record["tags"]) == LONG


def test_a_5000_token_document_trains_and_classifies(tmp_path):
    long_text = " ".join(token for token, _ in long_sentence())
    lines = ["label\ttext", f"sports\t{long_text}"] + [f"{'sports' if i % 2 else 'business'}\tshort text {i}" for i in range(7)]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = TrainConfig(epochs=2, batch_size=4, batch_tokens=1000, lr=0.01, threads=1)
    data = DataConfig(tokenized=True)
    classifier, history = train_classifier(
        tmp_path / "train.tsv", tmp_path / "train.tsv", None, data, ModelConfig(hidden=8, word_dim=16, task="classify"), config
    )
    assert all(epoch.sentences == 8 for epoch in history.epochs)
    probabilities = classifier.probabilities([long_text.split()])
    assert len(probabilities[0]) == 2 and abs(sum(probabilities[0]) - 1) < 1e-5
