"""Classifiers: pooling contracts, learning, archive round trip, and the CLI end to end on generated data."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from seqtag.data.batching import Collator
from seqtag.tasks.classification import Classifier
from seqtag.training.train import train_model as train_classifier
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.models.classifier import POOLINGS, ClassifierNet
from seqtag.data.vocab import Vocab, WordVocab

POSITIVE = ["great", "superb", "lovely", "moving", "brilliant"]
NEGATIVE = ["awful", "dull", "boring", "clumsy", "tedious"]
FILLER = ["the", "film", "was", "a", "plot", "and", "acting", "really", "quite", "story"]


def texts(count: int, seed: int) -> list[tuple[str, str]]:
    """(label, text) pairs whose label is decided by one planted sentiment word among filler."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(FILLER, k=rng.randint(3, 12))
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label == "pos" else NEGATIVE))
        rows.append((label, " ".join(words)))
    return rows


def write_tsv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return path


SMALL = dict(hidden=16, char_encoder="none", word_dim=16, dropout=0.0)


def tiny_net(pooling: str) -> tuple[ClassifierNet, Collator]:
    words = WordVocab(["<pad>", "<unk>", *POSITIVE, *NEGATIVE, *FILLER])
    config = ModelConfig(task="classify", pooling=pooling, **SMALL)
    torch.manual_seed(0)
    return ClassifierNet(config, len(words), 1, 2).eval(), Collator(words, None, Vocab(["neg", "pos"]))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_does_not_change_probabilities(pooling):
    net, collate = tiny_net(pooling)
    short = "the film was great".split()
    long = "the acting was really quite dull and the plot boring".split()
    with torch.inference_mode():
        alone = net.probabilities(collate([short]))
        batched = net.probabilities(collate([short, long]))
    assert batched.shape == (2, 2)
    torch.testing.assert_close(alone[0], batched[0])
    torch.testing.assert_close(batched.sum(dim=1), torch.ones(2))


def test_mean_max_is_mean_and_max_side_by_side():
    net, collate = tiny_net("mean-max")
    batch = collate(["the film was great".split(), "dull".split()])
    with torch.inference_mode():
        states = net.encoder(batch)
        pooled = net.pool(states, batch)
        net.pooling = "mean"
        mean = net.pool(states, batch)
        net.pooling = "max"
        top = net.pool(states, batch)
    torch.testing.assert_close(pooled, torch.cat([mean, top], dim=1))
    assert pooled.shape == (2, 2 * net.encoder.output_dim)


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="expected pooling"):
        ClassifierNet(ModelConfig(pooling="median"), 10, 1, 2)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_each_pooling_learns_planted_words(tmp_path, pooling):
    train = write_tsv(tmp_path / "train.tsv", texts(160, seed=1))
    dev = write_tsv(tmp_path / "dev.tsv", texts(60, seed=2))
    model, history = train_classifier(
        train, dev, None, DataConfig(), ModelConfig(task="classify", pooling=pooling, **SMALL),
        TrainConfig(epochs=12, lr=0.01, patience=12),
    )
    assert history.best is not None and history.best.dev["accuracy"] >= 0.95
    held_out = texts(60, seed=3)
    predicted = model.predict([text.split() for _, text in held_out])
    assert sum(p == gold for p, (gold, _) in zip(predicted, held_out)) >= 55


