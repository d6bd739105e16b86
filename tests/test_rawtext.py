"""Tests for seqtag.formats.text (raw and pre-tokenized text readers) and the sample data generator."""
from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqtag.formats.text import read_raw, read_tokenized
from seqtag.errors import InputError

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"


def write(tmp_path: Path, data: str | bytes, name: str = "in.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def assert_offsets(sentence) -> None:
    assert len(sentence.offsets) == len(sentence.tokens)
    previous_end = 0
    for token, (start, end) in zip(sentence.tokens, sentence.offsets):
        assert sentence.text[start:end] == token
        assert token and not token.isspace()
        assert start >= previous_end  # in order, no overlap
        previous_end = end


# --- read_raw ------------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "John Smith flew from Berlin to New York on Monday. He met the Deutsche Bank board.",
    "Dr. Smith arrived in the U.S. on Jan. 5th, 2024 (at 10:30 a.m.)!",
    "Café naïve Zürich — São Paulo, Kraków & İstanbul: 😀 emoji… “quotes” «guillemets»",
    "She said: \"It's $3.50, isn't it?\" -- well... OK?!",
    "  leading and trailing spaces\tand\ttabs   ",
    "e-mail a.b@example.com, see https://example.org/x?y=1. Done.",
    "Straße ﬁnance e\u0301 non\u00a0breaking zero\u200bwidth",
])
def test_offsets_slice_back_to_tokens(tmp_path, line):
    sentences = list(read_raw(write(tmp_path, line + "\n")))
    assert sentences
    for s in sentences:
        assert s.text == line and s.line == 1
        assert_offsets(s)
    assert sum(len(s) for s in sentences) > 3


def test_sentence_splitting_within_a_line(tmp_path):
    text = "John Smith flew to Berlin. He met Anna there! Did she come?\nOne more sentence.\n"
    sentences = list(read_raw(write(tmp_path, text)))
    assert [s.tokens for s in sentences] == [
        ["John", "Smith", "flew", "to", "Berlin", "."],
        ["He", "met", "Anna", "there", "!"],
        ["Did", "she", "come", "?"],
        ["One", "more", "sentence", "."],
    ]
    assert [s.line for s in sentences] == [1, 1, 1, 2]
    # Offsets index into the whole line, not into the sentence.
    second = sentences[1]
    assert second.offsets[0] == (27, 29) and second.text[27:29] == "He"


def test_abbreviations_do_not_split_sentences(tmp_path):
    sentences = list(read_raw(write(tmp_path, "Dr. Smith met Mr. Jones in the U.S. on Monday.\n")))
    assert len(sentences) == 1
    assert "Smith" in sentences[0].tokens and "Jones" in sentences[0].tokens
    assert_offsets(sentences[0])


def test_no_sentence_splitting(tmp_path):
    text = "First sentence. Second sentence.\nThird one!\n"
    sentences = list(read_raw(write(tmp_path, text), split_sentences=False))
    assert len(sentences) == 2
    assert sentences[0].tokens == ["First", "sentence", ".", "Second", "sentence", "."]
    assert sentences[1].tokens == ["Third", "one", "!"]
    for s in sentences:
        assert_offsets(s)


def test_empty_lines_yield_empty_sentences_to_keep_alignment(tmp_path):
    text = "A first line.\n\n   \nA last line. With two sentences."  # no final newline
    sentences = list(read_raw(write(tmp_path, text)))
    assert [(s.line, len(s)) for s in sentences] == [(1, 4), (2, 0), (3, 0), (4, 4), (4, 4)]
    empty = sentences[1]
    assert empty.tokens == [] and empty.offsets == [] and empty.text == ""
    assert sentences[2].text == "   "


