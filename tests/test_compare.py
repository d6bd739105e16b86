"""`evaluate --compare` (paired bootstrap, approximate randomisation) and `evaluate --errors`: the
vectorised statistics against rescoring every sample with seqeval / scikit-learn, and the CLI on generated data."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2
from sklearn.metrics import f1_score as sklearn_f1
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.evaluation.errors import sentence_errors
from seqtag.evaluation.metrics import example_counts, sentence_counts
from seqtag.evaluation.significance import accuracy, approximate_randomization, compare, f1, macro_f1, paired_bootstrap

runner = CliRunner()
TYPES = ["PER", "LOC", "ORG"]
WORDS = ["a", "b", "c", "d"]


def gold_tags(rng: random.Random, length: int) -> list[str]:
    """Valid IOB2 tags with entities of 1-3 tokens."""
    tags, i = [], 0
    while i < length:
        if rng.random() < 0.35:
            size = min(rng.randint(1, 3), length - i)
            kind = rng.choice(TYPES)
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (size - 1)
            i += size
        else:
            tags.append("O")
            i += 1
    return tags


def noisy(rng: random.Random, tags: list[str], rate: float) -> list[str]:
    """A system's output: each tag replaced by a random one (scheme-breaking ones included) with ``rate``."""
    choices = ["O"] + [f"{p}-{k}" for k in TYPES for p in "BI"]
    return [rng.choice(choices) if rng.random() < rate else t for t in tags]


def corpus(seed: int, sentences: int, rate_a: float, rate_b: float):
    rng = random.Random(seed)
    gold = [gold_tags(rng, rng.randint(1, 12)) for _ in range(sentences)]
    return gold, [noisy(rng, g, rate_a) for g in gold], [noisy(rng, g, rate_b) for g in gold]


def expand(sequences: list, weights: np.ndarray) -> list:
    return [seq for seq, w in zip(sequences, weights) for _ in range(w)]


# ---------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_sentence_counts_give_seqeval_micro_f1(mode):
    gold, pred, _ = corpus(1, 200, 0.2, 0.0)
    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    counts = sentence_counts(gold, pred, "iob2", mode)
    assert counts.shape == (200, 3)
    assert f1(counts.sum(axis=0)) == pytest.approx(f1_score(gold, pred, **kwargs))


def test_plain_counts_give_accuracy():
    gold = [["NN", "VB"], ["DT", "NN", "NN"]]
    pred = [["NN", "NN"], ["DT", "NN", "NN"]]
    counts = sentence_counts(gold, pred, "plain")
    assert counts.tolist() == [[1, 2], [3, 3]]
    assert accuracy(counts.sum(axis=0)) == pytest.approx(4 / 5)


def test_example_counts_give_accuracy_and_sklearn_macro_f1():
    rng = random.Random(3)
    labels = ["a", "b", "c", "d"]
    gold = [rng.choice(labels[:3]) for _ in range(60)]  # "d" is never gold: F1 0 counts in the average
    pred = [g if rng.random() < 0.6 else rng.choice(labels) for g in gold]
    counts = example_counts(gold, pred, labels)
    assert accuracy(counts["accuracy"].sum(axis=0)) == pytest.approx(np.mean([g == p for g, p in zip(gold, pred)]))
    expected = sklearn_f1(gold, pred, labels=labels, average="macro", zero_division=0)
    assert macro_f1(counts["macro_f1"].sum(axis=0)) == pytest.approx(expected)


def test_paired_bootstrap_equals_rescoring_each_sample_with_seqeval():
    gold, a, b = corpus(2, 30, 0.3, 0.1)
    samples = 20
    counts_a, counts_b = sentence_counts(gold, a, "iob2"), sentence_counts(gold, b, "iob2")
    deltas = paired_bootstrap(counts_a, counts_b, f1, samples, np.random.default_rng(5))
    weights = np.random.default_rng(5).multinomial(30, np.full(30, 1 / 30), size=samples)
    expected = [
        f1_score(expand(gold, w), expand(b, w)) - f1_score(expand(gold, w), expand(a, w)) for w in weights
    ]
    assert deltas == pytest.approx(expected)


