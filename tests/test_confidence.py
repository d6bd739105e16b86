"""`predict --confidence` and `--nbest`: CRF segment marginals and every confidence / k-best probability a
tagger reports, against brute-force enumeration of all tag sequences over the model's own emissions."""
from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig
from seqtag.data.schemes import convert, spans
from seqtag.data.vocab import Vocab, WordVocab

runner = CliRunner()
WORDS = ["a", "b", "c", "d"]
SENTENCES = [["a"], ["b", "c", "a"], ["c", "a", "b", "d", "a"]]


# ---------------------------------------------------------------------------- the CRF primitive


@pytest.mark.parametrize("seed, num_tags, constrained", [(0, 3, False), (1, 4, True), (2, 4, True)])
def test_segment_marginals_match_brute_force(seed, num_tags, constrained, enumerate_paths, logsumexp, make_case, random_constraints):
    constraints = random_constraints(seed, num_tags) if constrained else None
    crf, emissions, mask = make_case(seed, num_tags, constraints)
    paths = enumerate_paths(crf, emissions, mask, constraints)
    tags = torch.zeros(mask.shape, dtype=torch.long)
    segments, stops, expected = [], [], []
    for b, scored in enumerate(paths):
        path = scored[1 % len(scored)][1]  # not always the best path
        tags[b, : len(path)] = torch.tensor(path)
        log_z = logsumexp([score for score, _ in scored])
        for start, end in itertools.combinations(range(len(path) + 1), 2):
            for stop in (-1, 0, 1):
                segments.append((b, start, end))
                stops.append(stop)
                expected.append(sum(
                    math.exp(score - log_z)
                    for score, other in scored
                    if other[start:end] == path[start:end] and not (stop >= 0 and end < len(path) and other[end] == stop)
                ))
    got = crf.segment_marginals(emissions, mask, tags, torch.tensor(segments), torch.tensor(stops))
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- taggers end to end


def kind(tag: str) -> str:
    return "O" if tag == "O" else tag[2:]


CASES = [
    ("crf", "bioes", "iob2"),
    ("crf", "iob2", "iob2"),
    ("crf", "bioes", "iob1"),
    ("softmax", "bioes", "iob2"),
    ("softmax", "iob2", "iob2"),
]


@pytest.mark.parametrize("head, train_scheme, data_scheme", CASES)
def test_confidences_and_nbest_match_brute_force(head, train_scheme, data_scheme, random_tagger, tagger_distribution):
    tagger = random_tagger(head, train_scheme, data_scheme)
    items = tagger.labels.items
    k = 4
    details = tagger.predict_details(SENTENCES + [[]], confidence=True, nbest=k)
    assert details[-1].tags == [] and details[-1].token_probs == [] and details[-1].nbest == []
    assert [d.tags for d in details] == tagger.predict(SENTENCES + [[]])  # the Viterbi path is unchanged
    for tokens, found in zip(SENTENCES, details):
        paths, probs = tagger_distribution(tagger, tokens)
        named = [[items[t] for t in path] for path in paths]
        best = named[max(range(len(probs)), key=probs.__getitem__)]
        assert convert(best, train_scheme, data_scheme) == found.tags

        # Tokens: the probability of the predicted entity type.
        for t, p in enumerate(found.token_probs):
            expected = sum(q for tags, q in zip(named, probs) if kind(tags[t]) == kind(best[t]))
            assert p == pytest.approx(expected, abs=1e-5), (tokens, t)

        # Entities: the probability that exactly this entity is in the output (CRF); for a softmax head,
        # whose outputs may break the scheme, the probability of the entity's predicted tags.
        entities = spans(found.tags, data_scheme)
        assert entities == spans(best, train_scheme) and len(found.span_probs) == len(entities)
        for (entity_kind, start, end), p in zip(entities, found.span_probs):
            if head == "crf":
                expected = sum(q for tags, q in zip(named, probs) if (entity_kind, start, end) in spans(tags, train_scheme))
            else:
                expected = sum(
                    q for tags, q in zip(named, probs)
                    if tags[start:end] == best[start:end]
                    and not (train_scheme == "iob2" and end < len(tags) and tags[end] == f"I-{entity_kind}")
                )
            assert p == pytest.approx(expected, abs=1e-5), (tokens, entity_kind, start, end)

        # k-best: the k most probable sequences; ones that read the same in the data's scheme are merged.
        top = sorted(zip(probs, named), reverse=True)[:k]
        merged: dict[tuple[str, ...], float] = {}
        for q, tags in top:
            key = tuple(convert(tags, train_scheme, data_scheme))
            merged[key] = merged.get(key, 0.0) + q
        expected_nbest = sorted(merged.items(), key=lambda item: -item[1])
        assert [tags for tags, _ in found.nbest] == [list(tags) for tags, _ in expected_nbest]
        assert [p for _, p in found.nbest] == pytest.approx([q for _, q in expected_nbest], abs=1e-5)


