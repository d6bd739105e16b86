"""Model files written by seqtag 0.1 load, and predict exactly what 0.1 predicted with them.

tests/fixtures/*-0.1.seqtag were trained by seqtag 0.1 on sample_data/; the expected outputs beside them are
what 0.1's `seqtag predict` wrote (CoNLL columns with --input-format conll; JSONL with --confidence and --nbest
on raw text; a classifier's JSONL on a labelled TSV with --input-format tsv). 0.2 detects those formats itself.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE = ROOT / "sample_data"


@pytest.mark.parametrize("model, data, options, expected", [
    ("tagger-0.1.seqtag", SAMPLE / "ner" / "test.txt", [], "tagger-0.1.test.conll"),
    ("tagger-0.1.seqtag", SAMPLE / "raw.txt", ["--confidence", "--nbest", "2"], "tagger-0.1.raw.jsonl"),
    ("classifier-0.1.seqtag", SAMPLE / "cls" / "test.tsv", ["--format", "jsonl", "--confidence"], "classifier-0.1.test.jsonl"),
])
def test_a_0_1_model_predicts_what_0_1_predicted(model, data, options, expected):
    result = CliRunner().invoke(app, ["predict", str(FIXTURES / model), str(data), *options])
    assert result.exit_code == 0, result.output
    wanted = (FIXTURES / expected).read_text(encoding="utf-8")
    if not expected.endswith(".jsonl"):
        assert result.stdout == wanted
        return
    # Tags, spans and texts exactly; probabilities to 1e-4: their last printed digit depends on the CPU's
    # floating-point kernels (AVX2 and AVX-512 machines differ in the 6th decimal).
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert [_rounded(record) for record in got] == [_rounded(json.loads(line)) for line in wanted.splitlines()]
    assert all(close(a, b) for a, b in zip(got, [json.loads(line) for line in wanted.splitlines()]))
    assert len(got) == len(wanted.splitlines())


def _rounded(value):
    """``value`` with every float replaced by None: what must match exactly."""
    if isinstance(value, float):
        return None
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def close(a, b) -> bool:
    """The same structure with floats equal to 1e-4."""
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-4
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


def test_a_0_1_model_loads_through_the_python_api():
    import seqtag

    tagger = seqtag.load(FIXTURES / "tagger-0.1.seqtag")
    classifier = seqtag.load(FIXTURES / "classifier-0.1.seqtag")
    assert isinstance(tagger, seqtag.Tagger) and isinstance(classifier, seqtag.Classifier)
    assert len(tagger("John Smith lives in Berlin.").tags) == 6
    assert classifier("Snow closed roads around Helsinki").label in classifier.labels.items
