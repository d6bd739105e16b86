"""read_columns / write_columns: layouts, sentence breaks, column selection, errors with exact locations."""
from __future__ import annotations

import inspect
import io
import sys
from pathlib import Path

import pytest

from seqtag.formats.columns import read_columns, write_columns
from seqtag.data.sentence import Sentence
from seqtag.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def error_of(source, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        list(read_columns(source, **kwargs))
    return str(info.value)


# ---------------------------------------------------------------------------- parsing


def test_space_separated_with_docstart(tmp_path):
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n",
    )
    first, second = read_columns(path)
    assert first.tokens == ["EU", "rejects"]
    assert first.tags == ["B-ORG", "O"]
    assert first.line == 3
    assert first.columns == [["EU", "NNP", "B-NP", "B-ORG"], ["rejects", "VBZ", "B-VP", "O"]]
    assert (second.tokens, second.tags, second.line) == (["Peter"], ["B-PER"], 6)


def test_docstart_without_blank_line_breaks_sentence(tmp_path):
    path = write(tmp_path, "a O\n-DOCSTART- O\nb O\n")
    assert [(s.tokens, s.line) for s in read_columns(path)] == [(["a"], 1), (["b"], 3)]


def test_runs_of_whitespace_and_crlf(tmp_path):
    path = write(tmp_path, "  a   B-X\r\nb \t I-X\r\n\r\n")
    (only,) = read_columns(path)
    assert (only.tokens, only.tags) == (["a", "b"], ["B-X", "I-X"])


def test_tabs_keep_spaces_inside_tokens(tmp_path):
    path = write(tmp_path, "New York\tB-LOC\nis\tO\n")
    (only,) = read_columns(path)
    assert only.tokens == ["New York", "is"]
    assert only.tags == ["B-LOC", "O"]


@pytest.mark.parametrize("blank", ["\n", "\t\n", "  \n", " \t \n", "\r\n"])
def test_blank_line_variants_end_sentences(tmp_path, blank):
    path = write(tmp_path, f"a\tO\nb\tO\n{blank}{blank}c\tB-X\n{blank}")
    sentences = list(read_columns(path))
    assert [s.tokens for s in sentences] == [["a", "b"], ["c"]]
    assert [s.line for s in sentences] == [1, 5]


def test_blank_variants_in_space_separated_file(tmp_path):
    path = write(tmp_path, "\n\t\n a O\n \t\nb O\n")
    assert [(s.tokens, s.line) for s in read_columns(path)] == [(["a"], 3), (["b"], 5)]


def test_hash_is_an_ordinary_token(tmp_path):
    path = write(tmp_path, "# O\nfoo O\n")
    (only,) = read_columns(path)
    assert only.tokens == ["#", "foo"]


@pytest.mark.parametrize(
    ("token_column", "tag_column", "tokens", "tags"),
    [
        (0, -1, ["EU", "rejects"], ["B-ORG", "O"]),
        (0, 1, ["EU", "rejects"], ["NNP", "VBZ"]),
        (0, -2, ["EU", "rejects"], ["B-NP", "B-VP"]),
        (-4, 2, ["EU", "rejects"], ["B-NP", "B-VP"]),
        (1, 3, ["NNP", "VBZ"], ["B-ORG", "O"]),
    ],
)
def test_column_selection(tmp_path, token_column, tag_column, tokens, tags):
    path = write(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    (only,) = read_columns(path, token_column=token_column, tag_column=tag_column)
    assert (only.tokens, only.tags) == (tokens, tags)


def test_without_tags_reads_one_column_files(tmp_path):
    path = write(tmp_path, "EU\nrejects\n\nPeter\n")
    sentences = list(read_columns(path, with_tags=False))
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert all(s.tags is None for s in sentences)


def test_stdin(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO("a O\nb B-X\n\nc O\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert [s.tokens for s in read_columns("-")] == [["a", "b"], ["c"]]


def test_open_text_and_binary_streams():
    assert [s.tags for s in read_columns(io.StringIO("a O\nb B-X\n"))] == [["O", "B-X"]]
    assert [s.tokens for s in read_columns(io.BytesIO("é O\n".encode()))] == [["é"]]


def test_latin1_with_encoding_option(tmp_path):
    path = write(tmp_path, "café O\nnaïve O\n".encode("latin-1"))
    (only,) = read_columns(path, encoding="latin-1")
    assert only.tokens == ["café", "naïve"]


def test_utf8_byte_order_mark_is_dropped(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfa O\n")
    (only,) = read_columns(path)
    assert only.tokens == ["a"]


def test_streams_lazily():
    # The second sentence is malformed: taking the first one must not read that far.
    sentences = read_columns(io.StringIO("a O\nb O\n\nc O extra\n"))
    assert inspect.isgenerator(sentences)
    assert next(sentences).tokens == ["a", "b"]
    with pytest.raises(InputError, match="expected 2 columns, got 3"):
        next(sentences)


# ---------------------------------------------------------------------------- errors


def test_column_count_mismatch(tmp_path):
    path = write(tmp_path, "EU NNP B-NP B-ORG\n\nrejects VBZ O\n")
    assert error_of(path) == f"{path}:3: expected 4 columns, got 3"


def test_column_count_mismatch_with_tabs(tmp_path):
    path = write(tmp_path, "New York\tB-LOC\nis O\n")
    assert error_of(path) == f"{path}:2: expected 2 columns, got 1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tag_column": 4}, "tag column 4 is out of range: the file has 4 columns"),
        ({"tag_column": -5}, "tag column -5 is out of range: the file has 4 columns"),
        ({"token_column": 7}, "token column 7 is out of range: the file has 4 columns"),
        ({"token_column": 3}, "tag column -1 is also the token column (the file has 4)"),
    ],
)
def test_bad_column_index(tmp_path, kwargs, message):
    path = write(tmp_path, "\n-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n")
    assert error_of(path, **kwargs) == f"{path}:4: {message}"


