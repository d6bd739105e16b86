"""Shared fixtures: a tiny model trained once per session, the server tests' tiny tagger and classifier, a
private embedding cache, data-file helpers, the brute-force CRF oracle and an untrained tagger.

Test modules never import from this file (nor from each other): every shared path and helper is a
fixture (``repo_root``, ``sample_dir``, ``write_file``, ``one_error_line``, ``enumerate_paths``,
``random_tagger``, ...), requested by name.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
NER = SAMPLE / "ner"
VECTORS = SAMPLE / "vectors.txt"
RAW = SAMPLE / "raw.txt"
# The session model's `seqtag train` options: small enough to train in about a second, good enough to
# find some entities in sample_data/raw.txt.
TRAIN_ARGS = ("--epochs", "3", "--hidden", "16", "--lr", "0.01", "--batch-size", "16", "--seed", "1")


# ---------------------------------------------------------------------------- data helpers


def _conll_sentences(path: Path, limit: int | None = None, skip: int = 0) -> list[list[list[str]]]:
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


def _conll_text(sentences: list[list[list[str]]]) -> str:
    return "".join("".join(" ".join(row) + "\n" for row in sentence) + "\n" for sentence in sentences)


def _write_conll(path: Path, sentences: list[list[list[str]]] | list[list[tuple[str, ...]]]) -> Path:
    """Write sentences (lists of column rows) as a CoNLL file with blank lines between sentences."""
    path.write_text(_conll_text([[list(row) for row in s] for s in sentences]), encoding="utf-8")
    return path


def _write_file(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _one_error_line(result, *fragments) -> None:
    """A CLI result that failed as users must see it: exit 2, nothing on stdout, one `seqtag: error:` line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _sample_slice(split: str, limit: int, dest: Path, skip: int = 0) -> Path:
    """The first ``limit`` sentences of sample_data/ner/<split>.txt, written to ``dest``."""
    return _write_conll(dest, _conll_sentences(NER / f"{split}.txt", limit, skip))


def _check_png(path: Path):
    """Assert that ``path`` is a PNG that decodes to a picture with something drawn on it; its pixels
    (height x width x channels, floats in [0, 1]).

    A blank picture (one colour all over, e.g. an empty white figure) fails, however large the file:
    at least 16 distinct colours, a pixel standard deviation of 0.02 and 0.5% of the pixels off the
    most common colour are required (seqtag's smallest plot, a t-SNE map of 10 words, has 262
    colours, 0.08 and 1.8%).
    """
    import matplotlib.image
    import numpy as np

    data = Path(path).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path}: not a PNG file"
    pixels = np.asarray(matplotlib.image.imread(path))
    assert pixels.ndim == 3 and pixels.shape[0] >= 50 and pixels.shape[1] >= 50, f"{path}: {pixels.shape} pixels"
    flat = pixels.reshape(-1, pixels.shape[2])
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    std = float(flat.std())
    drawn = 1.0 - counts.max() / len(flat)
    assert len(colours) >= 16 and std >= 0.02 and drawn >= 0.005, (
        f"{path}: a blank picture ({len(colours)} colour(s), pixel std {std:.4f}, {drawn:.2%} drawn)")
    return pixels


# ---------------------------------------------------------------------------- brute-force CRF oracle

CRF_LENGTHS = [5, 3, 1, 4]  # the sequence lengths of a make_case batch


def _make_case(seed: int, num_tags: int, constraints=None):
    """A float64 CRF with spread-out random scores, emissions and a mixed-length mask."""
    import torch

    from seqtag.models.crf import LinearChainCRF

    gen = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF(num_tags, constraints).double()
    with torch.no_grad():
        for param in crf.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float64))
    emissions = torch.randn(len(CRF_LENGTHS), max(CRF_LENGTHS), num_tags, generator=gen, dtype=torch.float64)
    mask = torch.arange(max(CRF_LENGTHS))[None, :] < torch.tensor(CRF_LENGTHS)[:, None]
    return crf, emissions, mask


