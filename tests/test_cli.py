"""The `seqtag` command end to end through typer's CliRunner: results on stdout, progress and errors on stderr,
user errors as exactly one `seqtag: error:` line with exit code 2 and never a traceback or a stray model file."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys

import pytest
import torch
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, IOBES
from typer.testing import CliRunner

from seqtag.cli import app

runner = CliRunner()


def run(*args, input: str | bytes | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output


def user_error(result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one `seqtag: error:` line on stderr holding every fragment."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("seqtag: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def files_in(folder: pathlib.Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def conll_blocks(text: str) -> list[list[list[str]]]:
    """stdout of `predict --format conll` as sentences of split rows."""
    blocks, rows = [], []
    for line in text.split("\n"):
        if line.strip():
            rows.append(line.split())
        elif rows:
            blocks.append(rows)
            rows = []
    assert not rows, "output must end with a blank line"
    return blocks


def seqeval_report(gold, pred, strict: bool = False) -> dict:
    kwargs = {"mode": "strict", "scheme": IOB2} if strict else {}
    return classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)


def assert_matches_seqeval(report: dict, gold, pred, strict: bool = False) -> None:
    expected = seqeval_report(gold, pred, strict)
    types = sorted(k for k in expected if not k.endswith(" avg"))
    assert sorted(report["per_type"]) == types
    for name in types:
        for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support")):
            assert report["per_type"][name][ours] == pytest.approx(float(expected[name][theirs])), (name, ours)
    for avg in ("micro", "macro"):
        for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support")):
            assert report[avg][ours] == pytest.approx(float(expected[f"{avg} avg"][theirs])), (avg, ours)
    flat = [(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
    assert report["accuracy"] == pytest.approx(sum(g == p for g, p in flat) / len(flat))
    assert report["score"] == pytest.approx(report["micro"]["f1"])
    assert report["tokens"] == len(flat)
    assert report["sentences"] == len(gold)


# ---------------------------------------------------------------------------- train / evaluate / predict round trip


def test_train_writes_one_model_and_reports_progress_on_stderr(trained):
    assert trained.exit_code == 0
    assert trained.stdout == ""  # stdout is reserved for results
    assert "saved" in trained.stderr and str(trained.model) in trained.stderr
    epoch_rows = [line for line in trained.stderr.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert len(epoch_rows) == 3  # --epochs 3, one table row each
    assert [p.name for p in trained.model.parent.iterdir() if p.suffix in (".seqtag", ".tmp")] == ["ner.seqtag"]


def test_train_seeds_reports_mean_and_keeps_the_best_dev_model(tmp_path, data_dir):
    from seqtag import load_model

    output = tmp_path / "best.seqtag"
    result = run(
        "train", "--train", data_dir / "train.txt", "--dev", data_dir / "dev.txt", "--output", output,
        "--epochs", "2", "--hidden", "8", "--lr", "0.01", "--char-encoder", "none", "--seed", "5", "--seeds", "3",
    )
    ok(result)
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["seed 5", "seed 6", "seed 7", "mean"]
    scores = [float(line.split()[-1]) for line in lines[:3]]
    mean, _, std = lines[3].split("dev ")[1].split()[:3]
    assert float(mean) == pytest.approx(statistics.mean(scores), abs=0.01)
    assert float(std) == pytest.approx(statistics.stdev(scores), abs=0.01)
    kept = load_model(output)
    assert 100 * kept.meta["dev_scores"]["score"] == pytest.approx(max(scores), abs=0.01)
    assert kept.train_config.seed == 5 + scores.index(max(scores))
    assert [p.name for p in tmp_path.iterdir()] == ["best.seqtag"]


def test_evaluate_table_has_type_rows_and_averages(trained):
    result = run("evaluate", trained.model, trained.test)
    ok(result)
    assert result.stderr == ""
    report = json.loads(run("evaluate", trained.model, trained.test, "--format", "json").stdout)
    lines = {line.split()[0] + (" avg" if " avg " in line else ""): line for line in result.stdout.splitlines() if line.strip()}
    for name in ("LOC", "MISC", "ORG", "PER"):
        row = report["per_type"][name]
        assert lines[name].split()[1:] == [
            f"{100 * row['precision']:.2f}", f"{100 * row['recall']:.2f}", f"{100 * row['f1']:.2f}", str(row["support"])
        ]
    for avg in ("micro", "macro"):
        assert f"{100 * report[avg]['f1']:.2f}" in lines[f"{avg} avg"]
    assert "60 sentences" in result.stdout and f"{100 * report['accuracy']:.2f}" in result.stdout


def test_evaluate_json_equals_seqeval_on_the_model_predictions(trained, tagger, conll_sentences):
    result = run("evaluate", trained.model, trained.test, "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert {"per_type", "micro", "macro", "accuracy", "score"} <= report.keys()
    assert report["mode"] == "default" and report["scheme"] == "iob2"
    sentences = conll_sentences(trained.test)
    gold = [[row[-1] for row in s] for s in sentences]
    pred = tagger.predict([[row[0] for row in s] for s in sentences])
    assert_matches_seqeval(report, gold, pred)
    assert report["micro"]["f1"] > 0.2  # the tiny model learned something: the numbers are not all zero


def test_evaluate_strict_mode(trained, tagger, conll_sentences):
    result = run("evaluate", trained.model, trained.test, "--format", "json", "--mode", "strict")
    ok(result)
    report = json.loads(result.stdout)
    assert report["mode"] == "strict"
    sentences = conll_sentences(trained.test)
    gold = [[row[-1] for row in s] for s in sentences]
    pred = tagger.predict([[row[0] for row in s] for s in sentences])
    assert_matches_seqeval(report, gold, pred, strict=True)


def test_predict_raw_text_conll_output(trained, tagger, raw_file):
    result = run("predict", trained.model, raw_file)
    ok(result)
    assert result.stderr == ""  # no progress or log text anywhere
    blocks = conll_blocks(result.stdout)
    labels = set(tagger.labels.items) | {"B-" + t[2:] for t in tagger.labels.items if t != "O"}
    assert all(len(row) == 2 and row[1] in labels for block in blocks for row in block)
    tokens = [[row[0] for row in block] for block in blocks]
    assert [[row[1] for row in block] for block in blocks] == tagger.predict(tokens)
    text = raw_file.read_text(encoding="utf-8")
    assert tokens[0][:3] == ["John", "Smith", "flew"]
    assert len(blocks) > len(text.splitlines())  # raw text is sentence-split
    assert all(token in text for block in tokens for token in block)


def test_predict_jsonl_spans_have_character_offsets(trained, raw_file):
    result = run("predict", trained.model, raw_file, "--format", "jsonl")
    ok(result)
    assert result.stderr == ""
    lines = raw_file.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["line"] for r in records} == set(range(1, len(lines) + 1))
    found = 0
    for record in records:
        assert set(record) >= {"line", "tokens", "tags", "spans"}
        assert len(record["tokens"]) == len(record["tags"])
        text = lines[record["line"] - 1]
        entities = get_entities(record["tags"])
        assert [(s["type"], s["token_start"], s["token_end"] - 1) for s in record["spans"]] == entities
        for span in record["spans"]:
            found += 1
            assert text[span["start"]:span["end"]] == span["text"]
            first, last = record["tokens"][span["token_start"]], record["tokens"][span["token_end"] - 1]
            assert span["text"].startswith(first) and span["text"].endswith(last)
    assert found >= 3  # the tiny model finds some entities in sample_data/raw.txt


def test_predict_tokenized_and_empty_lines(trained, tagger, tmp_path, write_file):
    source = write_file(tmp_path / "tok.txt", "John Smith flew to Berlin .\n\nMaria  met Sato in Tokyo\n")
    result = run("predict", trained.model, source, "--tokenized")
    ok(result)
    blocks = conll_blocks(result.stdout)
    tokens = [["John", "Smith", "flew", "to", "Berlin", "."], ["Maria", "met", "Sato", "in", "Tokyo"]]
    assert [[row[0] for row in b] for b in blocks] == tokens  # whitespace split, no re-tokenization
    assert [[row[1] for row in b] for b in blocks] == tagger.predict(tokens)

    result = run("predict", trained.model, source, "--tokenized", "--format", "jsonl")
    ok(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]  # the empty line keeps its own (empty) record
    assert records[1] == {"line": 2, "tokens": [], "tags": [], "spans": []}
    text = "Maria  met Sato in Tokyo"
    for span in records[2]["spans"]:
        assert text[span["start"]:span["end"]] == span["text"]


def test_predict_raw_empty_lines_keep_alignment(trained):
    result = run("predict", trained.model, "-", "--format", "jsonl", input="\nJohn lives in Berlin.\n   \n\n")
    ok(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["line"], len(r["tokens"])) for r in records] == [(1, 0), (2, 5), (3, 0), (4, 0)]
    plain = run("predict", trained.model, "-", input="\nJohn lives in Berlin.\n   \n\n")
    ok(plain)
    assert [[row[0] for row in b] for b in conll_blocks(plain.stdout)] == [["John", "lives", "in", "Berlin", "."]]


def test_predict_stdin_equals_file(trained, raw_file):
    from_file = run("predict", trained.model, raw_file, "--format", "jsonl")
    from_stdin = run("predict", trained.model, "-", "--format", "jsonl", input=raw_file.read_bytes())
    ok(from_file)
    ok(from_stdin)
    assert from_stdin.stdout == from_file.stdout and from_stdin.stdout


def test_predict_chunk_size_does_not_change_output(trained, tmp_path, conll_sentences, write_conll):
    source = write_conll(tmp_path / "in.txt", conll_sentences(trained.test, limit=40))
    default = run("predict", trained.model, source, "--input-format", "conll")
    small = run("predict", trained.model, source, "--input-format", "conll", "--chunk", "3", "--batch-size", "2")
    ok(default)
    ok(small)
    assert small.stdout == default.stdout and default.stdout.count("\n\n") == 40


def test_predict_conll_input_echoes_columns(trained, tagger, tmp_path, conll_sentences, write_conll):
    sentences = conll_sentences(trained.test, limit=15)
    source = write_conll(tmp_path / "in.txt", sentences)
    result = run("predict", trained.model, source, "--input-format", "conll")
    ok(result)
    assert result.stderr == ""
    blocks = conll_blocks(result.stdout)
    assert [[row[:-1] for row in b] for b in blocks] == sentences  # every input column, unchanged
    assert [[row[-1] for row in b] for b in blocks] == tagger.predict([[row[0] for row in s] for s in sentences])


def test_predict_in_a_real_process_keeps_stdout_clean(trained, tmp_path, repo_root):
    env = {**os.environ, "PYTHONPATH": str(repo_root), "SEQTAG_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "seqtag", "predict", str(trained.model), "-", "--format", "jsonl"],
        input=b"John Smith flew to Berlin.\n", capture_output=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    [record] = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert record["tokens"] == ["John", "Smith", "flew", "to", "Berlin", "."]


@pytest.mark.parametrize("command, options", [
    ("evaluate", []), ("predict", []), ("predict", ["--workers", "2", "--chunk", "50"]),
])
def test_closed_stdout_pipe_ends_quietly(trained, tmp_path, command, options, raw_file, repo_root, write_file):
    """`seqtag … | head -1`: no traceback, no message, exit 0 (with --workers: no worker left behind)."""
    env = {**os.environ, "PYTHONPATH": str(repo_root), "SEQTAG_CACHE_DIR": str(tmp_path / "cache")}
    source = write_file(tmp_path / "big.txt", raw_file.read_text(encoding="utf-8") * 200)
    data = trained.test if command == "evaluate" else source
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqtag", command, str(trained.model), str(data), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=300) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_evaluate_model_on_stdin(trained):
    from_file = json.loads(run("evaluate", trained.model, trained.test, "--format", "json").stdout)
    result = run("evaluate", trained.model, "-", "--format", "json", input=trained.test.read_text(encoding="utf-8"))
    ok(result)
    from_stdin = json.loads(result.stdout)
    assert from_stdin.pop("data") == "<stdin>"
    from_file.pop("data")
    assert from_stdin == from_file


def test_evaluate_tagger_with_a_classification_format(trained):
    user_error(run("evaluate", trained.model, trained.test, "--input-format", "tsv"), "--input-format tsv", "tagger")


def test_info_on_a_classifier_names_its_pooling(tmp_path, repo_root, write_file):
    lines = (repo_root / "sample_data/cls/train.tsv").read_text(encoding="utf-8").splitlines()[:41]
    data = write_file(tmp_path / "cls.tsv", "\n".join(lines) + "\n")
    model = tmp_path / "cls.seqtag"
    ok(run("train", "--train", data, "-o", model, "--epochs", "1", "--hidden", "8", "--word-dim", "8"))
    summary = json.loads(run("info", model, "--format", "json").stdout)
    assert summary["task"] == "classify"
    assert summary["architecture"].endswith("pooling max") and "head" not in summary["architecture"]
    user_error(run("evaluate", model, data, "--input-format", "conll"), "--input-format conll", "classifier")


# ---------------------------------------------------------------------------- evaluate --predictions


@pytest.fixture(scope="module")
def _prediction_columns(conll_sentences):
    def _prediction_columns(test_file: pathlib.Path) -> tuple[str, list[list[str]], list[list[str]]]:
        """`token gold pred` rows: the gold tags with deterministic mistakes (some of them IOB2-invalid)."""
        sentences = conll_sentences(test_file)
        swap = {"B-PER": "B-ORG", "I-LOC": "I-ORG", "B-MISC": "O", "O": "I-LOC"}
        gold, pred, out = [], [], []
        k = 0
        for sentence in sentences:
            g, p = [], []
            for row in sentence:
                k += 1
                tag = row[-1]
                guess = swap.get(tag, tag) if k % 5 == 0 else tag
                g.append(tag)
                p.append(guess)
                out.append(f"{row[0]} {tag} {guess}\n")
            out.append("\n")
            gold.append(g)
            pred.append(p)
        return "".join(out), gold, pred

    return _prediction_columns


def test_evaluate_predictions_file_equals_seqeval(trained, tmp_path, _prediction_columns, write_file):
    text, gold, pred = _prediction_columns(trained.test)
    source = write_file(tmp_path / "pred.txt", text)
    result = run("evaluate", "--predictions", source, "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert_matches_seqeval(report, gold, pred)
    assert 0 < report["micro"]["f1"] < 1
    strict = json.loads(run("evaluate", "--predictions", source, "--format", "json", "--mode", "strict").stdout)
    assert_matches_seqeval(strict, gold, pred, strict=True)
    assert strict["micro"]["precision"] != report["micro"]["precision"]  # invalid I- starts count differently


def test_evaluate_predictions_from_stdin(trained, tmp_path, _prediction_columns):
    text, gold, pred = _prediction_columns(trained.test)
    result = run("evaluate", "--predictions", "-", "--format", "json", input=text)
    ok(result)
    report = json.loads(result.stdout)
    assert report["data"] == "<stdin>"
    assert_matches_seqeval(report, gold, pred)
    table = run("evaluate", "-p", "-", input=text)
    ok(table)
    assert "micro avg" in table.stdout and f"{100 * report['micro']['f1']:.2f}" in table.stdout


def test_evaluate_predictions_bilou_tags_score_like_bioes(tmp_path, write_file):
    gold = [["U-LOC", "U-LOC", "B-PER", "L-PER", "O"], ["B-ORG", "I-ORG", "L-ORG", "U-PER"]]
    pred = [["U-LOC", "U-LOC", "B-PER", "I-PER", "O"], ["B-ORG", "I-ORG", "L-ORG", "U-ORG"]]
    rows = [[f"w{i} {g} {p}\n" for i, (g, p) in enumerate(zip(gs, ps))] + ["\n"] for gs, ps in zip(gold, pred)]
    source = write_file(tmp_path / "bilou.txt", "".join(line for sentence in rows for line in sentence))
    def as_bioes(sequences):
        return [[t.replace("L-", "E-").replace("U-", "S-") for t in s] for s in sequences]

    for mode in ("default", "strict"):
        result = run("evaluate", "-p", source, "--format", "json", "--mode", mode)
        ok(result)
        report = json.loads(result.stdout)
        assert report["scheme"] == "bioes"
        kwargs = {"mode": "strict", "scheme": IOBES} if mode == "strict" else {}
        expected = classification_report(as_bioes(gold), as_bioes(pred), output_dict=True, zero_division=0, **kwargs)
        assert report["per_type"]["LOC"]["support"] == 2  # two adjacent single-token entities, not one
        assert report["micro"]["f1"] == pytest.approx(expected["micro avg"]["f1-score"])
        assert report["micro"]["support"] == 5


def test_evaluate_predictions_bilou_gold_against_bioes_predictions(tmp_path, write_file):
    source = write_file(tmp_path / "mixed.txt", "a U-LOC S-LOC\nb B-PER B-PER\nc L-PER E-PER\nd O O\n")
    report = json.loads(run("evaluate", "-p", source, "--format", "json").stdout)
    assert report["accuracy"] == 1.0 and report["micro"]["f1"] == 1.0 and report["micro"]["support"] == 2


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_evaluate_predictions_tags_outside_the_given_scheme(tmp_path, mode, write_file):
    source = write_file(tmp_path / "p.txt", "EU B-ORG B-ORG\nrejects O O\n\nGerman B-MISC S-MISC\ncall O O\n")
    user_error(run("evaluate", "-p", source, "--scheme", "iob2", "--mode", mode), f"{source}:4:", "'S-MISC'", "--scheme")
    pos = write_file(tmp_path / "pos.txt", "EU NNP NNP\nrejects VBZ NN\n")
    user_error(run("evaluate", "-p", pos, "--scheme", "iob1", "--mode", mode), f"{pos}:1:", "'NNP'")


def test_evaluate_predictions_column_errors_name_the_columns(tmp_path, write_file):
    source = write_file(tmp_path / "p.txt", "EU B-ORG\n")
    user_error(run("evaluate", "-p", source, "--gold-column", "4"), f"{source}:1:", "gold column 4")
    user_error(run("evaluate", "-p", source, "--pred-column", "-3"), f"{source}:1:", "predicted column -3")


# ---------------------------------------------------------------------------- info


def test_info_table_and_json(trained, tagger):
    result = run("info", trained.model, "--format", "json")
    ok(result)
    summary = json.loads(result.stdout)
    assert summary["task"] == "tag"
    assert summary["labels"] == tagger.labels.items
    assert summary["format_version"] == 2
    assert summary["vocab_words"] == len(tagger.words.items)
    assert summary["word_dim"] == 20  # taken from sample_data/vectors.txt
    assert "16 units per direction" in summary["architecture"]
    assert summary["best_epoch"] in (1, 2, 3)
    assert summary["train_data"] == str(trained.train)
    table = run("info", trained.model)
    ok(table)
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines())
    assert rows["task"] == "tag"
    assert json.loads(rows["labels"]) == tagger.labels.items
    assert rows["architecture"] == summary["architecture"]
    assert table.stderr == ""


# ---------------------------------------------------------------------------- config files


@pytest.fixture
def tiny_train(tmp_path, sample_slice):
    return sample_slice("train", 20, tmp_path / "tiny.txt")


def _saved(model: pathlib.Path) -> dict:
    return torch.load(model, weights_only=True)


def test_config_file_sets_values_and_options_override_it(tiny_train, tmp_path, write_file):
    config = write_file(tmp_path / "c.toml", 'hidden = 12\nepochs = 2\n\n[model]\nchar-dim = 8\nchar_encoder = "lstm"\n')
    model = tmp_path / "a.seqtag"
    ok(run("train", "--train", tiny_train, "--config", config, "-o", model))
    body = _saved(model)
    assert body["config"]["model"]["hidden"] == 12
    assert body["config"]["model"]["char_dim"] == 8
    assert body["config"]["model"]["char_encoder"] == "lstm"
    assert body["config"]["train"]["epochs"] == 2
    assert len(body["meta"]["history"]) == 2

    model = tmp_path / "b.seqtag"
    ok(run("train", "--train", tiny_train, "--config", config, "--hidden", "10", "--epochs", "1", "-o", model))
    body = _saved(model)
    assert body["config"]["model"]["hidden"] == 10  # the option wins
    assert body["config"]["model"]["char_dim"] == 8  # the rest of the file still applies
    assert len(body["meta"]["history"]) == 1


def test_config_unknown_key(tiny_train, tmp_path, write_file):
    config = write_file(tmp_path / "bad.toml", "hidden = 12\nhiden = 3\n")
    out = tmp_path / "m.seqtag"
    user_error(run("train", "--train", tiny_train, "--config", config, "-o", out), str(config), "hiden")
    assert not out.exists()


def test_config_invalid_toml_names_the_line(tiny_train, tmp_path, write_file):
    config = write_file(tmp_path / "bad.toml", "epochs = 2\nhidden = \n")
    out = tmp_path / "m.seqtag"
    user_error(run("train", "--train", tiny_train, "--config", config, "-o", out), str(config), "line 2")
    assert not out.exists()


# ---------------------------------------------------------------------------- user errors


def _train_fails(tmp_path, *args, fragments=()) -> str:
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / "m.seqtag"
    # Defaults first: a later repeat of an option wins, so the arguments under test come last.
    message = user_error(run("train", "-o", out, "--epochs", "1", "--hidden", "8", *args), *fragments)
    assert files_in(out_dir) == set()  # no model file, no temporary left behind
    return message


def test_train_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    _train_fails(tmp_path, "--train", missing, fragments=("--train", "nope.txt"))


def test_train_malformed_column_count_names_the_line(tmp_path, conll_sentences, conll_text, repo_root, write_file):
    sentences = conll_sentences(repo_root / "sample_data/ner/train.txt", limit=40)
    text = conll_text(sentences).splitlines(keepends=True)
    bad = 3 + len(sentences[0]) + len(sentences[1])  # inside the third sentence
    text[bad - 1] = "Oops NNP\n"
    source = write_file(tmp_path / "train.txt", "".join(text))
    _train_fails(tmp_path, "--train", source, "--task", "tag", fragments=(f"{source}:{bad}:", "expected 3 columns, got 2"))


def test_train_malformed_line_late_in_file_auto_task(tmp_path, conll_sentences, conll_text, repo_root, write_file):
    sentences = conll_sentences(repo_root / "sample_data/ner/train.txt", limit=60)
    text = conll_text(sentences).splitlines(keepends=True)
    bad = len(text) - 3
    text[bad - 1] = "Oops NNP\n"
    source = write_file(tmp_path / "train.txt", "".join(text))
    _train_fails(tmp_path, "--train", source, fragments=(f"{source}:{bad}:", "expected 3 columns, got 2"))


def test_train_malformed_line_early_in_file_auto_task(tmp_path, conll_sentences, conll_text, repo_root, write_file):
    sentences = conll_sentences(repo_root / "sample_data/ner/train.txt", limit=20)
    text = conll_text(sentences).splitlines(keepends=True)
    text[4] = "Oops NNP\n"
    source = write_file(tmp_path / "train.txt", "".join(text))
    _train_fails(tmp_path, "--train", source, fragments=(f"{source}:5:",))


def test_train_empty_file(tmp_path, write_file):
    source = write_file(tmp_path / "empty.txt", "")
    _train_fails(tmp_path, "--train", source, fragments=(str(source), "no sentences"))


def test_train_non_utf8_file_names_the_line(tmp_path, write_file):
    source = write_file(tmp_path / "latin.txt", "EU NNP B-ORG\nrejects VBZ O\n\nM\xfcller NNP B-PER\n".encode("latin-1"))
    _train_fails(tmp_path, "--train", source, fragments=(f"{source}:4:", "utf-8"))


@pytest.mark.parametrize(
    "option, value, fragment",
    [("--cell", "transformer", "--cell"), ("--hidden", "-3", "--hidden"), ("--dropout", "1.5", "--dropout")],
)
def test_train_bad_option_values(tmp_path, tiny_train, option, value, fragment):
    message = _train_fails(tmp_path, "--train", tiny_train, option, value, fragments=(fragment,))
    assert value in message


def test_train_output_folder_missing(tmp_path, tiny_train):
    out = tmp_path / "no" / "such" / "m.seqtag"
    user_error(run("train", "--train", tiny_train, "-o", out, "--epochs", "1"), str(out))


def test_train_failure_keeps_existing_model(tmp_path, trained, tiny_train, write_file):
    out = tmp_path / "keep.seqtag"
    shutil.copyfile(trained.model, out)
    before = out.read_bytes()
    bad_data = write_file(tmp_path / "bad.txt", "EU NNP B-ORG\nrejects VBZ\n")
    user_error(run("train", "--train", bad_data, "--task", "tag", "-o", out, "--epochs", "1", "--force"), f"{bad_data}:2:")
    assert out.read_bytes() == before
    # A failure after the data were read (a damaged vector file) leaves it alone too.
    vectors = write_file(tmp_path / "vectors.txt", "3 4\nthe 1 2 3 4\nof 1 2\n")
    result = run("train", "--train", tiny_train, "--embeddings", vectors, "-o", out, "--epochs", "1", "--no-embedding-cache", "--force")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].startswith(f"seqtag: error: {vectors}:")
    assert out.read_bytes() == before
    assert files_in(tmp_path) >= {"keep.seqtag"} and not any(n.endswith(".tmp") for n in files_in(tmp_path))


@pytest.mark.parametrize("option, value", [("--seed", "-1"), ("--patience", "0"), ("--lr", "inf"), ("--keep-vectors", "-5")])
def test_train_more_bad_option_values(tmp_path, tiny_train, option, value):
    _train_fails(tmp_path, "--train", tiny_train, option, value, fragments=(option, value))


def test_training_that_diverges_is_an_error_not_a_traceback(tmp_path, tiny_train):
    out = tmp_path / "m.seqtag"
    result = run("train", "--train", tiny_train, "-o", out, "--epochs", "3", "--hidden", "8",
                 "--optimizer", "sgd", "--lr", "1e20", "--clip", "0")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    # Which symptom shows first (a huge loss, inf / NaN, an infinite gradient) depends on the CPU's
    # floating-point kernels; every one of them must end the run with the same kind of message.
    last = result.stderr.splitlines()[-1]
    assert last.startswith("seqtag: error: the ") and "try a lower --lr" in last, last
    assert any(symptom in last for symptom in ("diverged", "became nan", "became inf", "became -inf")), last
    assert not out.exists()


@pytest.mark.parametrize("losses, problem", [
    ([30.0, 25.0, 40.0, 3e4], ""),  # noisy but sane: batches differ in length and difficulty
    ([30.0, 2e21], "rose to 2e+21 from 30"),  # exploded without reaching inf (AVX-512 kernels)
    ([30.0, float("nan")], "became nan"),
    ([float("inf")], "became inf"),
    ([0.01, 5.0, 1e4 + 1], "rose to"),  # a first loss below 1 is measured against 1
])
def test_divergence_is_judged_on_the_loss_sequence_alone(losses, problem):
    from seqtag.training.loop import Progress, divergence

    progress = Progress()
    found = [divergence(loss, progress) for loss in losses]
    assert all(not f for f in found[:-1])
    assert (problem in found[-1]) if problem else not found[-1]


@pytest.mark.parametrize("command", ["predict", "evaluate", "info"])
def test_missing_model_file(tmp_path, trained, command):
    missing = tmp_path / "missing.seqtag"
    extra = [trained.test] if command == "evaluate" else []
    user_error(run(command, missing, *extra), "missing.seqtag")


@pytest.fixture(scope="module")
def _model_fails(raw_file):
    def _model_fails(command: str, model: pathlib.Path, trained, *fragments: str) -> str:
        extra = {"predict": [raw_file], "evaluate": [trained.test], "info": []}[command]
        return user_error(run(command, model, *extra), str(model), *fragments)

    return _model_fails


@pytest.mark.parametrize("command", ["predict", "evaluate", "info"])
def test_garbage_model_file(tmp_path, trained, command, _model_fails, write_file):
    import random

    rng = random.Random(7)
    for i in range(5):  # random bytes trip the unpickler in many different ways
        model = write_file(tmp_path / f"garbage{i}.seqtag", bytes(rng.randrange(256) for _ in range(64 + 400 * i)))
        _model_fails(command, model, trained, "not a seqtag model file")


@pytest.mark.parametrize("command", ["predict", "info"])
def test_truncated_model_file(tmp_path, trained, command, _model_fails, write_file):
    data = trained.model.read_bytes()
    model = write_file(tmp_path / "half.seqtag", data[: len(data) // 2])
    _model_fails(command, model, trained, "truncated")


@pytest.mark.parametrize("command", ["predict", "evaluate", "info"])
def test_model_from_a_newer_format_version(tmp_path, trained, command, _model_fails):
    model = tmp_path / "future.seqtag"
    body = torch.load(trained.model, weights_only=True)
    body["version"] = 99
    torch.save(body, model)
    _model_fails(command, model, trained, "version 99", "upgrade")


@pytest.mark.parametrize("key, value", [("config", "x"), ("vocab", []), ("state_dict", {"w": 1}), ("meta", [])])
def test_info_on_a_malformed_model_file(tmp_path, trained, key, value, _model_fails):
    body = torch.load(trained.model, weights_only=True)
    body[key] = value
    model = tmp_path / "odd.seqtag"
    torch.save(body, model)
    _model_fails("info", model, trained, f"malformed {key!r}")


def test_model_not_a_seqtag_file(tmp_path, trained, _model_fails):
    model = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, model)
    _model_fails("predict", model, trained, "not a seqtag model file")


class _TouchMarker:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("command", ["predict", "info", "evaluate"])
@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, trained, command, zipped, _model_fails):
    marker = tmp_path / "PWNED"
    model = tmp_path / "evil.seqtag"
    body = torch.load(trained.model, weights_only=True)
    body["meta"] = {"payload": _TouchMarker(marker)}
    torch.save(body, model, _use_new_zipfile_serialization=zipped)
    _model_fails(command, model, trained, "refusing to load")
    assert not marker.exists()


def test_evaluate_unknown_gold_label_names_the_line(tmp_path, trained, write_file):
    data = write_file(tmp_path / "gold.txt", "EU NNP B-ORG\nrejects VBZ O\n\nGerman JJ B-LANG\ncall NN O\n")
    user_error(run("evaluate", trained.model, data), f"{data}:4:", "B-LANG")


def test_evaluate_needs_a_model_or_predictions(trained):
    user_error(run("evaluate"), "--predictions")
    user_error(run("evaluate", trained.model), "--predictions")


def test_evaluate_model_and_predictions_together(trained, tmp_path, write_file):
    source = write_file(tmp_path / "p.txt", "EU B-ORG B-ORG\n")
    user_error(run("evaluate", trained.model, "--predictions", source), "--predictions")


def test_predict_non_utf8_input_names_the_line(tmp_path, trained, write_file):
    source = write_file(tmp_path / "raw.txt", "John lives in Berlin.\nHe likes M\xfcnchen.\n".encode("latin-1"))
    user_error(run("predict", trained.model, source), f"{source}:2:", "utf-8")
    user_error(run("predict", trained.model, source, "--tokenized"), f"{source}:2:")


def test_predict_missing_input_file(tmp_path, trained):
    user_error(run("predict", trained.model, tmp_path / "nope.txt"), "nope.txt")


def test_embeddings_without_values_are_refused(tmp_path, tiny_train, write_file):
    words = write_file(tmp_path / "words.txt", "the\nof\nand\n")
    result = run("train", "--train", tiny_train, "--embeddings", words, "-o", tmp_path / "m.seqtag", "--epochs", "1")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].startswith(f"seqtag: error: {words}:")
    assert not (tmp_path / "m.seqtag").exists()


def test_train_args_used_by_the_session_model_are_valid(sample_vectors, train_args):
    # Keeps conftest honest: every option it passes exists in `seqtag train --help`.
    result = run("train", "--help")
    ok(result)
    for option in train_args[::2]:
        assert option in result.stdout
    assert sample_vectors.exists()


def test_help_shows_the_defaults_of_optional_options():
    # rich reads "[default: …]" as markup and drops it; the help texts say "(default: …)" instead.
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "(default: lstm)" in result.stdout and "(default: 400000)" in result.stdout
