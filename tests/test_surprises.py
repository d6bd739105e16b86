"""Each way 0.1 was silently wrong, now right or a one-line error (CLI via CliRunner, Python API)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    import seqtag

    model = tmp_path_factory.mktemp("cls") / "cls.seqtag"
    seqtag.train(SAMPLE / "cls" / "train.tsv", SAMPLE / "cls" / "dev.tsv", output=model, hidden=16, epochs=2,
                 char_encoder="none", word_dim=16, threads=1)
    return model


def test_predict_on_a_conll_file_writes_its_columns_and_the_prediction(trained):
    result = run("predict", trained.model, trained.test)
    assert result.exit_code == 0, result.output
    rows = [line.split(" ") for line in result.stdout.splitlines() if line]
    gold_rows = [line.split() for line in trained.test.read_text().splitlines() if line and not line.startswith("-DOCSTART-")]
    assert len(rows) == len(gold_rows)
    assert all(row[:-1] == gold for row, gold in zip(rows, gold_rows))  # every input column echoed, tag appended
    assert "DOCSTART" not in result.stdout


def test_predict_on_a_labelled_tsv_gives_one_label_per_text(classifier):
    result = run("predict", classifier, SAMPLE / "cls" / "test.tsv")
    assert result.exit_code == 0, result.output
    texts = (SAMPLE / "cls" / "test.tsv").read_text().splitlines()[1:]
    assert len(result.stdout.splitlines()) == len(texts) == 150
    jsonl = run("predict", classifier, SAMPLE / "cls" / "test.tsv", "--format", "jsonl")
    first = json.loads(jsonl.stdout.splitlines()[0])
    assert first["line"] == 2  # the header is not a text


def test_a_token_tab_tag_file_named_tsv_is_tagging_data(tmp_path, trained):
    rows = [line.split() for line in trained.train.read_text().splitlines()]
    tsv = tmp_path / "train.tsv"
    tsv.write_text("\n".join("\t".join([row[0], row[-1]]) if row else "" for row in rows) + "\n", encoding="utf-8")
    check = run("data", "check", tsv, "--format", "json")
    assert check.exit_code == 0, check.output
    report = json.loads(check.stdout)
    assert report["task"] == "tag" and report["stats"]["train"]["sentences"] == 200
    for extra in ([], ["--input-format", "conll"]):
        out = tmp_path / f"m{len(extra)}.seqtag"
        trained_ok = run("train", "--train", tsv, "--output", out, "--epochs", "1", "--hidden", "8",
                         "--char-encoder", "none", *extra)
        assert trained_ok.exit_code == 0, trained_ok.output
        assert "task: tag" in trained_ok.stderr or extra


def test_a_header_line_in_a_tagging_file_is_not_a_token(tmp_path, trained):
    rows = trained.train.read_text()
    with_header = tmp_path / "train.txt"
    with_header.write_text("token pos chunk tag\n" + rows, encoding="utf-8")
    import seqtag

    result = seqtag.train(with_header, epochs=1, hidden=8, char_encoder="none", word_dim=8)
    assert result.model.data_scheme == "iob2"
    assert "token" not in result.model.words.items or "tag" not in result.model.labels.items


def test_a_tsv_dev_file_for_a_conll_train_file_is_refused(tmp_path, trained):
    result = run("train", "--train", trained.train, "--dev", SAMPLE / "cls" / "dev.tsv", "--output",
                 tmp_path / "m.seqtag", "--epochs", "1")
    one_line_error(result, "dev.tsv", "looks like a TSV table", "the training data is for tagging", "--input-format")
    assert not (tmp_path / "m.seqtag").exists()


def test_wrong_task_input_to_predict_names_the_model_task_and_the_option(trained, classifier):
    one_line_error(run("predict", classifier, trained.test), "looks like CoNLL columns", "this model is a classifier",
                   "--input-format raw")
    one_line_error(run("predict", trained.model, SAMPLE / "cls" / "test.tsv"), "looks like a TSV table",
                   "this model is a tagger", "--input-format raw")
    one_line_error(run("predict", trained.model, SAMPLE / "cls" / "test.tsv", "--input-format", "tsv"),
                   "--input-format tsv is classification data, but this model is a tagger")


def test_options_that_would_do_nothing_are_errors(trained, classifier, raw_file):
    one_line_error(run("predict", trained.model, raw_file, "--top-k", "2"), "--top-k", "this model is a tagger")
    one_line_error(run("predict", classifier, raw_file, "--top-k", "2", "--format", "conll"), "--top-k", "jsonl")
    one_line_error(run("predict", trained.model, trained.test, "--tokenized", "--input-format", "conll"), "--tokenized")
    one_line_error(run("predict", trained.model, raw_file, "--token-column", "1"), "--token-column")
    top = run("predict", classifier, raw_file, "--top-k", "1")  # asking for probabilities picks JSONL
    assert top.exit_code == 0 and len(json.loads(top.stdout.splitlines()[0])["probabilities"]) == 1


def test_python_api_takes_text_and_refuses_a_bare_string_as_tokens(tagger, classifier):
    import seqtag

    doc = tagger("John Smith lives in Berlin. He works for Siemens.")
    assert len(doc.sentences) == 2 and doc.tokens[:2] == ["John", "Smith"]
    for span in doc.spans:
        assert doc.text[span.start_char:span.end_char] == span.text
        assert " ".join(doc.tokens[span.token_start:span.token_end]) == span.text
    with pytest.raises(TypeError, match="model\\(text\\)"):
        tagger.predict("John lives in Berlin.")
    clf = seqtag.load(classifier)
    with pytest.raises(TypeError, match="item 0 is a str"):
        clf.predict(["Rain expected in Oslo tomorrow"])
    result = clf("Rain expected in Oslo tomorrow")
    assert result.label in clf.labels.items and abs(sum(result.probabilities.values()) - 1) < 1e-5
    assert [r.text for r in clf.pipe(["a", ["b", "c"]])] == ["a", "b c"]


def test_confidences_through_the_api_match_predict_jsonl(trained, tagger, tmp_path):
    text = "John Smith flew from Berlin to New York ."
    (tmp_path / "one.txt").write_text(text + "\n", encoding="utf-8")
    cli = json.loads(run("predict", trained.model, tmp_path / "one.txt", "--confidence").stdout.splitlines()[0])
    doc = tagger(text, confidence=True)
    assert doc.tags == cli["tags"]
    assert [(s.label, s.start_char, s.end_char) for s in doc.spans] == [(s["type"], s["start"], s["end"]) for s in cli["spans"]]
    assert [round(s.probability, 6) for s in doc.spans] == [s["confidence"] for s in cli["spans"]]


def test_on_a_terminal_each_line_is_tagged_as_it_is_entered(trained):
    """`seqtag predict MODEL -` at a terminal answers each line at once, before the end of input."""
    import os
    import pty
    import re
    import select
    import subprocess
    import sys
    import time

    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "seqtag", "predict", str(trained.model), "-"],
                               stdin=child, stdout=child, stderr=subprocess.DEVNULL, cwd=ROOT)
    os.close(child)
    try:
        os.write(main, b"John Smith lives in Berlin .\n")
        seen, deadline = b"", time.monotonic() + 60
        while re.search(rb"\n\. [A-Z]", seen) is None:  # the last token's row: `. O` (the echo is `Berlin .`)
            assert time.monotonic() < deadline, seen
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        assert process.poll() is None  # still waiting for more input: the answer came before the end of input
        os.write(main, b"\x04")  # Ctrl-D
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)