def test_tag_column_not_checked_without_tags(tmp_path):
    path = write(tmp_path, "EU\n")
    assert error_of(path) == f"{path}:1: tag column -1 is also the token column (the file has 1)"
    assert [s.tokens for s in read_columns(path, tag_column=5, with_tags=False)] == [["EU"]]


def test_undecodable_bytes_name_their_line(tmp_path):
    path = write(tmp_path, "a O\n\n".encode() + "café O\n".encode("latin-1"))
    assert error_of(path) == f"{path}:3: not valid utf-8 text; try --encoding latin-1"


def test_undecodable_bytes_in_stdin(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(b"a O\n\xff O\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert error_of("-") == "<stdin>:2: not valid utf-8 text; try --encoding latin-1"


def test_undecodable_text_stream_has_no_line():
    # A text stream decodes in blocks ahead of the line being read, so no line number would be right.
    stream = io.TextIOWrapper(io.BytesIO(b"a O\n\xff O\n"), encoding="utf-8")
    assert error_of(stream) == "<stream>: not valid utf-8 text (invalid start byte)"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    assert error_of(path) == f"{path}: no such file"


def test_directory(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, not a file"


@pytest.mark.parametrize("text", ["", "\n\n", "\t\n \n", "-DOCSTART- -X- -X- O\n\n"])
def test_no_sentences(tmp_path, text):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}: no sentences found"


def test_unknown_encoding(tmp_path):
    path = write(tmp_path, "a O\n")
    assert error_of(path, encoding="klingon") == "unknown encoding 'klingon'"


# ---------------------------------------------------------------------------- writing


def test_write_tokens_and_tags():
    out = io.StringIO()
    write_columns(Sentence(["EU", "rejects"]), ["B-ORG", "O"], out)
    write_columns(Sentence(["New York"]), ["B-LOC"], out, sep="\t")
    assert out.getvalue() == "EU B-ORG\nrejects O\n\nNew York\tB-LOC\n\n"


def test_write_echoes_columns_and_reads_back(tmp_path):
    path = write(tmp_path, "EU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n")
    out = io.StringIO()
    for sentence in read_columns(path):
        write_columns(sentence, ["O"] * len(sentence), out)
    assert out.getvalue() == "EU NNP B-ORG O\nrejects VBZ O O\n\nPeter NNP B-PER O\n\n"
    again = list(read_columns(io.StringIO(out.getvalue()), tag_column=2))
    assert [s.tags for s in again] == [["B-ORG", "O"], ["B-PER"]]


def test_write_rejects_wrong_tag_count():
    with pytest.raises(ValueError):
        write_columns(Sentence(["a", "b"]), ["O"], io.StringIO())


# ---------------------------------------------------------------------------- real data


def real(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data set not available: {path}")
    return path


def test_conll2003_train():
    sentences = read_columns(real("ner/conll2003/train.txt"))
    first = next(sentences)
    assert first.tokens[:2] == ["EU", "rejects"] and first.line == 3
    assert 1 + sum(1 for _ in sentences) == 14041


def test_wnut17_train_with_lone_tab_breaks():
    sentences = list(read_columns(real("ner/wnut17/wnut17train.conll")))
    assert len(sentences) == 3394
    assert all(s.tokens and len(s.tokens) == len(s.tags) for s in sentences)