def test_approximate_randomization_equals_swapping_outputs():
    gold, a, b = corpus(4, 30, 0.3, 0.1)
    samples = 20
    counts_a, counts_b = sentence_counts(gold, a, "iob2"), sentence_counts(gold, b, "iob2")
    deltas = approximate_randomization(counts_a, counts_b, f1, samples, np.random.default_rng(6))
    swaps = np.random.default_rng(6).integers(0, 2, size=(samples, 30))
    expected = []
    for row in swaps:
        new_a = [y if s else x for x, y, s in zip(a, b, row)]
        new_b = [x if s else y for x, y, s in zip(a, b, row)]
        expected.append(f1_score(gold, new_b) - f1_score(gold, new_a))
    assert deltas == pytest.approx(expected)


def test_compare_identical_and_clearly_different_systems():
    gold, a, b = corpus(7, 150, 0.4, 0.02)
    counts_a, counts_b = sentence_counts(gold, a, "iob2"), sentence_counts(gold, b, "iob2")
    same = compare(counts_a, counts_a, "f1", samples=200)
    assert same["difference"] == 0 and same["ci95"] == [0, 0]
    assert same["p_bootstrap"] == 1 and same["p_randomization"] == 1
    better = compare(counts_a, counts_b, "f1", samples=200, seed=3)
    assert better["a"] == pytest.approx(f1_score(gold, a)) and better["b"] == pytest.approx(f1_score(gold, b))
    assert better["ci95"][0] < better["difference"] < better["ci95"][1] and better["ci95"][0] > 0
    assert better["p_bootstrap"] == better["p_randomization"] == pytest.approx(1 / 201)
    assert compare(counts_a, counts_b, "f1", samples=200, seed=3) == better  # seeded: repeatable
    worse = compare(counts_b, counts_a, "f1", samples=200, seed=3)
    assert worse["difference"] == pytest.approx(-better["difference"]) and worse["ci95"][1] < 0


# ---------------------------------------------------------------------------- error analysis


def test_sentence_errors_kinds():
    gold = {("PER", 0, 2), ("LOC", 4, 5), ("ORG", 6, 8), ("PER", 10, 11), ("LOC", 12, 13)}
    pred = {("PER", 0, 2), ("ORG", 4, 5), ("ORG", 6, 9), ("MISC", 14, 15), ("PER", 12, 13)}
    assert sentence_errors(gold, pred) == [
        ("wrong_type", [("LOC", 4, 5)], [("ORG", 4, 5)]),
        ("boundary", [("ORG", 6, 8)], [("ORG", 6, 9)]),
        ("wrong_type", [("LOC", 12, 13)], [("PER", 12, 13)]),
        ("false_positive", [], [("MISC", 14, 15)]),
        ("false_negative", [("PER", 10, 11)], []),
    ]


@pytest.fixture(scope="module")
def prediction_file(write_conll):
    def prediction_file(path, tokens, gold, pred):
        return write_conll(path, [[(w, g, p) for w, g, p in zip(*row)] for row in zip(tokens, gold, pred)])

    return prediction_file


