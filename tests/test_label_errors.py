"""`seqtag data check --find-label-errors --folds K`: cross-validated models find labels planted wrong in
generated data (classification through cleanlab, tagging through span probabilities)."""
from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.tools.datacheck import find_label_errors

runner = CliRunner()
TINY = {"hidden": 16, "word_dim": 16, "char_encoder": "none", "epochs": 6, "lr": 0.01, "batch_size": 16, "dropout": 0.0}
TOPICS = {
    "sports": ["striker", "goal", "match", "coach", "league", "referee"],
    "business": ["shares", "profit", "bank", "market", "merger", "investor"],
    "weather": ["storm", "rain", "snow", "forecast", "wind", "fog"],
}
FILLER = ["the", "a", "after", "in", "was", "today", "and", "report"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def noisy_texts(tmp_path):
    """240 topic texts, 12 of them (5 %) with a wrong label; their lines."""
    rng = random.Random(3)
    rows, planted = ["label\ttext"], set()
    for line in range(2, 242):
        label = rng.choice(sorted(TOPICS))
        text = " ".join(rng.sample(TOPICS[label], 3) + rng.sample(FILLER, 2))
        if line % 20 == 7:
            label = rng.choice([other for other in TOPICS if other != label])
            planted.add(line)
        rows.append(f"{label}\t{text}")
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path, planted


def test_classification_finds_planted_errors(noisy_texts):
    path, planted = noisy_texts
    found = find_label_errors(path, folds=3, settings=TINY)
    assert found["task"] == "classify" and found["folds"] == 3 and found["records"] == 240
    flagged = [issue["line"] for issue in found["issues"]]
    top = set(flagged[: len(planted)])
    assert len(top & planted) >= 0.75 * len(planted), (sorted(top), sorted(planted))
    for issue in found["issues"]:
        assert issue["suggested"] != issue["gold"] or issue["line"] not in planted
        assert 0 <= issue["gold_probability"] <= 1


PEOPLE = ["Elena", "Sato", "Müller", "Okafor", "Lindqvist", "Ramos"]
PLACES = ["Berlin", "Lagos", "Montreal", "Osaka", "Quito", "Tromsø"]
VERBS = ["visited", "left", "reached", "toured"]


@pytest.fixture
def noisy_sentences(tmp_path):
    """300 sentences `PER verb LOC .`; 15 of them (5 %) with a swapped type or a shifted boundary."""
    rng = random.Random(5)
    lines, planted, at = [], set(), 1
    for n in range(300):
        person, verb, place = rng.choice(PEOPLE), rng.choice(VERBS), rng.choice(PLACES)
        tags = ["B-PER", "O", "B-LOC", "O"]
        if n % 20 == 9:
            tags = ["B-LOC", "O", "B-LOC", "O"] if n % 40 == 9 else ["B-PER", "I-PER", "B-LOC", "O"]
            planted.add(at)  # the sentence's first line: where both kinds of error start
        for token, tag in zip([person, verb, place, "."], tags):
            lines.append(f"{token} {tag}")
        lines.append("")
        at += 5
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, planted


def test_tagging_finds_planted_errors(noisy_sentences):
    path, planted = noisy_sentences
    found = find_label_errors(path, folds=3, settings=TINY | {"epochs": 4})
    assert found["task"] == "tag"
    flagged = [issue["line"] for issue in found["issues"]]
    top = set(flagged[: len(planted)])
    assert len(top & planted) >= 0.75 * len(planted), (found["issues"][:20], sorted(planted))
    swapped = next(issue for issue in found["issues"] if issue["line"] == min(planted))
    assert swapped["gold"].startswith("LOC: ") and swapped["suggested"].startswith("PER: ")
    assert swapped["suggested_probability"] > swapped["gold_probability"]


def test_cli_lists_them_with_file_and_line(noisy_texts, tmp_path):
    path, planted = noisy_texts
    config = tmp_path / "tiny.toml"
    config.write_text("".join(f"{k.replace('_', '-')} = {json.dumps(v)}\n" for k, v in TINY.items()), encoding="utf-8")
    result = run("data", "check", path, "--find-label-errors", "--folds", "2", "--config", config, "--top", "5")
    assert result.exit_code == 0, result.output
    assert "label errors" in result.stdout and "2-fold cross-validation" in result.stdout
    listed = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(f"{path}:")]
    assert 1 <= len(listed) <= 5 and "→" in listed[0]
    assert "fold 1 of 2" in result.stderr and "fold 2 of 2" in result.stderr


def test_options_need_find_label_errors(noisy_texts, one_error_line):
    path, _ = noisy_texts
    one_error_line(run("data", "check", path, "--folds", "3"), "--folds: is for --find-label-errors")
    one_error_line(run("data", "check", path, "--find-label-errors", "--folds", "1"), "--folds: must be between 2")


def test_multilabel_data_goes_through_cleanlabs_multilabel_filter(tmp_path):
    """Texts of one or two topics; every 20th has a topic label swapped for another."""
    rng = random.Random(7)
    lines, planted = [], set()
    for line in range(1, 201):
        topics = sorted(rng.sample(sorted(TOPICS), rng.choice([1, 2])))
        text = " ".join(word for topic in topics for word in rng.sample(TOPICS[topic], 2)) + " " + rng.choice(FILLER)
        labels = topics
        if line % 20 == 5:
            labels = sorted(set(TOPICS) - set(topics))[:1] + topics[1:]
            planted.add(line)
        lines.append(" ".join(f"__label__{label}" for label in labels) + " " + text)
    path = tmp_path / "train.ft"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = find_label_errors(path, folds=2, settings=TINY)
    assert found["task"] == "multilabel"
    top = {issue["line"] for issue in found["issues"][: len(planted)]}
    assert len(top & planted) >= 0.6 * len(planted), (found["issues"][:12], sorted(planted))
    assert all(0 <= issue["gold_probability"] <= 1 for issue in found["issues"])