def test_nbest_skips_paths_the_scheme_forbids(random_tagger):
    """A one-token sentence has only 1 + (number of types) allowed BIOES paths: O, S-A, S-B."""
    tagger = random_tagger("crf", "bioes", "iob2")
    (found,) = tagger.predict_details([["a"]], nbest=10)
    assert sorted(tags[0] for tags, _ in found.nbest) == ["B-A", "B-B", "O"]
    assert sum(p for _, p in found.nbest) == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------- the CLI


def run(*args, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_cli_confidence_and_nbest_jsonl(trained, raw_file):
    plain = run("predict", trained.model, raw_file, "--format", "jsonl")
    result = run("predict", trained.model, raw_file, "--format", "jsonl", "--confidence", "--nbest", "3")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = [json.loads(line) for line in plain.stdout.splitlines()]
    assert len(records) == len(expected) > 5
    assert any(r["spans"] for r in records)
    for record, reference in zip(records, expected):
        assert record["tags"] == reference["tags"] and record["line"] == reference["line"]
        assert [{k: v for k, v in s.items() if k != "confidence"} for s in record["spans"]] == reference["spans"]
        assert len(record["tag_probs"]) == len(record["tokens"])
        assert all(0 < p <= 1 for p in record["tag_probs"])
        assert all(0 < s["confidence"] <= 1 for s in record["spans"])
        if record["tokens"]:
            assert record["nbest"][0]["tags"] == record["tags"]
            assert 1 <= len(record["nbest"]) <= 3
            probabilities = [n["probability"] for n in record["nbest"]]
            assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-5
            # The best path's probability can not exceed the probability of any one of its entities.
            assert all(probabilities[0] <= s["confidence"] + 1e-5 for s in record["spans"])


def test_cli_classifier_confidence_and_nbest(tmp_path):
    from seqtag.tasks.classification import Classifier, build_net as build_classifier

    words = WordVocab(["<pad>", "<unk>", *WORDS])
    labels = Vocab(["neg", "neutral", "pos"])
    config = ModelConfig(task="classify", hidden=8, word_dim=8, char_encoder="none", dropout=0.0)
    torch.manual_seed(0)
    model = tmp_path / "clf.seqtag"
    Classifier(build_classifier(config, words, None, labels), words, None, labels, config, DataConfig()).save(model)
    result = run("predict", model, "-", "--format", "jsonl", "--confidence", "--nbest", "2", input="a b\n\nc d a\n")
    assert result.exit_code == 0, result.output
    first, empty, last = (json.loads(line) for line in result.stdout.splitlines())
    assert empty == {}
    for record in (first, last):
        assert record["confidence"] == max(record["probabilities"].values())
        assert [n["label"] for n in record["nbest"]] == list(record["probabilities"])[:2]
        assert record["nbest"][0] == {"label": record["label"], "probability": record["confidence"]}


def test_confidence_and_nbest_pick_jsonl_when_no_format_is_given(trained):
    for option in (["--confidence"], ["--nbest", "2"]):
        result = run("predict", trained.model, "-", *option, input="John lives in Berlin .\n")
        assert result.exit_code == 0, result.stderr
        record = json.loads(result.stdout)
        assert "tag_probs" in record if option == ["--confidence"] else len(record["nbest"]) >= 1


@pytest.mark.parametrize("args, fragment", [
    (["--confidence", "--format", "conll"], "--confidence needs --format jsonl"),
    (["--nbest", "2", "--format", "conll"], "--nbest needs --format jsonl"),
    (["--nbest", "0", "--format", "jsonl"], "--nbest"),
])
def test_cli_option_errors(trained, args, fragment):
    result = run("predict", trained.model, "-", *args, input="John lives in Berlin .\n")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: ") and fragment in lines[0], result.stderr
