"""Multi-label classification (`--task multilabel`): label lists in fastText, JSONL and Doccano data (read,
detected, written back), sigmoid outputs with per-label thresholds tuned on dev, scores, predictions, the
data check and significance tests, all through the task protocol."""
from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

import seqtag
from seqtag.cli import app
from seqtag.formats.classification import LIST_FORMATS, WRITE_FORMATS, format_example, read_examples
from seqtag.formats.registry import detect_task

runner = CliRunner()
TOPICS = {
    "sports": ["striker", "goal", "match", "coach", "league"],
    "business": ["shares", "profit", "bank", "market", "merger"],
    "weather": ["storm", "rain", "snow", "forecast", "wind"],
}
FILLER = ["the", "a", "after", "in", "was", "today", "and", "report"]


def run(*args, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def make_examples(count: int, seed: int) -> list[tuple[list[str], str]]:
    """(labels, text): each text mixes the words of one to three topics."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        labels = sorted(rng.sample(sorted(TOPICS), rng.choice([1, 1, 2, 2, 3])))
        words = [rng.choice(TOPICS[label]) for label in labels for _ in range(2)] + rng.sample(FILLER, 3)
        rng.shuffle(words)
        examples.append((labels, " ".join(words)))
    return examples


def write_fasttext(path, examples):
    path.write_text("".join(format_example(labels, text, "fasttext") for labels, text in examples), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multilabel")
    return {
        "train": write_fasttext(folder / "train.ft", make_examples(240, 1)),
        "dev": write_fasttext(folder / "dev.ft", make_examples(60, 2)),
        "test": write_fasttext(folder / "test.ft", make_examples(60, 3)),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def model_path(files):
    output = files["folder"] / "topics.seqtag"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(files["folder"] / "cache"))
        result = seqtag.train(files["train"], files["dev"], output=output, hidden=16, epochs=2, lr=0.01,
                              char_encoder="none", word_dim=16, batch_size=16)
    assert result.model.task == "multilabel"
    return output


# ---------------------------------------------------------------------------- reading and writing label lists


def test_fasttext_jsonl_and_doccano_label_lists(tmp_path):
    fasttext = tmp_path / "a.ft"
    fasttext.write_text("__label__sports __label__news __label__sports big win\n__label__news rates up\n", encoding="utf-8")
    first, second = read_examples(fasttext, tokenized=True)
    assert (first.label, first.labels, first.text) == ("sports", ["sports", "news"], "big win")  # duplicates once
    assert (second.label, second.labels, second.label_set()) == ("news", None, ["news"])
    doccano = tmp_path / "doccano.jsonl"
    doccano.write_text('{"id": 1, "text": "big win", "label": ["sports", "news"]}\n'
                       '{"id": 2, "data": "rates up", "label": []}\n'
                       '{"id": 3, "text": "rain", "labels": ["weather"]}\n', encoding="utf-8")
    found = list(read_examples(doccano, tokenized=True))
    assert [(e.label_set(), e.text) for e in found] == [(["sports", "news"], "big win"), ([], "rates up"), (["weather"], "rain")]
    assert detect_task(fasttext) == detect_task(doccano) == "multilabel"
    single = tmp_path / "single.jsonl"
    single.write_text('{"text": "big win", "label": "sports"}\n', encoding="utf-8")
    assert detect_task(single) == "classify"


@pytest.mark.parametrize("bad, fragment", [
    ('{"text": "a", "label": ["x", {"y": 1}]}\n', "an item of 'label' must be a string or an integer"),
    ('{"text": "a", "label": ["x", ""]}\n', "empty label"),
])
def test_bad_label_lists_are_errors_at_their_line(tmp_path, bad, fragment):
    from seqtag.errors import InputError

    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "label": ["x"]}\n' + bad, encoding="utf-8")
    with pytest.raises(InputError, match=fragment) as caught:
        list(read_examples(path))
    assert caught.value.line == 2


@pytest.mark.parametrize("source", LIST_FORMATS)
@pytest.mark.parametrize("target", LIST_FORMATS)
def test_round_trip_through_every_format_with_label_lists(tmp_path, source, target):
    examples = [(["business", "weather"], "Storm hits the market"), (["sports"], "A late goal"),
                (["business", "sports", "weather"], "Rain stops the match ; shares fall")]
    first = tmp_path / f"in.{source}"
    first.write_text("".join(format_example(labels, text, source) for labels, text in examples), encoding="utf-8")
    converted = run("convert", first, "--output-format", target)
    assert converted.exit_code == 0, converted.output
    second = tmp_path / f"out.{target}"
    second.write_text(converted.stdout, encoding="utf-8")
    for path in (first, second):
        assert [(sorted(e.label_set()), e.text) for e in read_examples(path)] == [(sorted(l), t) for l, t in examples]
        assert detect_task(path) == "multilabel"


def test_formats_without_lists_refuse_several_labels(tmp_path, one_error_line):
    for fmt in set(WRITE_FORMATS) - set(LIST_FORMATS):
        with pytest.raises(ValueError, match=f"{fmt} holds one label per text"):
            format_example(["a", "b"], "text", fmt)
        assert format_example(["a"], "text", fmt) == format_example("a", "text", fmt)
    path = tmp_path / "two.ft"
    path.write_text("__label__a __label__b some text\n", encoding="utf-8")
    one_error_line(run("convert", path, "--output-format", "tsv"), "two.ft:1:", "tsv holds one label per text")


# ---------------------------------------------------------------------------- training and the model file


def test_trained_model_round_trips_and_predicts_label_sets(model_path, files):
    from seqtag.tasks.multilabel import GRID, MultiLabel

    model = seqtag.load(model_path)
    assert isinstance(model, MultiLabel) and model.labels.items == ["business", "sports", "weather"]
    assert all(t in GRID for t in model.thresholds.values())
    assert model.meta["thresholds"] == "tuned on dev"
    texts = [["storm", "and", "goal"], ["shares", "fell"], []]
    probabilities = model.probabilities(texts)
    assert probabilities[2] == [] and all(0 <= p <= 1 for p in probabilities[0])
    predicted = model.predict(texts)
    for probs, labels in zip(probabilities[:2], predicted):
        assert set(labels) == {l for l, p in zip(model.labels.items, probs) if p >= model.thresholds[l]}
    assert predicted[2] == []
    result = model("storm and goal")
    assert set(result.labels) <= set(model.labels.items) and list(result.probabilities) == sorted(
        result.probabilities, key=lambda label: -result.probabilities[label])
    copy = files["folder"] / "copy.seqtag"
    model.save(copy)
    again = seqtag.load(copy)
    assert again.thresholds == model.thresholds and again.probabilities(texts) == probabilities


def test_single_label_task_refuses_label_lists(files, tmp_path, one_error_line):
    result = run("train", "--train", files["train"], "--task", "classify", "--output", tmp_path / "m.seqtag",
                 "--epochs", "1", "--hidden", "8", "--char-encoder", "none")
    one_error_line(result, "train.ft:", "labels", "--task multilabel")


def test_tune_thresholds_picks_each_labels_best_f1():
    from seqtag.tasks.multilabel import DEFAULT_THRESHOLD, tune_thresholds

    gold = [["a"], ["a"], [], ["b"]]
    probabilities = [[0.32, 0.1], [0.42, 0.2], [0.22, 0.3], [0.12, 0.9]]
    thresholds = tune_thresholds(gold, probabilities, ["a", "b", "c"][:2])
    assert thresholds["a"] == 0.3  # 0.25 .. 0.3 separate a perfectly; 0.3 is nearest 0.5
    assert thresholds["b"] == 0.5  # 0.35 .. 0.9 all perfect: the one nearest 0.5
    assert tune_thresholds([[]], [[0.7]], ["z"]) == {"z": DEFAULT_THRESHOLD}


# ---------------------------------------------------------------------------- predict, evaluate, data check


def test_predict_label_lines_and_jsonl(model_path, files):
    model = seqtag.load(model_path)
    text = "storm and goal\n\nshares fell in the market\n"
    lines = run("predict", model_path, "-", input=text)
    assert lines.exit_code == 0, lines.output
    assert lines.stdout.count("\n") == 3
    records = [json.loads(line) for line in run("predict", model_path, "-", "--format", "jsonl", input=text).stdout.splitlines()]
    assert records[1] == {}
    for line, record in zip(lines.stdout.split("\n"), records):
        if not record:
            continue
        assert (line.split("\t") if line else []) == record["labels"]
        clear = {l: p for l, p in record["probabilities"].items() if abs(p - model.thresholds[l]) > 1e-5}
        assert {l for l in clear if clear[l] >= model.thresholds[l]} == {l for l in record["labels"] if l in clear}
    above = [json.loads(line) for line in run("predict", model_path, "-", "--min-confidence", "0.3", "--format", "jsonl",
                                              "--top-k", "1", input=text).stdout.splitlines()]
    for record in above:
        if record:
            assert len(record["probabilities"]) == 1
            full = model(text.splitlines()[record["line"] - 1]).probabilities
            clear = [label for label, p in full.items() if abs(p - 0.3) > 1e-4]
            assert [l for l in record["labels"] if l in clear] == [l for l in clear if full[l] >= 0.3]


@pytest.mark.parametrize("args, fragment", [
    (["--confidence"], "--confidence: is for taggers and single-label classifiers"),
    (["--nbest", "2", "--format", "jsonl"], "--nbest: is for taggers"),
    (["--min-confidence", "0"], "--min-confidence: must be a probability"),
    (["--top-k", "2", "--format", "conll"], "--top-k: needs --format jsonl"),
])
def test_predict_option_errors(model_path, args, fragment, one_error_line):
    one_error_line(run("predict", model_path, "-", *args, input="storm\n"), fragment)


def test_evaluate_scores_match_scikit_learn(model_path, files, tmp_path, check_png):
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    result = run("evaluate", model_path, files["test"], "--format", "json", "--errors", "--min-confidence", "0.5",
                 "--pr-curve", tmp_path / "pr.png", "--plot", tmp_path / "confusion.png")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    predicted = run("predict", model_path, files["test"])
    pred = [line.split("\t") if line else [] for line in predicted.stdout.splitlines()]
    gold = [e.label_set() for e in read_examples(files["test"])]
    binarize = MultiLabelBinarizer(classes=report["labels"]).fit([])
    y_true, y_pred = binarize.transform(gold), binarize.transform(pred)
    for average in ("micro", "macro", "samples"):
        expected = f1_score(y_true, y_pred, average=average, zero_division=1 if average == "samples" else 0)
        assert report[average]["f1"] == pytest.approx(expected)
    assert report["score"] == report["micro"]["f1"]
    assert set(report["per_class"]) == {"business", "sports", "weather"}
    assert set(report["thresholds"]) == set(report["labels"])
    assert set(report["errors"]["counts"]) == {"missed_label", "spurious_label"}
    assert report["min_confidence"]["threshold"] == 0.5 and "samples" in report["min_confidence"]
    assert report["pr_curve"] and all(0 <= point["recall"] <= 1 for point in report["pr_curve"])
    check_png(tmp_path / "pr.png")
    check_png(tmp_path / "confusion.png")
    table = run("evaluate", model_path, files["test"])
    assert table.exit_code == 0, table.output
    assert "samples avg" in table.stdout and "exact match" in table.stdout


def test_compare_two_systems(model_path, files, tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(run("predict", model_path, files["test"]).stdout, encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("".join("\t".join(e.label_set()) + "\n" for e in read_examples(files["test"])), encoding="utf-8")  # gold
    result = run("evaluate", model_path, files["test"], "--compare", a, b, "--format", "json", "--samples", "50")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert set(metrics) == {"f1", "macro_f1"} and metrics["f1"]["b"] == 1.0


def test_data_check_counts_each_label(files):
    result = run("data", "check", files["train"], "--dev", files["dev"], "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["task"] == "multilabel"
    expected = {}
    for example in read_examples(files["train"]):
        for label in example.label_set():
            expected[label] = expected.get(label, 0) + 1
    assert report["stats"]["train"]["labels"] == expected


def test_info_describes_the_output(model_path):
    result = run("info", model_path)
    assert result.exit_code == 0, result.output
    assert "multilabel" in result.stdout and "sigmoid" in result.stdout
