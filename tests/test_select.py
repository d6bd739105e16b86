"""`seqtag select` (active learning): uncertainty measures of taggers and classifiers checked against what
they are defined as, the ranking, the diversity cap, texts kept whole, pre-annotations in every writer
format, and one-line errors."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def run(*args, input: str | None = None):
    return runner.invoke(app, [*map(str, args)], input=input)


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.stdout


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """12 distinct raw lines (sample_data/raw.txt and sentences of sample_data/ner/test.txt), one of them three times."""
    lines = [line for line in (SAMPLE / "raw.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    for block in (SAMPLE / "ner" / "test.txt").read_text(encoding="utf-8").split("\n\n"):
        words = [row.split()[0] for row in block.splitlines() if row.strip() and not row.startswith("-DOCSTART-")]
        if len(words) > 3 and len(lines) < 12:
            lines.append(" ".join(words))
    assert len(set(lines)) == 12
    path = tmp_path_factory.mktemp("pool") / "pool.txt"
    path.write_text("\n".join(lines + [lines[0], lines[0]]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def text_classifier(tmp_path_factory) -> Path:
    import seqtag

    folder = tmp_path_factory.mktemp("clf")
    data = folder / "train.tsv"
    rows = ["label\ttext"] + [f"pos\ta good {w} film" for w in "fine great nice warm".split()] + \
        [f"neg\ta bad {w} film" for w in "dull poor cold weak".split()]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    seqtag.train(data, data, output=folder / "c.seqtag", hidden=16, epochs=2, char_encoder="none", word_dim=8)
    return folder / "c.seqtag"


def test_tagger_uncertainties_match_their_definitions(random_tagger):
    tagger = random_tagger("crf", "bioes", "iob2")
    groups = [[["a", "b", "c"]], [["d"], ["a", "a"]], [[]]]
    entropy = tagger.uncertainty(groups, "entropy")
    details = tagger.predict_details([["a", "b", "c"], ["d"], ["a", "a"]], confidence=True, nbest=2)
    least = tagger.uncertainty(groups, "least-confidence")
    margin = tagger.uncertainty(groups, "margin")
    assert least[0] == pytest.approx(1 - details[0].nbest[0][1])
    assert least[1] == pytest.approx(1 - details[1].nbest[0][1] * details[2].nbest[0][1])
    margins = [d.nbest[0][1] - (d.nbest[1][1] if len(d.nbest) > 1 else 0.0) for d in details]
    assert margin[0] == pytest.approx(1 - margins[0]) and margin[1] == pytest.approx(1 - min(margins[1:]))
    assert entropy[2] == least[2] == margin[2] == 0.0
    # entropy: the sum over tokens of H(marginals), from the CRF's own marginals
    import torch

    batch = tagger.collate([["a", "b", "c"]])
    with torch.inference_mode():
        m = tagger.net.crf.marginals(tagger.net.emissions(batch), batch.mask)[0]
    assert entropy[0] == pytest.approx(float(-torch.special.xlogy(m, m).sum()), rel=1e-5)
    assert all(0 <= value for value in entropy) and all(0 <= v <= 1 for v in least + margin)


def test_classifier_uncertainties(text_classifier):
    from seqtag import load_model

    clf = load_model(text_classifier)
    groups = [[["a", "good", "film"]], [["a", "bad", "film"]]]
    probs = clf.probabilities([g[0] for g in groups])
    assert clf.uncertainty(groups, "entropy") == pytest.approx([-sum(p * math.log(p) for p in row) for row in probs])
    assert clf.uncertainty(groups, "least-confidence") == pytest.approx([1 - max(row) for row in probs])
    assert clf.uncertainty(groups, "margin") == pytest.approx([1 - abs(row[0] - row[1]) for row in probs])


def test_select_ranks_by_uncertainty_keeps_texts_whole_and_writes_label_studio(trained, tagger, pool):
    result = run("select", trained.model, pool, "--n", "5")
    tasks = json.loads(ok(result))
    assert len(tasks) == 5 and "selected 5 of 14 texts by entropy" in result.stderr
    lines = pool.read_text(encoding="utf-8").splitlines()
    scores = {}
    for line in lines:
        doc = tagger(line)
        groups = [[doc.tokens[a:b] for a, b in doc.sentences]]
        scores[line] = tagger.uncertainty(groups, "entropy")[0]
    ranked = sorted(set(lines), key=lambda line: -scores[line])
    chosen = [task["data"]["text"] for task in tasks]
    assert [scores[text] for text in chosen] == sorted((scores[line] for line in lines), reverse=True)[:5]
    assert chosen[0] == ranked[0] and all(task["predictions"][0]["model_version"] == trained.model.name for task in tasks)


def test_max_similarity_passes_over_near_duplicates(trained, pool):
    from seqtag import load_model
    from seqtag.formats.registry import resolve
    from seqtag.tools.select import select

    model = load_model(trained.model)
    fmt, source = resolve(pool, task="tag", labelled=False)
    plain = select(model, model.prediction_input(source, fmt), 14)
    texts = [" ".join(s.tokens) for s in plain.chosen]
    assert len(texts) == 14 and len(set(texts)) == 12  # the repeated line is there three times
    diverse = select(model, model.prediction_input(source, fmt), 12, max_similarity=0.9)
    assert len({" ".join(s.tokens) for s in diverse.chosen}) == 12 and diverse.skipped >= 2


@pytest.mark.parametrize("fmt", ["doccano", "spacy", "jsonl", "conll"])
def test_select_writes_every_format(trained, pool, fmt):
    out = ok(run("select", trained.model, pool, "-n", "3", "--strategy", "margin", "--format", fmt))
    if fmt == "conll":
        assert out.count("\n\n") >= 3
    else:
        assert len(out.splitlines()) >= 3 and all(json.loads(line) for line in out.splitlines())


def test_select_brat_folder_and_classifier_output(trained, text_classifier, pool, tmp_path, write_file):
    ok(run("select", trained.model, pool, "-n", "2", "--format", "brat", "--output", tmp_path / "b"))
    assert len(list((tmp_path / "b").glob("*.ann"))) == 2
    texts = write_file(tmp_path / "t.txt", "a good film\na bad film\na film\n")
    tasks = json.loads(ok(run("select", text_classifier, texts, "-n", "2", "--strategy", "least-confidence")))
    assert [t["predictions"][0]["result"][0]["type"] for t in tasks] == ["choices", "choices"]
    records = [json.loads(line) for line in ok(run("select", text_classifier, texts, "-n", "1", "--format", "spacy")).splitlines()]
    assert set(records[0]["cats"]) == {"pos", "neg"}


def test_select_errors_are_one_line(trained, text_classifier, pool, one_error_line, tmp_path):
    one_error_line(run("select", trained.model, pool, "--format", "brat"), "--output", "brat writes a folder")
    one_error_line(run("select", text_classifier, pool, "--format", "brat", "--output", tmp_path / "x"),
                   "brat standoff holds spans")
    result = run("select", trained.model, pool, "--max-similarity", "1.5")
    assert result.exit_code == 2 and "seqtag: error:" in result.stderr