def test_crlf_and_bom_are_not_part_of_the_text(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfHello world.\r\nBye.\r\n")
    sentences = list(read_raw(path))
    assert [s.text for s in sentences] == ["Hello world.", "Bye."]
    assert sentences[0].tokens[0] == "Hello" and sentences[0].offsets[0] == (0, 5)


def test_other_encodings(tmp_path):
    path = write(tmp_path, "Zürich é.\n".encode("latin-1"))
    assert read_raw(path, encoding="latin-1").__next__().tokens == ["Zürich", "é", "."]
    path16 = write(tmp_path, "Zürich est là.\nNext line.\n".encode("utf-16"), "u16.txt")
    sentences = list(read_raw(path16, encoding="utf-16"))
    assert [s.tokens for s in sentences] == [["Zürich", "est", "là", "."], ["Next", "line", "."]]
    assert [s.line for s in sentences] == [1, 2]


def test_streams_are_accepted_and_not_closed():
    text_stream = io.StringIO("Text stream.\n\nSecond.\n")
    assert [s.tokens for s in read_raw(text_stream)] == [["Text", "stream", "."], [], ["Second", "."]]
    assert not text_stream.closed
    byte_stream = io.BytesIO("Bytes stream ü.\n".encode("utf-8"))
    assert next(read_raw(byte_stream)).tokens == ["Bytes", "stream", "ü", "."]
    assert not byte_stream.closed


def test_stdin(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO("From stdin. Two sentences.\nnaïve\n".encode("utf-8")))
    monkeypatch.setattr(sys, "stdin", stdin)
    sentences = list(read_raw("-"))
    assert [s.tokens for s in sentences] == [["From", "stdin", "."], ["Two", "sentences", "."], ["naïve"]]
    assert [s.line for s in sentences] == [1, 1, 2]


def test_stdin_bad_bytes_name_stdin_and_line(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\nbad \xff\n")))
    with pytest.raises(InputError) as err:
        list(read_raw("-"))
    assert (err.value.path, err.value.line) == ("<stdin>", 2)


def test_stdin_replaced_by_a_text_only_stream(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Plain text stdin.\n"))
    assert [s.tokens for s in read_raw("-")] == [["Plain", "text", "stdin", "."]]


@pytest.mark.parametrize("reader", [read_raw, read_tokenized])
def test_undecodable_bytes_report_path_and_line(tmp_path, reader):
    path = write(tmp_path, b"good line\nanother good line\nbad \xff\xfe byte\nnever read\n")
    sentences = reader(path)
    assert next(sentences).line == 1
    with pytest.raises(InputError) as err:
        list(sentences)
    assert err.value.path == str(path)
    assert err.value.line == 3
    assert "not valid utf-8 text" in err.value.message and "--encoding" in err.value.message
    assert str(err.value).startswith(f"{path}:3: ")


def test_truncated_multibyte_sequence_at_end_of_file(tmp_path):
    path = write(tmp_path, b"fine\nends in \xc3")  # half of a two-byte character, no newline
    with pytest.raises(InputError) as err:
        list(read_raw(path))
    assert err.value.line == 2


def test_missing_file_and_bad_encoding(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputError) as err:
        list(read_raw(missing))
    assert err.value.path == str(missing) and err.value.line is None
    with pytest.raises(InputError):
        list(read_tokenized(str(missing)))
    with pytest.raises(InputError):
        list(read_raw(tmp_path))  # a directory
    with pytest.raises(InputError, match="unknown encoding"):
        list(read_raw(write(tmp_path, "x\n"), encoding="no-such-codec"))


def test_read_raw_is_lazy_and_streams():
    endless = (b"Line %d is here. And more.\n" % i for i in itertools.count(1))
    sentences = read_raw(endless)
    first = list(itertools.islice(sentences, 5))
    assert [s.line for s in first] == [1, 1, 2, 2, 3]
    assert first[4].tokens == ["Line", "3", "is", "here", "."]


def test_creating_a_reader_reads_nothing(tmp_path):
    read_raw(tmp_path / "missing.txt")  # errors surface only when iteration starts
    read_tokenized(tmp_path / "missing.txt")


def test_normalised_syntok_tokens_fall_back_to_the_source_slice(monkeypatch):
    # syntok can change a token's value (e.g. joined hyphenation); the reader must keep the source text.
    class FakeToken:
        def __init__(self, value, offset):
            self.value, self.offset = value, offset

    def fake_analyze(text):
        if text.startswith("Hello"):
            return [[[FakeToken("Hello", 0), FakeToken("worldwide", 6), FakeToken("!", 12)]]]
        return [[[FakeToken("naive", 0), FakeToken("thing", 10)]]]

    monkeypatch.setattr("seqtag.data.tokenize.segmenter.analyze", fake_analyze)
    first, second = read_raw(io.StringIO("Hello world !\nnaïve-ish thing\n"))
    assert first.tokens == ["Hello", "world", "!"]  # cut at the whitespace, not len("worldwide")
    assert second.tokens == ["naïve-ish", "thing"]  # up to the whitespace before the next token
    for sentence in (first, second):
        assert_offsets(sentence)


# --- read_tokenized --------------------------------------------------------------------------------

def test_read_tokenized(tmp_path):
    text = "John  Smith\tflew to New-York .\n\n   \n  U.S. café 😀 x\n"
    sentences = list(read_tokenized(write(tmp_path, text)))
    assert [s.tokens for s in sentences] == [
        ["John", "Smith", "flew", "to", "New-York", "."], [], [], ["U.S.", "café", "😀", "x"]]
    assert [s.line for s in sentences] == [1, 2, 3, 4]
    assert sentences[0].offsets == [(0, 4), (6, 11), (12, 16), (17, 19), (20, 28), (29, 30)]
    for s in sentences:
        assert_offsets(s)
    assert sentences[1].offsets == [] and sentences[1].text == ""


def test_read_tokenized_repeated_tokens_get_distinct_offsets():
    sentence = next(read_tokenized(io.StringIO("a aa a aa\n")))
    assert sentence.offsets == [(0, 1), (2, 4), (5, 6), (7, 9)]


def test_read_tokenized_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x y\n\nz\n")))
    assert [s.tokens for s in read_tokenized("-")] == [["x", "y"], [], ["z"]]


# --- sample data -----------------------------------------------------------------------------------

def run_generator(out: Path, hash_seed: str) -> None:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)  # set order must not leak into the output
    subprocess.run([sys.executable, str(SAMPLE / "make_sample_data.py"), str(out)], check=True, env=env,
                   capture_output=True)


def read_conll(path: Path) -> list[list[list[str]]]:
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line:
            if current:
                sentences.append(current)
            current = []
        elif not line.startswith("-DOCSTART-"):
            current.append(line.split(" "))
    if current:
        sentences.append(current)
    return sentences


def entity_names(sentences) -> set[tuple[str, str]]:
    names, current = set(), None
    for sentence in sentences:
        for token, _, tag in sentence + [["", "", "O"]]:
            if tag.startswith("I-"):
                current[1].append(token)
                continue
            if current:
                names.add((current[0], " ".join(current[1])))
            current = [tag[2:], [token]] if tag.startswith("B-") else None
    return names


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    run_generator(out, "1")
    return out


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts}


def test_sample_data_is_deterministic_and_checked_in(generated, tmp_path):
    run_generator(tmp_path, "2")
    first, second = all_files(generated), all_files(tmp_path)
    assert first == second
    assert set(first) == {"README.md", "raw.txt", "vectors.txt", "ner/train.txt", "ner/dev.txt",
                          "ner/test.txt", "cls/train.tsv", "cls/dev.tsv", "cls/test.tsv"}
    # The files in the repository are exactly what the script makes.
    assert all_files(SAMPLE) == first
    assert sum(len(data) for data in first.values()) < 350_000


def test_sample_ner_files(generated):
    splits = {name: read_conll(generated / "ner" / f"{name}.txt") for name in ("train", "dev", "test")}
    assert {name: len(s) for name, s in splits.items()} == {"train": 1500, "dev": 300, "test": 300}
    for name, sentences in splits.items():
        text = (generated / "ner" / f"{name}.txt").read_text(encoding="utf-8")
        assert text.startswith("-DOCSTART- -X- O\n\n")
        for sentence in sentences:
            previous = "O"
            for row in sentence:
                assert len(row) == 3 and all(row)
                tag = row[2]
                assert tag == "O" or tag[:2] in ("B-", "I-") and tag[2:] in ("PER", "LOC", "ORG", "MISC")
                if tag.startswith("I-"):  # IOB2: I-X only continues B-X or I-X
                    assert previous[2:] == tag[2:], sentence
                previous = tag
    tags = {row[2][2:] for s in splits["train"] for row in s if row[2] != "O"}
    assert tags == {"PER", "LOC", "ORG", "MISC"}
    # Some test entities are never seen in train, and ambiguous names take both types in train.
    train_names = entity_names(splits["train"])
    test_names = entity_names(splits["test"])
    for etype in ("PER", "LOC", "ORG", "MISC"):
        unseen = {n for n in test_names if n[0] == etype} - train_names
        assert unseen, etype
    assert {("PER", "Jordan"), ("LOC", "Jordan"), ("PER", "Washington"), ("LOC", "Washington")} <= train_names


def test_sample_vectors(generated):
    lines = (generated / "vectors.txt").read_text(encoding="utf-8").splitlines()
    count, dim = map(int, lines[0].split())
    assert dim == 20 and count == len(lines) - 1
    words = [line.split(" ")[0] for line in lines[1:]]
    assert len(set(words)) == count and all(w == w.lower() for w in words)
    for line in lines[1:]:
        values = line.split(" ")[1:]
        assert len(values) == dim and all(len(v.split(".")[1]) == 4 for v in values)
    train_words = {row[0].lower() for s in read_conll(generated / "ner" / "train.txt") for row in s
                   if not any(c.isdigit() for c in row[0])}  # random numbers need no vectors
    assert len(train_words - set(words)) / len(train_words) < 0.05
    held_out = {n.lower() for _, name in entity_names(read_conll(generated / "ner" / "test.txt"))
                for n in name.split()} - {row[0].lower() for s in read_conll(generated / "ner" / "train.txt")
                                          for row in s}
    assert held_out & set(words) and held_out - set(words)  # some unseen test names have vectors, not all


def test_sample_cls_files(generated):
    for name, expected in (("train", 900), ("dev", 150), ("test", 150)):
        lines = (generated / "cls" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == "label\ttext"
        rows = [line.split("\t") for line in lines[1:]]
        assert len(rows) == expected and all(len(r) == 2 and r[1].strip() for r in rows)
        assert {r[0] for r in rows} == {"sports", "business", "weather"}


def test_sample_raw_text_uses_train_names(generated):
    sentences = list(read_raw(generated / "raw.txt"))
    assert len({s.line for s in sentences}) >= 3
    train_tokens = {row[0] for s in read_conll(generated / "ner" / "train.txt") for row in s}
    for s in sentences:
        assert_offsets(s)
    capitalised = {t for s in sentences for t in s.tokens[1:] if t[:1].isupper() and len(t) > 1}
    assert capitalised - train_tokens <= {"Fans", "He", "The", "Dr"}
