"""Property-based fuzzing of every reader: for ANY bytes, a reader parses them or raises InputError.

Anything else (an IndexError, a RecursionError, a MemoryError, a gensim or torch exception) is a bug: the
CLI would print a traceback instead of one ``seqtag: error:`` line. Inputs are both raw bytes and bytes
built from each format's own pieces (tabs, ``__label__``, JSON, headers, B-/I- tags), which reach far
deeper into the parsers than random noise does.

Budget: 14 properties of ``EXAMPLES`` (150) examples each (columns, CoNLL-U, 8 classification formats, raw
and tokenized text, task detection, TOML) and 6 of ``EXAMPLES // 3`` (50) for readers that go through gensim
or torch.load (word2vec text, gzip'd text and binary vectors, mutated model and checkpoint files, random
bytes as a model file): 2,400 examples per run, new ones every run (no example database is kept).
"""
from __future__ import annotations

import gzip
import io
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqtag.archive import load_archive
from seqtag.training.checkpoint import read_checkpoint
from seqtag.config import read_toml
from seqtag.formats.columns import read_columns
from seqtag.formats.conllu import read_conllu
from seqtag.formats.registry import detect_task
from seqtag.formats.text import read_raw, read_tokenized
from seqtag.formats.classification import read_examples
from seqtag.vectors.pretrained import load_vectors
from seqtag.errors import InputError

EXAMPLES = 150  # per reader; the whole file stays well under 30 s on 2 cores
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(FUZZ, max_examples=EXAMPLES // 3)  # readers that go through gensim or torch.load

# Pieces each format is made of; joined at random they give nearly-valid files with one thing wrong.
PIECES = {
    "columns": ["EU", "NNP", "B-ORG", "I-PER", "O", "-DOCSTART-", " ", "  ", "\t", "\n", "\n\n", "\r\n", "x", "é"],
    "conllu": ["1", "2", "1-2", "1.1", "\t", "_", "DET", "NOUN", "# text = a b", "#", "\n", "\n\n", "the", " "],
    "textcls": ["__label__", "pos", "neg", "label", "text", "sentence", "\t", ",", '"', '""', " ", "\n", "\n\n",
                '{"text": "a b", "label": 1}', '{"label": null}', "{", "}", "[", "]", ":", "0", "-1", "é"],
    "toml": ["hidden", "epochs", "cell", "lr", "=", " ", "\n", "[model]", "[train]", "[data]", "[x.y]", '"lstm"',
             "12", "-3", "1e400", "nan", "true", "1979-05-27", "[1, 2]", "{a = 1}", "'", '"', "#", "char-encoder", "seed"],
    "vectors": ["3 4", "2 3", "0 0", "the", "of", " ", "  ", "\n", "1", "-2.5", "nan", "inf", "1e40", "x", "\t", "é"],
}


def assembled(kind: str) -> st.SearchStrategy[bytes]:
    """Bytes made of ``kind``'s pieces, or raw bytes, or text with a bad byte spliced in."""
    pieces = st.lists(st.sampled_from(PIECES[kind]), max_size=40).map(lambda parts: "".join(parts).encode("utf-8"))
    spliced = st.tuples(pieces, st.binary(min_size=1, max_size=3), st.integers(0, 400)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:]
    )
    return st.one_of(pieces, spliced, st.binary(max_size=300))


def gzipped(kind: str) -> st.SearchStrategy[bytes]:
    """gzip files of ``kind``'s bytes: whole, cut short, or with bytes overwritten."""
    return st.tuples(assembled(kind), st.one_of(st.none(), st.integers(0, 60)), st.binary(max_size=2), st.integers(0, 60)).map(
        lambda t: _overwrite(gzip.compress(t[0])[: t[1]], t[3], t[2])
    )


def _overwrite(data: bytes, position: int, replacement: bytes) -> bytes:
    return data[:position] + replacement + data[position + len(replacement):]


def parses_or_input_error(read: Callable[[], object]) -> None:
    """The property: reading finishes, or stops with the documented InputError."""
    try:
        read()
    except InputError:
        pass


