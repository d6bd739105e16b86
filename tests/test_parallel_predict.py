"""`seqtag predict --workers N` and `--shard I/N`: the same bytes as one process tagging the whole input.

Workers get exactly the chunks one process forms, so their batches are the same; shards cut the input by
lines, so their batches differ from the whole run's. The network's float results are the same for a
sentence in any batch of several sentences, but with the test model a batch of ONE sentence under several
torch threads can move a probability in its 6th decimal (a different matrix kernel), so the inputs with
probabilities in the output are sized so that no batch holds a single sentence. Tags are compared everywhere.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app

runner = CliRunner()


def run(*args, input: str | bytes | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def output(*args) -> bytes:
    """stdout of a successful `seqtag …` that wrote nothing on stderr."""
    result = run(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.stderr == ""
    return result.stdout_bytes


def sharded(n: int, *args) -> bytes:
    return b"".join(output(*args, "--shard", f"{i}/{n}") for i in range(n))


@pytest.fixture(autouse=True)
def watchdog():
    """A hang (a pool waiting for a dead worker) fails the test instead of stalling the run."""
    def expire(signum, frame):
        raise TimeoutError("the command hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(300)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def ner_test_sentences(conll_sentences, ner_dir) -> list[list[list[str]]]:
    return conll_sentences(ner_dir / "test.txt", 100)


@pytest.fixture
def conll_input(tmp_path: Path, conll_text, ner_test_sentences, write_file) -> Path:
    """100 sentences (10 chunks of --chunk 10), with -DOCSTART- lines and runs of blank lines."""
    text = "-DOCSTART- -X- O\n\n" + conll_text(ner_test_sentences[:40]) + "\n\n-DOCSTART- -X- O\n\n" + conll_text(ner_test_sentences[40:])
    return write_file(tmp_path / "in.conll", text)


@pytest.fixture
def raw_input(tmp_path: Path, ner_test_sentences, raw_file, write_file) -> Path:
    """Lines of one to three sentences, blank and whitespace-only lines, no newline at the end."""
    lines = raw_file.read_text(encoding="utf-8").splitlines() + ["", "   "]
    lines += [" ".join(row[0] for row in s) for s in ner_test_sentences[:60]]
    lines[20:20] = ["", "Ann met Bob in Paris. They flew to Rome."]
    return write_file(tmp_path / "in.txt", "\n".join(lines))


@pytest.fixture(scope="module")
def cls_rows(repo_root):
    def cls_rows(limit: int = 90) -> list[list[str]]:
        lines = (repo_root / "sample_data/cls/test.tsv").read_text(encoding="utf-8").splitlines()[1 : limit + 1]
        return [line.split("\t", 1) for line in lines]

    return cls_rows


@pytest.fixture(scope="module")
def cls_file(cls_rows, write_file):
    def cls_file(path: Path, fmt: str) -> Path:
        """The test texts in a classification format; labels are ignored by predict."""
        rows = cls_rows()
        if fmt == "tsv":
            return write_file(path, "label\ttext\n" + "".join(f"{l}\t{t}\n" + ("\n" if i % 9 == 0 else "") for i, (l, t) in enumerate(rows)))
        if fmt == "csv":  # quoted fields spanning lines: records of several lines
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["label", "text"])
            for i, (label, text) in enumerate(rows):
                writer.writerow([label, text.replace(" ", "\n", 2) if i % 4 == 0 else text])
            return write_file(path, out.getvalue())
        if fmt == "jsonl":
            return write_file(path, "".join(json.dumps({"label": l, "text": t}) + "\n" for l, t in rows))
        if fmt == "fasttext":
            return write_file(path, "".join(f"__label__{l} {t}\n" for l, t in rows))
        assert fmt == "raw"  # one text per line; an empty line gives an empty line out
        return write_file(path, "".join(t + "\n" + ("\n" if i % 11 == 0 else "") for i, (_, t) in enumerate(rows)))

    return cls_file


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory, repo_root, write_file) -> Path:
    folder = tmp_path_factory.mktemp("cls")
    lines = (repo_root / "sample_data/cls/train.tsv").read_text(encoding="utf-8").splitlines()[:81]
    data = write_file(folder / "train.tsv", "\n".join(lines) + "\n")
    model = folder / "cls.seqtag"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(folder / "cache"))
        result = run("train", "--train", data, "-o", model, "--epochs", "2", "--hidden", "8", "--word-dim", "8", "--seed", "1")
    assert result.exit_code == 0, result.output
    return model


# ---------------------------------------------------------------------------- --workers


@pytest.mark.parametrize("extra", [(), ("--confidence", "--nbest", "2")], ids=["conll", "jsonl-confidence"])
def test_workers_tag_like_one_process(trained, conll_input, extra):
    args = ("predict", trained.model, conll_input, "--input-format", "conll", "--chunk", "10", *extra)
    single = output(*args)
    assert single.count(b"\n\n" if not extra else b"\n") == 100
    assert output(*args, "--workers", "2") == single
    assert output(*args, "--workers", "3", "--batch-size", "4") == output(*args, "--batch-size", "4")


@pytest.mark.parametrize("extra", [(), ("--format", "jsonl", "--confidence", "--nbest", "2")], ids=["labels", "jsonl"])
def test_workers_classify_like_one_process(classifier, tmp_path, extra, cls_file):
    source = cls_file(tmp_path / "texts.txt", "raw")
    args = ("predict", classifier, source, "--chunk", "10", *extra)
    single = output(*args)
    assert single.count(b"\n") == len(source.read_text(encoding="utf-8").splitlines())
    assert output(*args, "--workers", "2") == single


def test_workers_in_a_real_process(trained, raw_input, tmp_path, repo_root):
    """`python -m seqtag` as users run it: fork from a fresh process, clean stderr, same bytes."""
    single = output("predict", trained.model, raw_input, "--format", "jsonl", "--chunk", "8")
    env = {**os.environ, "PYTHONPATH": str(repo_root), "SEQTAG_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "seqtag", "predict", str(trained.model), str(raw_input), "--format", "jsonl",
         "--chunk", "8", "--workers", "2"],
        capture_output=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    assert proc.stdout == single


def test_workers_read_stdin(trained, conll_input):
    text = conll_input.read_bytes()
    single = run("predict", trained.model, "-", "--input-format", "conll", "--chunk", "10", input=text)
    parallel = run("predict", trained.model, "-", "--input-format", "conll", "--chunk", "10", "--workers", "2", input=text)
    assert parallel.exit_code == 0 and parallel.stderr == ""
    assert parallel.stdout_bytes == single.stdout_bytes


def test_workers_report_input_errors(trained, tmp_path, conll_text, ner_test_sentences, write_file):
    """A bad row 60 sentences in: one error line and exit 2, with the workers busy on earlier chunks."""
    text = conll_text(ner_test_sentences[:60]) + "Bad row with four\n\n" + conll_text(ner_test_sentences[60:])
    source = write_file(tmp_path / "bad.conll", text)
    line = text.splitlines().index("Bad row with four") + 1
    result = run("predict", trained.model, source, "--input-format", "conll", "--chunk", "10", "--workers", "2")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"seqtag: error: {source}:{line}: expected 3 columns, got 4"]


def test_a_worker_error_is_one_error_line(trained, conll_input, monkeypatch, one_error_line):
    """An InputError raised in a worker (forked with this patch) reaches the user like any other."""
    from seqtag.errors import InputError
    from seqtag.tasks.tagging import Tagger

    def fail(self, token_lists, batch_size=256):
        raise InputError("cannot tag this", "somewhere.txt", 7)

    monkeypatch.setattr(Tagger, "predict_chunk", fail)
    result = run("predict", trained.model, conll_input, "--input-format", "conll", "--chunk", "10", "--workers", "2")
    one_error_line(result, "somewhere.txt:7: cannot tag this")


def test_a_dying_worker_fails_cleanly(trained, conll_input, monkeypatch):
    """A worker killed mid-run (here it exits) ends the command with one error line, not a hang."""
    from seqtag.tasks.tagging import Tagger

    monkeypatch.setattr(Tagger, "predict_chunk", lambda self, token_lists, batch_size=256: os._exit(9))
    result = run("predict", trained.model, conll_input, "--input-format", "conll", "--chunk", "10", "--workers", "2")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["seqtag: error: a --workers process ended abruptly (killed, or out of memory?)"]


# ---------------------------------------------------------------------------- --shard


def test_shards_of_conll_input(trained, conll_input):
    args = ("predict", trained.model, conll_input, "--input-format", "conll")
    whole = output(*args)
    assert sharded(3, *args) == whole
    assert sharded(4, *args, "--confidence") == output(*args, "--confidence")
    parts = [output(*args, "--shard", f"{i}/3") for i in range(3)]
    assert all(part.count(b"\n\n") > 20 for part in parts)  # lines are split evenly, so are these sentences


@pytest.mark.parametrize("extra", [(), ("--format", "jsonl"), ("--tokenized", "--confidence"), ("--nbest", "2")])
def test_shards_of_raw_text(trained, raw_input, extra):
    args = ("predict", trained.model, raw_input, *extra)
    whole = output(*args)
    assert sharded(3, *args) == whole
    if "jsonl" in extra:  # records keep the line numbers of the whole file
        lines = [json.loads(line)["line"] for line in output(*args, "--shard", "2/3").splitlines()]
        assert lines[0] > 40 and lines[-1] == len(raw_input.read_text(encoding="utf-8").splitlines())


def test_shards_of_conllu_input(trained, tmp_path, ner_test_sentences, write_file):
    rows = []
    for n, sentence in enumerate(ner_test_sentences[:30]):
        rows.append(f"# sent_id = {n}\n# text = {' '.join(r[0] for r in sentence)}\n")
        rows += [f"{i}\t{r[0]}\t_\tX\t_\t_\t0\t_\t_\t_\n" for i, r in enumerate(sentence, 1)]
        rows.append("\n")
    source = write_file(tmp_path / "in.conllu", "".join(rows))
    args = ("predict", trained.model, source, "--input-format", "conllu", "--format", "jsonl")
    assert sharded(3, *args) == output(*args)


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl", "fasttext", "raw"])
def test_shards_of_classification_files(classifier, tmp_path, fmt, cls_file):
    source = cls_file(tmp_path / f"texts.{fmt}", fmt)
    for extra in ((), ("--format", "jsonl", "--confidence")):
        args = ("predict", classifier, source, "--input-format", fmt, *extra)
        whole = output(*args)
        assert whole.count(b"\n") >= 90
        assert sharded(3, *args) == whole


def test_more_shards_than_sentences(trained, classifier, tmp_path, conll_text, ner_test_sentences, write_file):
    """Parts without a sentence of their own write nothing and succeed."""
    conll = write_file(tmp_path / "two.conll", conll_text(ner_test_sentences[:2]))
    args = ("predict", trained.model, conll, "--input-format", "conll")
    parts = [output(*args, "--shard", f"{i}/9") for i in range(9)]
    assert b"".join(parts) == output(*args)
    assert sum(part == b"" for part in parts) == 7
    raw = write_file(tmp_path / "two.txt", "John lives in Berlin.\nMary met Ann in Rome. They left.\n")
    assert sharded(5, "predict", trained.model, raw, "--format", "jsonl") == output("predict", trained.model, raw, "--format", "jsonl")
    texts = write_file(tmp_path / "one.tsv", "label\ttext\nx\tRain in Oslo\n")
    args = ("predict", classifier, texts, "--input-format", "tsv")
    assert sharded(4, *args) == output(*args) != b""


def test_shards_with_workers(trained, conll_input):
    args = ("predict", trained.model, conll_input, "--input-format", "conll", "--chunk", "10")
    assert sharded(3, *args, "--workers", "2") == output(*args)


def test_shards_find_errors_of_their_own_lines_only(trained, tmp_path, ner_test_sentences, write_file):
    """A bad line breaks the part that holds it (and, for line formats, only that one)."""
    lines = [" ".join(row[0] for row in s) for s in ner_test_sentences[:30]]
    source = write_file(tmp_path / "bad.txt", "\n".join(lines).encode("utf-8") + b"\n\xff\xfe bad\n" + b"Ann left.\n")
    args = ("predict", trained.model, source, "--tokenized")
    assert run(*args, "--shard", "0/2").exit_code == 0
    result = run(*args, "--shard", "1/2")
    assert result.exit_code == 2 and result.stderr.startswith(f"seqtag: error: {source}:31:")


@pytest.mark.parametrize("value", ["1", "a/b", "1/3/4", "3/3", "7/2", "1/0", "0/0", "-1/3", "1.5/3", ""])
def test_bad_shard_values(trained, value, one_error_line, raw_file):
    one_error_line(run("predict", trained.model, raw_file, f"--shard={value}"), "--shard: ")


def test_shard_needs_a_file(trained, tmp_path, one_error_line):
    one_error_line(run("predict", trained.model, "-", "--shard", "0/2", input="John lives in Berlin.\n"), "--shard: ", "stdin")
    one_error_line(run("predict", trained.model, "--shard", "1/2", input="John lives in Berlin.\n"), "--shard: ", "stdin")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    one_error_line(run("predict", trained.model, fifo, "--shard", "0/2"), "--shard: ", "regular file")
    missing = tmp_path / "missing.txt"
    one_error_line(run("predict", trained.model, missing, "--shard", "1/2"), str(missing), "no such file")


# ---------------------------------------------------------------------------- the pool where there is no fork


def test_spawned_workers_load_the_model_themselves(trained, tagger, tmp_path, ner_test_sentences):
    """macOS and Windows spawn the workers: each loads the model file, and a failure to load reaches the caller."""
    from seqtag.data.sentence import Sentence
    from seqtag.errors import InputError
    from seqtag.inference.workers import WorkerPool

    sentences = [Sentence([row[0] for row in s]) for s in ner_test_sentences[:40]]
    expected = list(tagger.predict_stream(sentences, batch_size=256, chunk=10))
    with WorkerPool(tagger, trained.model, 2, method="spawn") as pool:
        assert list(pool.predict(sentences, 10, "predict_chunk", batch_size=256)) == expected
    missing = tmp_path / "gone.seqtag"
    with pytest.raises(InputError, match="gone.seqtag: no such file"):
        with WorkerPool(tagger, missing, 1, method="spawn") as pool:
            list(pool.predict(sentences, 10, "predict_chunk", batch_size=256))