def _random_constraints(seed: int, num_tags: int) -> list[tuple[int, int]]:
    """Random allowed pairs; tag 0 can start, repeat and end so every length has an allowed path, and
    at least one start, end and transition is forbidden."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    start, end = num_tags, num_tags + 1
    pairs = {
        (i, j)
        for i in [*range(num_tags), start]
        for j in [*range(num_tags), end]
        if (i, j) != (start, end) and torch.rand(1, generator=gen).item() < 0.6
    }
    pairs |= {(start, 0), (0, 0), (0, end)}
    pairs -= {(start, 1), (2, end), (1, 2)}
    return sorted(pairs)


def _allowed(path, constraints, num_tags: int) -> bool:
    if constraints is None:
        return True
    pairs = set(constraints)
    return (
        (num_tags, path[0]) in pairs
        and (path[-1], num_tags + 1) in pairs
        and all((a, b) in pairs for a, b in zip(path, path[1:]))
    )


def _enumerate_paths(crf, emissions, mask, constraints) -> list[list[tuple[float, tuple]]]:
    """Per sequence, (raw score, path) of every allowed tag sequence, best first."""
    k = crf.num_tags
    trans = crf.transitions.tolist()
    start = crf.start_transitions.tolist()
    end = crf.end_transitions.tolist()
    out = []
    for em, length in zip(emissions.tolist(), mask.sum(1).tolist()):
        scored = []
        for path in itertools.product(range(k), repeat=length):
            if not _allowed(path, constraints, k):
                continue
            score = start[path[0]] + end[path[-1]] + sum(em[t][y] for t, y in enumerate(path))
            score += sum(trans[a][b] for a, b in zip(path, path[1:]))
            scored.append((score, path))
        scored.sort(reverse=True)
        out.append(scored)
    return out


def _logsumexp(xs: list[float]) -> float:
    top = max(xs)
    return top + math.log(sum(math.exp(x - top) for x in xs))


# ---------------------------------------------------------------------------- an untrained tagger

TAGGER_WORDS = ["a", "b", "c", "d"]  # the vocabulary of random_tagger (besides <pad> and <unk>)


def _random_tagger(head: str, train_scheme: str, data_scheme: str):
    """An untrained tagger whose scores are scaled up so its distributions are far from uniform."""
    import torch

    from seqtag.config import DataConfig, ModelConfig
    from seqtag.data.vocab import Vocab, WordVocab
    from seqtag.tasks.tagging import Tagger, build_net, label_set

    torch.manual_seed(0)
    words = WordVocab(["<pad>", "<unk>", *TAGGER_WORDS])
    labels = Vocab(label_set([["B-A", "B-B"]], train_scheme))
    config = ModelConfig(train_scheme=train_scheme, head=head, hidden=8, word_dim=8, char_encoder="none", dropout=0.0)
    net = build_net(config, words, None, labels, train_scheme)
    with torch.no_grad():
        net.project.weight.mul_(15)
        if net.crf is not None:
            net.crf.transitions.mul_(15)
    return Tagger(net, words, None, labels, config, DataConfig(), data_scheme=data_scheme)


def _tagger_distribution(tagger, tokens: list[str]) -> tuple[list[tuple[int, ...]], list[float]]:
    """Every tag sequence the tagger allows for ``tokens`` (model-scheme tag ids) with its probability, by
    enumeration in float64: a softmax head's product of token probabilities, or the CRF's normalised scores."""
    import torch

    with torch.inference_mode():
        emissions = tagger.net.emissions(tagger.collate([tokens]))[0].double()  # shape: (L, K)
    length, num_tags = emissions.shape
    paths = torch.tensor(list(itertools.product(range(num_tags), repeat=length)))  # shape: (P, L)
    steps = torch.arange(length)
    crf = tagger.net.crf
    if crf is None:
        scores = emissions.log_softmax(dim=1)[steps, paths].sum(dim=1)
    else:
        allowed = crf.allowed_start[paths[:, 0]] & crf.allowed_end[paths[:, -1]]
        allowed &= crf.allowed_transitions[paths[:, :-1], paths[:, 1:]].all(dim=1)
        paths = paths[allowed]
        scores = (
            crf.start_transitions.double()[paths[:, 0]] + emissions[steps, paths].sum(dim=1)
            + crf.transitions.double()[paths[:, :-1], paths[:, 1:]].sum(dim=1) + crf.end_transitions.double()[paths[:, -1]]
        )
    return [tuple(p) for p in paths.tolist()], scores.softmax(dim=0).tolist()


# ---------------------------------------------------------------------------- paths and helpers as fixtures


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """sample_data/"""
    return SAMPLE


@pytest.fixture(scope="session")
def ner_dir() -> Path:
    """sample_data/ner/ (train.txt, dev.txt, test.txt)"""
    return NER


@pytest.fixture(scope="session")
def sample_vectors() -> Path:
    """sample_data/vectors.txt: 389 word2vec-text vectors of 20 dimensions."""
    return VECTORS


@pytest.fixture(scope="session")
def raw_file() -> Path:
    """sample_data/raw.txt: untokenized text, one paragraph a line."""
    return RAW


@pytest.fixture(scope="session")
def train_args() -> tuple[str, ...]:
    """The `seqtag train` options of the session model."""
    return TRAIN_ARGS


@pytest.fixture(scope="session")
def conll_sentences() -> Callable[..., list[list[list[str]]]]:
    """``conll_sentences(path, limit=None, skip=0)``: the sentences of a CoNLL file as column rows."""
    return _conll_sentences


@pytest.fixture(scope="session")
def conll_text() -> Callable[[list[list[list[str]]]], str]:
    """``conll_text(sentences)``: column rows back to CoNLL text."""
    return _conll_text


@pytest.fixture(scope="session")
def write_conll() -> Callable[..., Path]:
    """``write_conll(path, sentences)``: a CoNLL file; returns the path."""
    return _write_conll


@pytest.fixture(scope="session")
def write_file() -> Callable[[Path, str | bytes], Path]:
    """``write_file(path, text_or_bytes)``: returns the path."""
    return _write_file


@pytest.fixture(scope="session")
def one_error_line() -> Callable[..., None]:
    """``one_error_line(result, *fragments)``: asserts a CLI result failed with one `seqtag: error:` line."""
    return _one_error_line


@pytest.fixture(scope="session")
def sample_slice() -> Callable[..., Path]:
    """``sample_slice(split, limit, dest, skip=0)``: sentences of sample_data/ner/<split>.txt in ``dest``."""
    return _sample_slice


@pytest.fixture(scope="session")
def check_png() -> Callable:
    """``check_png(path)``: asserts a PNG that is not blank (see ``_check_png``); returns its pixels."""
    return _check_png


@pytest.fixture(scope="session")
def crf_lengths() -> list[int]:
    """The sequence lengths of a ``make_case`` batch: [5, 3, 1, 4]."""
    return CRF_LENGTHS


@pytest.fixture(scope="session")
def make_case() -> Callable:
    """``make_case(seed, num_tags, constraints=None)``: (float64 CRF, emissions, mask) of random scores."""
    return _make_case


@pytest.fixture(scope="session")
def random_constraints() -> Callable[[int, int], list[tuple[int, int]]]:
    """``random_constraints(seed, num_tags)``: random allowed (from, to) pairs; start = K, end = K + 1."""
    return _random_constraints


@pytest.fixture(scope="session")
def allowed() -> Callable[..., bool]:
    """``allowed(path, constraints, num_tags)``: whether the constraints allow a tag path."""
    return _allowed


@pytest.fixture(scope="session")
def enumerate_paths() -> Callable:
    """``enumerate_paths(crf, emissions, mask, constraints)``: per sequence, every allowed (score, path), best first."""
    return _enumerate_paths


@pytest.fixture(scope="session")
def logsumexp() -> Callable[[list[float]], float]:
    return _logsumexp


@pytest.fixture(scope="session")
def tagger_distribution() -> Callable:
    """``tagger_distribution(tagger, tokens)``: every tag sequence (model-scheme ids) with its probability,
    by enumeration (the oracle for confidences, n-best lists and entity probabilities)."""
    return _tagger_distribution


@pytest.fixture(scope="session")
def random_tagger() -> Callable:
    """``random_tagger(head, train_scheme, data_scheme)``: an untrained tagger over the words a, b, c, d
    whose scores are scaled up so its distributions are far from uniform."""
    return _random_tagger


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True, scope="session")
def python_handles_ctrl_c() -> None:
    """A shell starts background jobs with SIGINT ignored, and Python then leaves it ignored; seqtag (rightly)
    keeps a handler it did not install, so the Ctrl-C tests would see no interrupt. Tests run with Python's
    own handler, however pytest was started."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    _sample_slice("train", 200, folder / "train.txt")
    _sample_slice("dev", 60, folder / "dev.txt")
    _sample_slice("test", 60, folder / "test.txt")
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
def serve_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny tagger and classifier for the server's tests (seconds to train), trained once per session."""
    import seqtag

    folder = tmp_path_factory.mktemp("serve-models")
    tiny = {"hidden": 16, "epochs": 1, "char_encoder": "none", "lr": 0.02, "batch_size": 32, "seed": 1}
    models = {"ner": folder / "ner.seqtag", "cls": folder / "cls.seqtag"}
    data = {"ner": ("ner/train.txt", "ner/dev.txt"), "cls": ("cls/train.tsv", "cls/dev.tsv")}
    for name, path in models.items():
        train, dev = data[name]
        seqtag.train(train=SAMPLE / train, dev=SAMPLE / dev, output=path, **tiny)
    return models


@pytest.fixture(scope="session")
def tagger(trained: Trained):
    """The session model loaded through the library."""
    from seqtag import load_model

    return load_model(trained.model)