def in_file(data: bytes, name: str, action: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        parses_or_input_error(lambda: action(path))


# ---------------------------------------------------------------------------- token-per-line files


@FUZZ
@given(assembled("columns"), st.integers(-3, 3), st.booleans())
def test_columns(data, tag_column, with_tags):
    parses_or_input_error(lambda: list(read_columns(io.BytesIO(data), tag_column=tag_column, with_tags=with_tags)))


@FUZZ
@given(assembled("conllu"), st.sampled_from(["upos", "xpos"]))
def test_conllu(data, field):
    parses_or_input_error(lambda: list(read_conllu(io.BytesIO(data), field=field)))


# ---------------------------------------------------------------------------- classification files


@pytest.mark.parametrize("fmt", ["auto", "tsv", "csv", "label-tab", "label-space", "fasttext", "jsonl", "text"])
def test_textcls(fmt):
    @FUZZ
    @given(assembled("textcls"), st.booleans(), st.sampled_from([None, "label", "0", "text"]))
    def check(data, with_labels, column):
        labels = with_labels and fmt != "text"
        if fmt == "jsonl" and column == "0":
            column = None  # JSONL names columns by key: an index is an option error, not an input one
        parses_or_input_error(lambda: list(read_examples(
            io.BytesIO(data), format=fmt, with_labels=labels, tokenized=True, label_column=column,
        )))

    check()


# ---------------------------------------------------------------------------- raw text for prediction


@FUZZ
@given(assembled("textcls"))
def test_raw_text(data):
    parses_or_input_error(lambda: list(read_raw(io.BytesIO(data))))


@FUZZ
@given(assembled("textcls"))
def test_tokenized_text(data):
    parses_or_input_error(lambda: list(read_tokenized(io.BytesIO(data))))


@FUZZ
@given(assembled("columns"), gzipped("columns"))
def test_task_detection_answers_or_says_why(data, compressed):
    """A task, or the one-line InputError that names the file and the option that settles it."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in (("train.txt", data), ("train.txt.gz", compressed)):
            path = Path(folder) / name
            path.write_bytes(content)
            try:
                assert detect_task(path) in ("tag", "classify")
            except InputError as error:
                assert str(error).startswith(str(path)) and "--input-format" in str(error)


# ---------------------------------------------------------------------------- TOML config files


@FUZZ
@given(assembled("toml"))
def test_toml_config(data):
    in_file(data, "config.toml", read_toml)


# ---------------------------------------------------------------------------- vector files


@SLOW_FUZZ
@given(assembled("vectors"))
def test_text_vectors(data):
    in_file(data, "vectors.txt", lambda path: load_vectors(path, cache=False))


@SLOW_FUZZ
@given(gzipped("vectors"))
def test_gzipped_text_vectors(data):
    in_file(data, "vectors.txt.gz", lambda path: load_vectors(path, cache=False))


@SLOW_FUZZ
@given(st.sampled_from([b"2 3\n", b"1 2\n", b"9 3\n", b"2 0\n", b""]),
       st.lists(st.tuples(st.sampled_from([b"the", b"", b"\xff", b"of of"]), st.integers(0, 4)), max_size=3),
       st.binary(max_size=20))
def test_binary_vectors(header, rows, tail):
    body = b"".join(word + b" " + struct.pack(f"{n}f", *range(n)) for word, n in rows)
    in_file(header + body + tail, "vectors.bin", lambda path: load_vectors(path, cache=False))


# ---------------------------------------------------------------------------- model and checkpoint files


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict[str, bytes]:
    """A real model file and a real checkpoint, small enough to mutate quickly."""
    import torch

    from seqtag.archive import save_archive

    folder = tmp_path_factory.mktemp("fuzzfiles")
    save_archive(folder / "m.seqtag", {
        "task": "tag", "config": {"model": {"hidden": 2}}, "vocab": {"words": "a\nb", "labels": ["O"]},
        "meta": {}, "schemes": {"data": "iob2", "model": "bioes"}, "state_dict": {"w": torch.ones(2, 2)},
    })
    torch.save({"format": "seqtag-checkpoint", "version": 1, "fingerprint": {}, "state": {
        "weights": {"w": torch.ones(2)}, "best_weights": None, "optimizer": {}, "progress": {"epoch": 1},
        "history": {}, "rng": {"torch": torch.zeros(3, dtype=torch.uint8)},
    }}, folder / "checkpoint.pt")
    return {"model": (folder / "m.seqtag").read_bytes(), "checkpoint": (folder / "checkpoint.pt").read_bytes()}


def mutated(data: bytes, edits: list[tuple[int, bytes]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, replacement in edits:
        position %= len(out)
        out[position:position + len(replacement)] = replacement
    return bytes(out[:cut] if cut is not None else out)


MUTATIONS = (st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4)), max_size=4),
             st.one_of(st.none(), st.integers(0, 4000)))


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
def test_model_and_checkpoint_files(small_files, kind):
    read = load_archive if kind == "model" else read_checkpoint

    @SLOW_FUZZ
    @given(*MUTATIONS)
    def check(edits, cut):
        in_file(mutated(small_files[kind], edits, cut), f"{kind}.pt", read)

    check()


@SLOW_FUZZ
@given(st.binary(max_size=400))
def test_model_files_from_random_bytes(data):
    in_file(data, "model.seqtag", load_archive)