def test_cli_errors_grouped_and_counted(tmp_path, prediction_file):
    tokens = [["John", "met", "Mary", "in", "Paris"], ["Mary", "left", "New", "York"], ["Paris", "won"]]
    gold = [["B-PER", "O", "B-PER", "O", "B-LOC"], ["B-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "O", "B-ORG"], ["O", "B-LOC", "B-LOC", "O"], ["B-LOC", "O"]]
    path = prediction_file(tmp_path / "p.txt", tokens, gold, pred)
    result = runner.invoke(app, ["evaluate", "--predictions", str(path), "--errors", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["micro"]["f1"] == pytest.approx(f1_score(gold, pred))
    errors = report["errors"]
    assert errors["counts"] == {
        "false_positive": {"LOC": 1}, "false_negative": {"PER": 2}, "wrong_type": {"LOC": 1, "ORG": 1}, "boundary": {"LOC": 1},
    }
    (mary,) = errors["errors"]["false_negative"]["PER"]  # "Mary" twice: one group, counted twice
    assert mary["gold"] == "Mary" and mary["count"] == 2 and mary["predicted"] is None
    assert [e["text"] for e in mary["examples"]] == ["John met [Mary] in Paris", "[Mary] left New York"]
    assert [e["line"] for e in mary["examples"]] == [1, 7]
    (york,) = errors["errors"]["boundary"]["LOC"]
    assert (york["gold"], york["predicted"], york["gold_type"], york["predicted_type"]) == ("New York", "New", "LOC", "LOC")
    assert errors["errors"]["wrong_type"]["ORG"][0]["predicted_type"] == "LOC"
    table = runner.invoke(app, ["evaluate", "--predictions", str(path), "--errors"])
    assert table.exit_code == 0 and "false negative: 2" in table.stdout
    assert "1: John met [Mary] in Paris (+1 more)" in table.stdout and "7: Mary [left] New York" in table.stdout


def test_cli_model_errors_account_for_every_mistake(tmp_path, write_conll, random_tagger):
    tagger = random_tagger("crf", "bioes", "iob2")  # knows the types A and B
    model = tmp_path / "m.seqtag"
    tagger.save(model)
    rng = random.Random(0)
    gold = [[t.replace("PER", "A").replace("LOC", "B").replace("ORG", "B") for t in gold_tags(rng, rng.randint(2, 8))] for _ in range(40)]
    tokens = [[rng.choice(WORDS) for _ in tags] for tags in gold]
    data = write_conll(tmp_path / "gold.txt", [list(zip(words, tags)) for words, tags in zip(tokens, gold)])
    result = runner.invoke(app, ["evaluate", str(model), str(data), "--errors", "--format", "json"])
    assert result.exit_code == 0, result.output
    counts = {kind: sum(by_type.values()) for kind, by_type in json.loads(result.stdout)["errors"]["counts"].items()}
    gold_spans = {(i, *e) for i, tags in enumerate(gold) for e in get_entities(tags)}
    pred_spans = {(i, *e) for i, tags in enumerate(tagger.predict(tokens)) for e in get_entities(tags)}
    # Every predicted entity that is not correct is exactly one false positive, wrong type or boundary error;
    # a missed gold entity is a false negative unless a wrong type or boundary error involves it.
    assert counts["false_positive"] + counts["wrong_type"] + counts["boundary"] == len(pred_spans - gold_spans) > 0
    assert 0 < counts["false_negative"] <= len(gold_spans - pred_spans)


# ---------------------------------------------------------------------------- --compare through the CLI


@pytest.fixture(scope="module")
def system_file(write_conll):
    def system_file(path, tokens, gold, pred):
        """What `seqtag predict --input-format conll` writes: the input columns, then the predicted tag."""
        return write_conll(path, [[(w, "X", g, p) for w, g, p in zip(*row)] for row in zip(tokens, gold, pred)])

    return system_file


@pytest.fixture
def systems(tmp_path, system_file, write_conll):
    gold, a, b = corpus(11, 80, 0.3, 0.05)
    rng = random.Random(1)
    tokens = [[rng.choice(WORDS) for _ in g] for g in gold]
    gold_file = write_conll(tmp_path / "gold.txt", [list(zip(t, ["X"] * len(t), g)) for t, g in zip(tokens, gold)])
    return gold_file, system_file(tmp_path / "a.conll", tokens, gold, a), system_file(tmp_path / "b.conll", tokens, gold, b), (gold, a, b)


def test_cli_compare_taggers(systems, tmp_path, random_tagger):
    gold_file, a_file, b_file, (gold, a, b) = systems
    result = runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(b_file), "--format", "json", "--samples", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["unit"], report["items"], report["samples"], report["a"]) == ("sentences", 80, 300, str(a_file))
    row = report["metrics"]["f1"]
    assert row["a"] == pytest.approx(f1_score(gold, a)) and row["b"] == pytest.approx(f1_score(gold, b))
    assert row["p_bootstrap"] < 0.05 and row["ci95"][0] > 0
    # With a model file first, the model says how to read DATA (same result here).
    model = tmp_path / "m.seqtag"
    random_tagger("crf", "bioes", "iob2").save(model)
    with_model = runner.invoke(app, ["evaluate", str(model), str(gold_file), "--compare", str(a_file), str(b_file), "--format", "json", "--samples", "300"])
    assert json.loads(with_model.stdout)["metrics"] == report["metrics"]
    table = runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(b_file), "--samples", "50"])
    assert table.exit_code == 0 and "95% interval" in table.stdout and "f1" in table.stdout


def test_cli_compare_classifiers(tmp_path, write_file):
    rng = random.Random(2)
    labels = ["pos", "neg", "neutral"]
    gold = [rng.choice(labels) for _ in range(90)]
    a = [g if rng.random() < 0.6 else rng.choice(labels) for g in gold]
    b = [g if rng.random() < 0.9 else rng.choice(labels) for g in gold]
    data = write_file(tmp_path / "test.tsv", "label\ttext\n" + "".join(f"{g}\tsome text {i}\n" for i, g in enumerate(gold)))
    a_file = write_file(tmp_path / "a.txt", "".join(x + "\n" for x in a))
    b_file = write_file(tmp_path / "b.txt", "".join(x + "\n" for x in b))
    result = runner.invoke(app, ["evaluate", str(data), "--compare", str(a_file), str(b_file), "--format", "json", "--samples", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["task"], report["unit"], report["items"]) == ("classify", "examples", 90)
    metrics = report["metrics"]
    assert metrics["accuracy"]["b"] == pytest.approx(np.mean([g == x for g, x in zip(gold, b)]))
    assert metrics["macro_f1"]["a"] == pytest.approx(sklearn_f1(gold, a, average="macro"))
    short = write_file(tmp_path / "short.txt", "".join(x + "\n" for x in b[:-1]))
    error = runner.invoke(app, ["evaluate", str(data), "--compare", str(a_file), str(short)])
    assert error.exit_code == 2 and f"{short}: 89 labels (one per line), but {data} has 90 examples" in error.stderr


def test_cli_compare_errors(systems, tmp_path, one_error_line, write_file):
    gold_file, a_file, b_file, (gold, a, b) = systems
    fewer = write_file(tmp_path / "fewer.conll", "\n\n".join(b_file.read_text().split("\n\n")[:-2]) + "\n")
    one_error_line(runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(fewer)]),
                   str(fewer), "79 sentences", "has 80")
    blocks = b_file.read_text().split("\n\n")
    blocks[2] = blocks[2] + "\nextra X O O"
    longer = write_file(tmp_path / "longer.conll", "\n\n".join(blocks))
    line = sum(len(block.splitlines()) + 1 for block in blocks[:2]) + 1
    one_error_line(runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(longer)]),
                   f"{longer}:{line}: sentence 3 has {len(gold[2]) + 1} tokens, but {len(gold[2])} in {gold_file}")
    one_error_line(runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(b_file), "--errors"]), "--compare")
    one_error_line(runner.invoke(app, ["evaluate", str(gold_file), "--compare", str(a_file), str(b_file), "--samples", "0"]), "--samples")
    one_error_line(runner.invoke(app, ["evaluate", "--compare", str(a_file), str(b_file)]), "gold DATA")
