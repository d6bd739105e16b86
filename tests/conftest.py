"""Shared fixtures: a tiny model trained once per session, a private embedding cache, data-file helpers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
NER = SAMPLE / "ner"
VECTORS = SAMPLE / "vectors.txt"
RAW = SAMPLE / "raw.txt"


# ---------------------------------------------------------------------------- data helpers


def conll_sentences(path: Path, limit: int | None = None, skip: int = 0) -> list[list[list[str]]]:
    """Sentences of a CoNLL file as lists of column rows (``-DOCSTART-`` dropped)."""
    sentences: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        row = line.split()
        if not row or row[0] == "-DOCSTART-":
            if rows:
                sentences.append(rows)
                rows = []
            continue
        rows.append(row)
    return sentences[skip:][:limit] if limit is not None else sentences[skip:]


def conll_text(sentences: list[list[list[str]]]) -> str:
    return "".join("".join(" ".join(row) + "\n" for row in sentence) + "\n" for sentence in sentences)


def write_conll(path: Path, sentences: list[list[list[str]]] | list[list[tuple[str, ...]]]) -> Path:
    """Write sentences (lists of column rows) as a CoNLL file with blank lines between sentences."""
    path.write_text(conll_text([[list(row) for row in s] for s in sentences]), encoding="utf-8")
    return path


def write_file(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one_error_line(result, *fragments) -> None:
    """A CLI result that failed as users must see it: exit 2, nothing on stdout, one `seqtag: error:` line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def sample_slice(split: str, limit: int, dest: Path, skip: int = 0) -> Path:
    """The first ``limit`` sentences of sample_data/ner/<split>.txt, written to ``dest``."""
    return write_conll(dest, conll_sentences(NER / f"{split}.txt", limit, skip))


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own embedding cache: nothing is ever written to ~/.cache."""
    folder = tmp_path / "seqtag-cache"
    monkeypatch.setenv("SEQTAG_CACHE_DIR", str(folder))
    return folder


@dataclass
class Trained:
    model: Path  # the .seqtag file
    train: Path
    dev: Path
    test: Path
    stdout: str  # of `seqtag train`
    stderr: str
    exit_code: int


# Small enough to train in about a second, good enough to find some entities in sample_data/raw.txt.
TRAIN_ARGS = ["--epochs", "3", "--hidden", "16", "--lr", "0.01", "--batch-size", "16", "--seed", "1"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    sample_slice("train", 200, folder / "train.txt")
    sample_slice("dev", 60, folder / "dev.txt")
    sample_slice("test", 60, folder / "test.txt")
    return folder


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Trained:
    """One tiny BiLSTM-CRF, trained once through the CLI (with the sample vectors) for the whole session."""
    from typer.testing import CliRunner

    from seqtag.cli import app

    folder = tmp_path_factory.mktemp("model")
    model = folder / "ner.seqtag"
    args = [
        "train", "--train", str(data_dir / "train.txt"), "--dev", str(data_dir / "dev.txt"),
        "--embeddings", str(VECTORS), "--output", str(model), *TRAIN_ARGS,
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(folder / "cache"))
        result = CliRunner().invoke(app, args)
    if result.exit_code != 0 or not model.exists():
        raise RuntimeError(f"training the test model failed ({result.exit_code}):\n{result.output}\n{result.exception!r}")
    return Trained(model, data_dir / "train.txt", data_dir / "dev.txt", data_dir / "test.txt",
                   result.stdout, result.stderr, result.exit_code)


@pytest.fixture(scope="session")
def tagger(trained: Trained):
    """The session model loaded through the library."""
    from seqtag import load_model

    return load_model(trained.model)
