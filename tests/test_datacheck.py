"""`seqtag data check`: the findings of seqtag.tools.datacheck on crafted data, the report's exit codes, its table and
JSON forms, and which problems are errors (exit 1), warnings (exit 0) or usage errors (exit 2)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.tools.datacheck import Finding, check_data
from seqtag.errors import InputError

# The sample data, by path here (not as the conftest fixtures): parametrize lists are built before fixtures exist.
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
NER = SAMPLE / "ner"

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["data", "check", *map(str, args)])


def report_of(*args, exit_code: int = 0) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == exit_code, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return json.loads(result.stdout)


def found(report: dict, level: str, section: str, fragment: str) -> dict:
    """The one finding of ``level`` in ``section`` whose message holds ``fragment``."""
    hits = [f for f in report["findings"] if f["level"] == level and f["section"] == section and fragment in f["message"]]
    assert len(hits) == 1, (level, section, fragment, report["findings"])
    return hits[0]


def levels(findings: list[Finding]) -> set[str]:
    return {f.level for f in findings}


@pytest.fixture(scope="module")
def conll(write_file):
    def conll(path: Path, *sentences: str) -> Path:
        """A column file from sentences written as ``token/TAG token/TAG …``."""
        blocks = ["".join(f"{pair.rsplit('/', 1)[0]} {pair.rsplit('/', 1)[1]}\n" for pair in s.split()) for s in sentences]
        return write_file(path, "\n".join(blocks))

    return conll


# ---------------------------------------------------------------------------- tagging


def test_sample_data_counts_lengths_and_a_clean_table(conll_sentences):
    report = report_of(NER / "train.txt", "--dev", NER / "dev.txt")
    sentences = conll_sentences(NER / "train.txt")
    lengths = sorted(map(len, sentences))
    train = report["stats"]["train"]
    assert (train["sentences"], train["tokens"]) == (len(sentences), sum(lengths))
    assert train["length"] == {"min": lengths[0], "median": statistics.median(lengths),
                               "p95": lengths[int(0.95 * len(lengths) + 0.999) - 1], "max": lengths[-1]}
    assert set(train["entity_types"]) == {"PER", "LOC", "ORG", "MISC"} and report["stats"]["scheme"] == "iob2"
    assert report["errors"] == 0
    found(report, "ok", "train", "every tag sequence is valid iob2")
    found(report, "ok", "labels", "every dev entity type occurs in train")

    table = run(NER / "train.txt", "--dev", NER / "dev.txt")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "train" and "✔ every tag sequence is valid iob2" in lines
    assert lines[-1].startswith("⚠ ") and "no errors" in lines[-1]


def test_invalid_transitions_name_file_and_line(tmp_path, conll):
    data = conll(tmp_path / "train.txt", "John/B-PER Smith/I-PER left/O", "the/O Berlin/I-LOC office/O", "Ann/B-PER Paris/I-LOC")
    report = report_of(data, "--scheme", "iob2")
    finding = found(report, "warning", "train", "2 tag transitions invalid in iob2")
    assert finding["details"] == [f"{data}:6: O → I-LOC", f"{data}:10: B-PER → I-LOC"]
    bioes = conll(tmp_path / "bioes.txt", "John/B-PER Smith/E-PER left/O", "Ann/B-PER")
    finding = found(report_of(bioes), "warning", "train", "1 tag transition invalid in bioes")
    assert finding["details"] == [f"{bioes}:5: B-PER → end"]  # a chunk left open at the sentence end


def test_duplicates_conflicts_overlap_and_unseen_dev_types(tmp_path, conll):
    train = conll(tmp_path / "train.txt", "a/O Paris/B-LOC", "a/O Paris/B-LOC", "a/O Paris/B-ORG", "Bob/B-PER x/O")
    dev = conll(tmp_path / "dev.txt", "a/O Paris/B-LOC", "new/O Acme/B-ORG", "IBM/B-COMPANY y/O")
    report = report_of(train, "--dev", dev)
    assert found(report, "warning", "train", "2 duplicated sentences (50.0%)")["details"] == [
        f"{train}:4 repeats line 1: a Paris", f"{train}:7 repeats line 1: a Paris"]
    assert found(report, "warning", "train", "1 duplicated sentence labelled differently")["details"] == [
        f"{train}:7 and line 1: a Paris"]
    assert found(report, "warning", "train/dev", "1 dev sentence (33.3%) also in train")["details"] == [
        f"{dev}:1 = {train}:1: a Paris"]
    found(report, "warning", "labels", "dev has entity types train lacks; the model cannot predict them: COMPANY (1)")
    found(report, "ok", "dev", "no duplicated sentences")
    assert report["errors"] == 0  # all warnings: training would run


def test_long_sentences_and_rare_types(tmp_path, conll):
    train = conll(tmp_path / "train.txt", "a/O b/O c/O d/O e/O f/O", "Bob/B-PER", "a/O b/O c/O d/O e/O f/O g/B-LOC")
    report = report_of(train, "--max-length", 5)
    assert found(report, "warning", "train", "2 sentences longer than 5 tokens")["details"] == [
        f"{train}:1: 6 tokens", f"{train}:10: 7 tokens"]
    found(report, "warning", "labels", "2 entity types seen fewer than 5 times in train: LOC (1), PER (1)")


def test_plain_tags_and_a_single_tag(tmp_path, conll):
    pos = conll(tmp_path / "pos.txt", "the/DT cat/NN", "a/DT dog/NN ran/VBD")
    report = report_of(pos)
    assert report["stats"]["scheme"] == "plain"
    found(report, "ok", "labels", "3 tags in train: DT (2), NN (2), VBD (1)")
    assert "entity_types" not in report["stats"]["train"]
    only_o = conll(tmp_path / "o.txt", "the/O cat/O", "a/O dog/O")
    found(report_of(only_o, exit_code=1), "error", "labels", "only one label in train (O)")


def test_span_scheme_given_for_plain_tags_is_an_error(tmp_path, conll):
    pos = conll(tmp_path / "pos.txt", "the/DT cat/NN")
    found(report_of(pos, "--scheme", "bioes", exit_code=1), "error", "labels", "--scheme bioes given, but the tags have no B-/I- prefixes")


def test_a_file_the_reader_rejects_is_an_error_and_its_checks_are_skipped(tmp_path, write_file):
    dev = write_file(tmp_path / "dev.txt", "John B-PER\nSmith I-PER x\n")
    report = report_of(NER / "train.txt", "--dev", dev, exit_code=1)
    finding = found(report, "error", "dev", "expected 2 columns, got 3")
    assert finding["message"].startswith(f"{dev}:2: ")
    assert "dev" not in report["stats"] and not [f for f in report["findings"] if f["section"] == "train/dev"]
    table = run(NER / "train.txt", "--dev", dev)
    assert table.exit_code == 1
    assert table.stdout.splitlines()[-1] == "✖ 1 error, 1 warning: fix the errors before training"


def test_config_file_and_columns(tmp_path, write_file):
    data = write_file(tmp_path / "train.txt", "B-PER John\nI-PER Smith\nO left\n\nO bye\n")
    config = write_file(tmp_path / "c.toml", "[data]\ntoken-column = 1\ntag-column = 0\n")
    report = report_of(data, "--config", config)
    assert report["stats"]["train"]["labels"] == {"O": 2, "B-PER": 1, "I-PER": 1}
    assert report["stats"]["train"]["entity_types"] == {"PER": 1}
    report = report_of(data, "--config", config, "--token-column", "0", "--tag-column", "1")  # options win
    assert report["stats"]["scheme"] == "plain" and set(report["stats"]["train"]["labels"]) == {"John", "Smith", "left", "bye"}


# ---------------------------------------------------------------------------- embeddings


def test_embedding_coverage_exact_lowercase_and_digits(tmp_path, conll, write_file):
    vectors = write_file(tmp_path / "vec.txt", "3 2\nberlin 0.1 0.2\nParis 0.3 0.4\n0000 0.5 0.6\n")
    train = conll(tmp_path / "train.txt", "Berlin/B-LOC Paris/B-LOC 1996/O xyz/O", "berlin/B-LOC Berlin/B-LOC")
    dev = conll(tmp_path / "dev.txt", "Paris/B-LOC PARIS/B-LOC qq/O 2024/O")
    report = report_of(train, "--dev", dev, "--embeddings", vectors)
    coverage = report["stats"]["embeddings"]["train_coverage"]
    assert coverage["exact"] == {"tokens": 2 / 6, "types": 2 / 5}  # Paris, berlin
    assert coverage["lowercase"] == {"tokens": 4 / 6, "types": 3 / 5}  # + Berlin (twice)
    assert coverage["chain"] == {"tokens": 5 / 6, "types": 4 / 5}  # + 1996 -> 0000
    finding = found(report, "ok", "embeddings", "exact 33.3%, with lowercase 66.7%, with digits as 0 83.3%")
    assert finding["details"] == ["most frequent words without a vector: xyz (1)"]
    # dev words not in train: PARIS (lowercase misses: 'paris' is not a key), qq, 2024 (-> 0000)
    found(report, "ok", "embeddings", "75.0% of dev tokens are not in train; the vectors cover 33.3% of those")


def test_low_coverage_is_a_warning(tmp_path, write_file):
    vectors = write_file(tmp_path / "vec.txt", "1 2\nzzz 0.1 0.2\n")
    report = report_of(NER / "dev.txt", "--embeddings", vectors)
    found(report, "warning", "embeddings", "low: are these vectors for this language and casing?")
    assert report["errors"] == 0


def test_sample_vectors_cover_the_sample_data(sample_vectors):
    report = check_data(NER / "dev.txt", embeddings=sample_vectors)
    assert report.stats["embeddings"]["train_coverage"]["chain"]["tokens"] > 0.85
    assert levels(report.findings) == {"ok"}


# ---------------------------------------------------------------------------- classification


def test_sample_classification_data():
    report = report_of(SAMPLE / "cls" / "train.tsv", "--dev", SAMPLE / "cls" / "dev.tsv")
    assert report["task"] == "classify" and report["stats"]["train"]["texts"] == 900
    found(report, "ok", "labels", "3 labels in train: business (300), sports (300), weather (300)")
    found(report, "ok", "labels", "every dev label occurs in train")


def test_classification_errors_and_warnings(tmp_path, write_file):
    train = write_file(tmp_path / "train.tsv", "label\ttext\n" + "pos\tgood film\n" * 10 + "neg\tgood film\n")
    dev = write_file(tmp_path / "dev.tsv", "label\ttext\npos\tfine\nmeh\tso so\n")
    report = report_of(train, "--dev", dev, exit_code=1)
    found(report, "error", "labels", "dev has labels train lacks, which `seqtag train` refuses: meh (1)")
    found(report, "warning", "labels", "imbalanced: the largest class has 10× the texts of the smallest")
    found(report, "warning", "labels", "1 label seen fewer than 5 times in train: neg (1)")
    found(report, "warning", "train", "10 duplicated texts (90.9%)")
    assert found(report, "warning", "train", "1 duplicated text labelled differently")["details"] == [
        f"{train}:12 and line 2: good film"]
    single = write_file(tmp_path / "one.tsv", "label\ttext\npos\tgood\npos\tfine\n")
    found(report_of(single, exit_code=1), "error", "labels", "only one label in train (pos)")


def test_classification_long_texts_and_an_empty_text(tmp_path, write_file):
    data = write_file(tmp_path / "train.jsonl", '{"text": "a b c d", "label": "x"}\n{"text": "", "label": "y"}\n')
    finding = found(report_of(data, exit_code=1), "error", "train", "missing text")
    assert finding["message"].startswith(f"{data}:2: ")
    data = write_file(tmp_path / "long.jsonl", '{"text": "a b c d", "label": "x"}\n{"text": "e", "label": "y"}\n')
    found(report_of(data, "--max-length", 3, "--tokenized"), "warning", "train", "1 text longer than 3 tokens (--max-length); --max-tokens truncates them")


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args, fragment", [
    (["missing.txt"], "does not exist"),
    ([NER / "dev.txt", "--embeddings", SAMPLE / "README.md"], "README.md"),
    ([NER / "dev.txt", "--scheme", "bilou"], "'bilou' is not one of"),
    ([NER / "dev.txt", "--encoding", "nope"], "unknown encoding 'nope'"),
])
def test_usage_errors_exit_2_with_one_line(args, fragment):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1 and fragment in result.stderr


def test_a_pipe_is_refused_because_files_are_read_twice(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        check_data(fifo)