def test_archive_round_trip_gives_identical_probabilities(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", texts(80, seed=1))
    model, _ = train_classifier(
        train, None, None, DataConfig(), ModelConfig(task="classify", pooling="attention", **SMALL), TrainConfig(epochs=2)
    )
    model.save(tmp_path / "clf.seqtag")
    loaded = Classifier.load(tmp_path / "clf.seqtag")
    batch = [text.split() for _, text in texts(30, seed=4)] + [[]]
    assert loaded.probabilities(batch) == model.probabilities(batch)
    assert loaded.probabilities(batch)[-1] == []
    assert loaded.labels.items == ["neg", "pos"]


def test_long_documents_truncate_and_batch_by_tokens(tmp_path):
    rows = [(label, " ".join([text] * 40)) for label, text in texts(40, seed=5)]  # hundreds of tokens each
    train = write_tsv(tmp_path / "train.tsv", rows)
    model, _ = train_classifier(
        train, None, None, DataConfig(max_tokens=50), ModelConfig(task="classify", **SMALL),
        TrainConfig(epochs=1, batch_tokens=200),
    )
    examples = list(model.read(train, "tsv", with_labels=True))
    assert max(len(e.tokens) for e in examples) == 50


# ---------------------------------------------------------------------------- CLI

runner = CliRunner()


def formats(rows: list[tuple[str, str]]) -> dict[str, str]:
    return {
        "train.tsv": "label\ttext\n" + "".join(f"{l}\t{t}\n" for l, t in rows),
        "train.txt": "".join(f"{l} {t}\n" for l, t in rows),  # Kim-2014 "<label> <text>"
        "train.ft": "".join(f"__label__{l} {t}\n" for l, t in rows),
        "train.jsonl": "".join(json.dumps({"text": t, "label": l}) + "\n" for l, t in rows),
        "train.lt": "".join(f"{l}\t{t}\n" for l, t in rows),
    }


@pytest.mark.parametrize("name", ["train.tsv", "train.txt", "train.ft", "train.jsonl", "train.lt"])
def test_cli_train_evaluate_predict(tmp_path, name):
    train = tmp_path / name
    train.write_text(formats(texts(120, seed=1))[name], encoding="utf-8")
    dev = write_tsv(tmp_path / "dev.tsv", texts(40, seed=2))
    model = tmp_path / "clf.seqtag"
    result = runner.invoke(app, ["train", "--train", str(train), "--output", str(model), "--epochs", "8",
                                 "--hidden", "16", "--char-encoder", "none", "--lr", "0.01", "--dropout", "0"])
    assert result.exit_code == 0, result.stderr
    assert "task: classify" in result.stderr and result.stdout == ""

    result = runner.invoke(app, ["evaluate", str(model), str(dev), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accuracy"] >= 0.9
    assert set(report["per_class"]) == {"neg", "pos"} and len(report["confusion"]) == 2
    assert sum(map(sum, report["confusion"])) == 40

    table = runner.invoke(app, ["evaluate", str(model), str(dev)])
    assert "confusion" in table.stdout and "macro avg" in table.stdout

    text = "the film was superb\n\nboring and tedious plot\n"
    labels = runner.invoke(app, ["predict", str(model), "-"], input=text)
    assert labels.exit_code == 0, labels.stderr
    assert labels.stdout.splitlines() == ["pos", "", "neg"]

    jsonl = runner.invoke(app, ["predict", str(model), "-", "--format", "jsonl", "--top-k", "1"], input=text)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert records[1] == {} and records[0]["label"] == "pos" and list(records[0]["probabilities"]) == ["pos"]
    assert records[2]["line"] == 3


def test_cli_classifier_errors(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", texts(40, seed=1))
    dev = tmp_path / "dev.tsv"
    dev.write_text("label\ttext\npos\tgreat film\nmeh\tso so\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--train", str(train), "--dev", str(dev), "--output", str(tmp_path / "m.seqtag")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"seqtag: error: {dev}:3: label 'meh' does not occur in the training data"]
    assert not (tmp_path / "m.seqtag").exists()

    model = tmp_path / "ok.seqtag"
    assert runner.invoke(app, ["train", "--train", str(train), "--output", str(model), "--epochs", "1",
                               "--hidden", "8", "--char-encoder", "none"]).exit_code == 0
    wrong = runner.invoke(app, ["predict", str(model), str(train), "--input-format", "conll"])
    assert wrong.exit_code == 2 and "--input-format conll is tagging data, but this model is a classifier" in wrong.stderr
    unknown = runner.invoke(app, ["evaluate", str(model), str(dev)])
    assert unknown.exit_code == 2 and f"{dev}:3:" in unknown.stderr and "Traceback" not in unknown.output
