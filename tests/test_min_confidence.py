"""`predict --min-confidence P` and `evaluate --min-confidence P / --pr-curve`: every entity at least P
probable (on the best path or not, overlapping or not), checked against brute-force enumeration of all tag
sequences; the set's scores and the precision-recall curve."""
from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.data.schemes import spans
from seqtag.evaluation.metrics import span_set_report, threshold_curve

runner = CliRunner()
SENTENCES = [["a"], ["b", "c", "a"], ["c", "a", "b", "d"], ["d", "d", "a", "c"]]
NEAR = 1e-6  # entities this close to the threshold are left out of set comparisons (rounding decides them)


def run(*args, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


# ---------------------------------------------------------------------------- the CRF primitive


@pytest.mark.parametrize("seed, num_tags, constrained", [(0, 3, False), (1, 4, True), (3, 3, True)])
def test_labelled_segment_marginals_match_brute_force(seed, num_tags, constrained, enumerate_paths, logsumexp,
                                                      make_case, random_constraints):
    """Overlapping segments of one sequence, each with its own tags and stop tag."""
    constraints = random_constraints(seed, num_tags) if constrained else None
    crf, emissions, mask = make_case(seed, num_tags, constraints)
    paths = enumerate_paths(crf, emissions, mask, constraints)
    segments, rows, stops, expected = [], [], [], []
    width = mask.shape[1]
    for b, scored in enumerate(paths):
        length = len(scored[0][1])
        log_z = logsumexp([score for score, _ in scored])
        for (start, end), source in itertools.product(itertools.combinations(range(length + 1), 2), (0, 2)):
            tags = list(scored[source % len(scored)][1][start:end])  # the tags of a likely and a less likely path
            for stop in (-1, 1):
                segments.append((b, start, end))
                rows.append(tags + [0] * (width - len(tags)))
                stops.append(stop)
                expected.append(sum(
                    math.exp(score - log_z)
                    for score, other in scored
                    if list(other[start:end]) == tags and not (stop >= 0 and end < length and other[end] == stop)
                ))
    got = crf.labelled_segment_marginals(emissions, mask, torch.tensor(segments), torch.tensor(rows), torch.tensor(stops))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- taggers against enumeration


def spelled(tags: list[str], kind: str, start: int, end: int, scheme: str) -> bool:
    """Whether ``tags`` spell exactly the entity (kind, start, end) in the model scheme."""
    if scheme == "bioes":
        want = [f"S-{kind}"] if end - start == 1 else [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 2) + [f"E-{kind}"]
        return tags[start:end] == want
    want = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags[start:end] == want and not (end < len(tags) and tags[end] == f"I-{kind}")


def brute_force_entities(tagger, tokens: list[str], distribution) -> dict[tuple[str, int, int], float]:
    """The probability of every possible entity of ``tokens``, by summing over all tag sequences
    (``distribution``: the tagger_distribution fixture)."""
    paths, probs = distribution(tagger, tokens)
    named = [[tagger.labels.items[t] for t in path] for path in paths]
    kinds = sorted({tag[2:] for tag in tagger.labels.items if tag != "O"})
    found = {}
    for kind, (start, end) in itertools.product(kinds, itertools.combinations(range(len(tokens) + 1), 2)):
        found[(kind, start, end)] = sum(q for tags, q in zip(named, probs) if spelled(tags, kind, start, end, tagger.model_scheme))
        if tagger.net.crf is not None:  # under the scheme's constraints, "spelled" is what the scheme reads
            assert found[(kind, start, end)] == pytest.approx(
                sum(q for tags, q in zip(named, probs) if (kind, start, end) in spans(tags, tagger.model_scheme)), abs=1e-9)
    return found


CASES = [
    ("crf", "bioes", "iob2"),
    ("crf", "iob2", "iob2"),
    ("crf", "bioes", "iob1"),
    ("softmax", "bioes", "iob2"),
    ("softmax", "iob2", "iob2"),
]


@pytest.mark.parametrize("head, train_scheme, data_scheme", CASES)
@pytest.mark.parametrize("threshold", [0.02, 0.3, 0.6])
def test_entities_above_threshold_match_brute_force(head, train_scheme, data_scheme, threshold, random_tagger,
                                                      tagger_distribution):
    tagger = random_tagger(head, train_scheme, data_scheme)
    details = tagger.predict_details(SENTENCES + [[]], min_confidence=threshold)
    assert details[-1].candidates == [] and details[-1].tags == []
    assert [d.tags for d in details] == tagger.predict(SENTENCES + [[]])  # the best path is unchanged
    overlapping = 0
    for tokens, found in zip(SENTENCES, details):
        expected = brute_force_entities(tagger, tokens, tagger_distribution)
        got = {(kind, start, end): p for kind, start, end, p, _ in found.candidates}
        assert len(got) == len(found.candidates)  # each entity once
        clear = {span for span, p in expected.items() if abs(p - threshold) > NEAR}
        assert {span for span in got if span in clear} == {span for span in clear if expected[span] >= threshold}
        for span, p in got.items():
            assert p == pytest.approx(expected[span], abs=1e-5), (tokens, span)
        best = set(spans(found.tags, data_scheme))
        assert all(on_best == ((kind, start, end) in best) for kind, start, end, _, on_best in found.candidates)
        # ordered by start, then most probable first
        keys = [(start, -p) for _, start, _, p, _ in found.candidates]
        assert keys == sorted(keys)
        overlapping += sum(a[1] < b[2] and b[1] < a[2] for a, b in itertools.combinations(found.candidates, 2))
        if threshold > 0.5:  # overlapping entities exclude each other: two cannot both pass 0.5
            assert not any(a[1] < b[2] and b[1] < a[2] for a, b in itertools.combinations(found.candidates, 2))
    if threshold < 0.05:
        assert overlapping > 0  # the low threshold does list competing analyses


def test_min_confidence_needs_a_span_scheme_and_a_probability(random_tagger):
    from seqtag.errors import InputError

    tagger = random_tagger("crf", "bioes", "iob2")
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(InputError, match="--min-confidence"):
            tagger.predict_details([["a"]], min_confidence=bad)
    tagger.model_scheme = "plain"
    with pytest.raises(InputError, match="plain tags"):
        tagger.predict_details([["a"]], min_confidence=0.5)


# ---------------------------------------------------------------------------- scores of an entity set


def test_span_set_report_counts_overlapping_predictions():
    gold = [{("PER", 0, 2), ("LOC", 3, 4)}, set()]
    predicted = [{("PER", 0, 2), ("PER", 0, 1), ("LOC", 3, 5)}, {("ORG", 1, 2)}]
    report = span_set_report(gold, predicted, 0.4)
    assert report["spans"] == 4 and report["threshold"] == 0.4
    assert report["micro"] == {"precision": 0.25, "recall": 0.5, "f1": pytest.approx(1 / 3), "support": 2}
    assert report["per_type"]["PER"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert report["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["macro"]["f1"] == pytest.approx((2 / 3 + 0 + 0) / 3)


def test_threshold_curve_enters_ties_together():
    points = threshold_curve([(0.9, True), (0.5, False), (0.5, True), (0.2, False)], 4)
    assert points == [
        {"threshold": 0.9, "precision": 1.0, "recall": 0.25},
        {"threshold": 0.5, "precision": pytest.approx(2 / 3), "recall": 0.5},
        {"threshold": 0.2, "precision": 0.5, "recall": 0.5},
    ]


# ---------------------------------------------------------------------------- the CLI


def test_cli_predict_min_confidence(trained, raw_file):
    threshold = 0.3
    scored = run("predict", trained.model, raw_file, "--confidence")
    result = run("predict", trained.model, raw_file, "--min-confidence", threshold)  # implies jsonl
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    references = [json.loads(line) for line in scored.stdout.splitlines()]
    assert len(records) == len(references) > 5
    assert any(record["spans"] for record in records)
    for record, reference in zip(records, references):
        assert record["tags"] == reference["tags"] and record["line"] == reference["line"]
        for span in record["spans"]:
            assert span["confidence"] >= threshold
            assert span["text"] and span["end"] > span["start"]
        listed = {(s["type"], s["token_start"], s["token_end"]): s for s in record["spans"]}
        for span in reference["spans"]:  # the best path's entities that pass the threshold, flagged as such
            if abs(span["confidence"] - threshold) > 1e-4:
                key = (span["type"], span["token_start"], span["token_end"])
                assert (key in listed) == (span["confidence"] >= threshold)
                if key in listed:
                    assert listed[key]["on_best_path"] is True
                    assert listed[key]["confidence"] == pytest.approx(span["confidence"], abs=1e-5)
        best = {(s["type"], s["token_start"], s["token_end"]) for s in reference["spans"]}
        assert all(s["on_best_path"] == ((s["type"], s["token_start"], s["token_end"]) in best) for s in record["spans"])


def test_cli_predict_min_confidence_with_workers_gives_the_same_output(trained, raw_file):
    one = run("predict", trained.model, raw_file, "--min-confidence", "0.2")
    two = run("predict", trained.model, raw_file, "--min-confidence", "0.2", "--workers", "2", "--chunk", "3")
    assert one.exit_code == two.exit_code == 0, two.output
    assert one.stdout == two.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--min-confidence", "0"], "--min-confidence: must be a probability in (0, 1]"),
    (["--min-confidence", "1.5"], "--min-confidence: must be a probability"),
    (["--min-confidence", "0.5", "--format", "conll"], "--min-confidence: needs --format jsonl"),
])
def test_cli_predict_option_errors(trained, args, fragment, one_error_line):
    one_error_line(run("predict", trained.model, "-", *args, input="John lives in Berlin .\n"), fragment)


def test_cli_evaluate_min_confidence_and_pr_curve(trained, tmp_path, check_png):
    picture = tmp_path / "pr.png"
    result = run("evaluate", trained.model, trained.test, "--min-confidence", "0.5", "--pr-curve", picture,
                 "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    above = report["min_confidence"]
    assert above["threshold"] == 0.5 and above["spans"] > 0
    assert set(above["micro"]) == {"precision", "recall", "f1", "support"}
    assert above["micro"]["support"] == report["micro"]["support"]
    curve = report["pr_curve"]
    assert curve and curve[-1]["threshold"] >= 0.01
    thresholds = [point["threshold"] for point in curve]
    assert thresholds == sorted(thresholds, reverse=True)
    recalls = [point["recall"] for point in curve]
    assert recalls == sorted(recalls)  # a lower threshold keeps everything a higher one had
    # the point of the curve at 0.5 is the --min-confidence 0.5 set
    at = [point for point in curve if point["threshold"] >= 0.5][-1]
    assert at["recall"] == pytest.approx(above["micro"]["recall"])
    assert at["precision"] == pytest.approx(above["micro"]["precision"])
    check_png(picture)
    table = run("evaluate", trained.model, trained.test, "--min-confidence", "0.5")
    assert table.exit_code == 0, table.output
    assert "probability >= 0.5" in table.stdout and "micro avg" in table.stdout


def test_cli_evaluate_option_errors(trained, tmp_path, one_error_line):
    one_error_line(run("evaluate", "--predictions", trained.test, "--min-confidence", "0.5"), "--min-confidence needs MODEL DATA")
    one_error_line(run("evaluate", trained.model, trained.test, "--min-confidence", "2"), "--min-confidence")
    one_error_line(run("evaluate", trained.model, trained.test, "--pr-curve", tmp_path / "pr.txt"), ".png")


def test_classifier_refuses_min_confidence(tmp_path, one_error_line):
    from seqtag.config import DataConfig, ModelConfig
    from seqtag.data.vocab import Vocab, WordVocab
    from seqtag.tasks.classification import Classifier, build_net

    words = WordVocab(["<pad>", "<unk>", "a", "b"])
    labels = Vocab(["neg", "pos"])
    config = ModelConfig(task="classify", hidden=8, word_dim=8, char_encoder="none", dropout=0.0)
    model = tmp_path / "clf.seqtag"
    Classifier(build_net(config, words, None, labels), words, None, labels, config, DataConfig()).save(model)
    one_error_line(run("predict", model, "-", "--min-confidence", "0.5", input="a b\n"), "--min-confidence: is for taggers")
    data = tmp_path / "test.tsv"
    data.write_text("label\ttext\npos\ta b\n", encoding="utf-8")
    one_error_line(run("evaluate", model, data, "--min-confidence", "0.5"), "--min-confidence: is for taggers")
