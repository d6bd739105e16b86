"""read_examples and format detection for classification data: every format, auto-detection, column choice, tokenization, errors."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from seqtag.formats.classification import FORMATS, Example, read_examples
from seqtag.formats.registry import CLASSIFY, resolve
from seqtag.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(tmp_path: Path, data: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def pairs(source, **kwargs) -> list[tuple[str | None, list[str], int]]:
    return [(e.label, e.tokens, e.line) for e in read_examples(source, tokenized=True, **kwargs)]


def error_of(source, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        list(read_examples(source, **kwargs))
    return str(info.value)


# ---------------------------------------------------------------------------- formats

LAYOUTS = {
    "tsv": ("data.tsv", "label\tsentence\n1\tgood film\n\n0\tbad \"film\"\n"),
    "csv": ("data.csv", 'label,text\n1,good film\n\n0,"bad ""film"""\n'),
    "label-tab": ("data.txt", "1\tgood film\n\n0\tbad \"film\"\n"),
    "label-space": ("data.txt", "1 good film\n\n0  bad \"film\"\n"),
    "fasttext": ("data.txt", "__label__1 good film\n\n__label__0 bad \"film\"\n"),
    "jsonl": ("data.jsonl", '{"text": "good film", "label": 1}\n\n{"sentence": "bad \\"film\\"", "label": "0"}\n'),
}


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
@pytest.mark.parametrize("given", ["explicit", "auto"])
def test_each_format_explicit_and_detected(tmp_path, fmt, given):
    name, text = LAYOUTS[fmt]
    path = write(tmp_path, text, name)
    # Content alone must suffice too: the same data under a neutral name.
    for source in (path, write(tmp_path, text, "neutral.dat")):
        if given == "auto" and fmt in ("csv",) and source.suffix != ".csv":
            continue  # a CSV is known only by its name
        first, second = read_examples(source, format=fmt if given == "explicit" else "auto", tokenized=True)
        header = 1 if fmt in ("tsv", "csv") else 0
        assert first == Example(tokens=["good", "film"], label="1", line=1 + header, text="good film")
        assert (second.label, second.tokens, second.line) == ("0", ["bad", '"film"'], 3 + header)


def test_formats_constant():
    assert FORMATS == ("auto", "tsv", "csv", "label-tab", "label-space", "fasttext", "jsonl", "text")


def test_text_format_keeps_empty_lines_aligned(tmp_path):
    path = write(tmp_path, "good film\n\n   \nbad one\n")
    examples = list(read_examples(path, format="text", tokenized=True, with_labels=False))
    assert [(e.tokens, e.label, e.line, e.text) for e in examples] == [
        (["good", "film"], None, 1, "good film"),
        ([], None, 2, ""),
        ([], None, 3, ""),
        (["bad", "one"], None, 4, "bad one"),
    ]


def test_text_format_needs_with_labels_false(tmp_path):
    with pytest.raises(InputError, match="no labels"):
        read_examples(write(tmp_path, "a\n"), format="text")


def test_unknown_format_and_bad_max_tokens_fail_at_once(tmp_path):
    with pytest.raises(InputError, match="unknown format 'xml'"):
        read_examples("nowhere", format="xml")
    with pytest.raises(InputError, match="max_tokens"):
        read_examples("nowhere", max_tokens=0)


def test_crlf_and_bom(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbflabel\tsentence\r\n0\thide new secretions\r\n")
    (only,) = read_examples(path, tokenized=True)
    assert (only.label, only.tokens, only.text, only.line) == ("0", ["hide", "new", "secretions"],
                                                                 "hide new secretions", 2)


def test_fasttext_several_labels_takes_first(tmp_path):
    path = write(tmp_path, "__label__sports __label__news  big win today\n")
    (only,) = read_examples(path, tokenized=True)
    assert (only.label, only.text) == ("sports", "big win today")


def test_label_tab_keeps_further_tabs_in_text(tmp_path):
    (only,) = read_examples(write(tmp_path, "pos\ta\tb\n"), format="label-tab")
    assert (only.label, only.text) == ("pos", "a\tb")


def test_csv_quoted_field_across_lines_reports_record_start(tmp_path):
    path = write(tmp_path, 'label,text\n1,"two\nlines"\n0,next\n', "data.csv")
    assert pairs(path) == [("1", ["two", "lines"], 2), ("0", ["next"], 4)]


def test_jsonl_custom_keys(tmp_path):
    path = write(tmp_path, '{"title": "Big", "body": "win", "y": "sports"}\n')
    (only,) = read_examples(path, format="jsonl", label_column="y", text_columns=["title", "body"])
    assert (only.label, only.text, only.tokens) == ("sports", "Big win", ["Big", "win"])


# ---------------------------------------------------------------------------- tsv / csv columns

AG = 'class,title,description\n3,Wall St. Bears,"Short-sellers, Wall Street\'s dwindling band"\n'


def test_default_columns_label_first_and_all_others_joined(tmp_path):
    (only,) = read_examples(write(tmp_path, AG, "ag.csv"), tokenized=True)
    assert only.label == "3"
    assert only.text == "Wall St. Bears Short-sellers, Wall Street's dwindling band"


@pytest.mark.parametrize("label, texts", [
    ("class", ["title", "description"]),
    (0, [1, 2]),
    ("0", ["1", "2"]),  # digit strings that are not header names are indexes (as from a CLI)
    (-3, [-2, -1]),
])
def test_columns_by_name_and_index(tmp_path, label, texts):
    (only,) = read_examples(write(tmp_path, AG, "ag.csv"), label_column=label, text_columns=texts)
    assert only.label == "3"
    assert only.text.startswith("Wall St. Bears Short-sellers")


def test_single_text_column_and_label_not_first(tmp_path):
    path = write(tmp_path, AG, "ag.csv")
    (only,) = read_examples(path, label_column="class", text_columns="title")
    assert (only.label, only.text) == ("3", "Wall St. Bears")
    # GLUE order: sentence first, label second; found by name.
    tsv = write(tmp_path, "sentence\tlabel\nnice one\t1\n", "glue.tsv")
    assert pairs(tsv) == [("1", ["nice", "one"], 2)]


def test_text_column_named_text_preferred_over_others(tmp_path):
    path = write(tmp_path, "id\ttext\tlabel\n7\tfine\tpos\n")
    assert pairs(path) == [("pos", ["fine"], 2)]


def test_prediction_tsv_ignores_label_column(tmp_path):
    path = write(tmp_path, "label\tcontent\n\tno label here\n")
    assert pairs(path, with_labels=False) == [(None, ["no", "label", "here"], 2)]
    # Without a label column every column is text.
    path = write(tmp_path, "title\tbody\nA\tb\n", "nolabel.tsv")
    assert pairs(path, with_labels=False) == [(None, ["A", "b"], 2)]


def test_tsv_quotes_are_text(tmp_path):
    path = write(tmp_path, 'label\tsentence\n1\t"a quoted\tfield\n', "q.tsv")
    assert error_of(path) == f"{path}:2: expected 2 columns as in the header, found 3"
    path = write(tmp_path, 'label\tsentence\n1\t"unbalanced quote\n', "u.tsv")
    assert pairs(path) == [("1", ['"unbalanced', "quote"], 2)]


# ---------------------------------------------------------------------------- tokenization, encoding, streams


def test_syntok_versus_whitespace_tokens(tmp_path):
    path = write(tmp_path, "1\tIt's great, isn't it?\n")
    (syn,) = read_examples(path)
    (ws,) = read_examples(path, tokenized=True)
    assert ws.tokens == ["It's", "great,", "isn't", "it?"]
    assert syn.tokens[-1] == "?" and "," in syn.tokens
    assert syn.text == ws.text == "It's great, isn't it?"


def test_syntok_does_not_split_sentences(tmp_path):
    (only,) = read_examples(write(tmp_path, "1 One sentence. Another one.\n"))
    assert only.tokens == ["One", "sentence", ".", "Another", "one", "."]


@pytest.mark.parametrize("tokenized", [True, False])
def test_max_tokens_keeps_the_first(tmp_path, tokenized):
    path = write(tmp_path, "1 a b c d e\n0 x\n")
    assert [e.tokens for e in read_examples(path, tokenized=tokenized, max_tokens=3)] == [["a", "b", "c"], ["x"]]


def test_latin1_with_encoding_option(tmp_path):
    path = write(tmp_path, "1 très bon\n0 café noir\n".encode("latin-1"))
    assert error_of(path) == f"{path}:1: not valid utf-8 text; try --encoding latin-1"
    assert [e.text for e in read_examples(path, encoding="latin-1")] == ["très bon", "café noir"]


def test_decode_error_on_later_line_while_detecting_and_reading(tmp_path):
    path = write(tmp_path, b"\n\n\xff bad\n")  # the error is hit while peeking for the first line
    assert error_of(path) == f"{path}:3: not valid utf-8 text; try --encoding latin-1"
    path = write(tmp_path, b"1 ok\n0 ok\n1 caf\xe9\n")
    assert error_of(path) == f"{path}:3: not valid utf-8 text; try --encoding latin-1"
    path = write(tmp_path, b"label\ttext\n1\tok\n0\tcaf\xe9\n", "t.tsv")
    assert error_of(path) == f"{path}:3: not valid utf-8 text; try --encoding latin-1"


def test_stdin_auto_detection_keeps_first_line(monkeypatch):
    data = b"\n__label__pos nice\n__label__neg awful\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert pairs("-") == [("pos", ["nice"], 2), ("neg", ["awful"], 3)]


def test_stdin_tsv_and_error_name(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"label\ttext\n1\tok\n\tno label\n")))
    assert error_of("-") == "<stdin>:3: empty label (column label)"


def test_open_streams_text_and_binary():
    assert pairs(io.StringIO('{"text": "a b", "label": 2}\n')) == [("2", ["a", "b"], 1)]
    assert pairs(io.BytesIO(b"1\ta b\n")) == [("1", ["a", "b"], 1)]


def test_read_is_lazy_and_streams(tmp_path):
    # A generator: nothing is opened until iteration, and the first example comes before a late error.
    examples = read_examples(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="no such file"):
        next(examples)
    path = write(tmp_path, "1 fine\nbroken\n")
    examples = read_examples(path)
    assert next(examples).label == "1"
    with pytest.raises(InputError):
        next(examples)


# ---------------------------------------------------------------------------- detection


@pytest.mark.parametrize("line, name, expected", [
    ("__label__x some text", None, "fasttext"),
    ('{"text": "a"}', None, "jsonl"),
    ("anything", "x.jsonl", "jsonl"),
    ("a,b", "x.CSV", "csv"),
    ("label\tsentence", "x.tsv", "tsv"),
    ("Sentence\tLabel", None, "tsv"),
    ("0\thide new secretions", "x.tsv", "label-tab"),
    ("positive\tgreat", None, "label-tab"),
    ("1 a stirring , funny", None, "label-space"),
    ("negative great movie", None, "label-space"),
])
def test_detect_format(tmp_path, line, name, expected):
    assert detect_format(tmp_path, line, name) == expected


def detect_format(folder, line: str, name: str | None = None, with_labels: bool = True) -> str:
    """The registry's format for a classification file holding ``line``; "text" for unlabelled text."""
    path = folder / (name or "data")
    path.write_text(line + "\n", encoding="utf-8")
    found, _ = resolve(path, task=CLASSIFY, labelled=with_labels)
    return "text" if found.task is None else found.name


def test_detect_prediction_input_prefers_text(tmp_path):
    assert detect_format(tmp_path, "the movie was great", with_labels=False) == "text"
    assert detect_format(tmp_path, "great", with_labels=False) == "text"
    assert detect_format(tmp_path, "0 the movie was great", with_labels=False) == "label-space"


def test_detect_column_names_mean_header(tmp_path):
    path = write(tmp_path, "a\tb c\nx\ty z\n")
    assert [e.label for e in read_examples(path, tokenized=True)] == ["a", "x"]
    assert [e.label for e in read_examples(path, label_column="a", tokenized=True)] == ["x"]


@pytest.mark.parametrize("line", ["single", "averyveryverylongfirstword12 then text"])
def test_detect_undecidable(tmp_path, line):
    with pytest.raises(InputError) as info:
        detect_format(tmp_path, line, "f.txt")
    assert str(info.value).startswith(f"{tmp_path / 'f.txt'}:1: looks like plain text, one document per line, with no labels; give --input-format")


def test_auto_undecidable_reports_first_content_line(tmp_path):
    path = write(tmp_path, "\n\nlonely\n")
    assert error_of(path).startswith(f"{path}:3: looks like plain text, one document per line, with no labels; give --input-format")


def test_auto_with_named_columns_reads_a_header(tmp_path):
    path = write(tmp_path, "y\tx\npos\tfine\n")
    assert pairs(path, label_column="y", text_columns=["x"]) == [("pos", ["fine"], 2)]


def test_auto_prediction_of_plain_text(tmp_path):
    path = write(tmp_path, "the movie was great\n\nawful\n")
    assert [(e.tokens, e.line) for e in read_examples(path, tokenized=True, with_labels=False)] == [
        (["the", "movie", "was", "great"], 1), ([], 2), (["awful"], 3)]


@pytest.mark.parametrize("fmt, text", [
    ("label-tab", "1\tgood\n"),
    ("label-space", "1 good\n"),
    ("fasttext", "__label__1 good\n"),
    ("jsonl", '{"text": "good", "label": 1}\n'),
])
def test_prediction_input_ignores_labels(tmp_path, fmt, text):
    assert pairs(write(tmp_path, text), format=fmt, with_labels=False) == [(None, ["good"], 1)]


def test_prediction_fasttext_without_label(tmp_path):
    assert pairs(write(tmp_path, "just text\n"), format="fasttext", with_labels=False) == [(None, ["just", "text"], 1)]


# ---------------------------------------------------------------------------- errors, located


@pytest.mark.parametrize("fmt, text, message", [
    ("label-tab", "1\tok\n0 no tab\n", "2: expected label<TAB>text, found no tab"),
    ("label-tab", "1\tok\n\tmissing\n", "2: empty label"),
    ("label-tab", "1\tok\n\n0\t  \n", "3: missing text"),
    ("label-space", "1 ok\n\n0\n", "3: missing text after the label '0'"),
    ("fasttext", "__label__a ok\nplain\n", "2: missing label: the line does not start with __label__"),
    ("fasttext", "__label__a ok\n__label__b\n", "2: missing text"),
    ("fasttext", "__label__ ok\n", "1: empty label"),
    ("jsonl", '{"text": "a", "label": 1}\n{"text": "a", \n', "2: invalid JSON: Expecting property name enclosed in double quotes (column 15)"),
    ("jsonl", '{"text": "a", "label": 1}\n["a", 1]\n', "2: expected a JSON object, found an array"),
    ("jsonl", '\n{"label": 1, "txt": "a"}\n', "2: missing key 'text' (or 'sentence'); the keys are: label, txt"),
    ("jsonl", '{"text": "a"}\n', "1: missing label: no key 'label' (or it is null)"),
    ("jsonl", '{"text": "a", "label": null}\n', "1: missing label: no key 'label' (or it is null)"),
    ("jsonl", '{"text": "a", "label": ""}\n', "1: empty label"),
    ("jsonl", '{"text": "a", "label": 1.5}\n', "1: 'label' must be a string or an integer, found a number"),
    ("jsonl", '{"text": "a", "label": true}\n', "1: 'label' must be a string or an integer, found a boolean"),
    ("jsonl", '{"text": 3, "label": "x"}\n', "1: 'text' must be a string, found a number"),
    ("jsonl", '{"text": " ", "label": "x"}\n', "1: missing text"),
    ("tsv", "label\ttext\n1\tok\n2\ta\tb\n", "3: expected 2 columns as in the header, found 3"),
    ("tsv", "label\ttext\n1\tok\n2\t\n", "3: missing text (empty column text)"),
    ("tsv", "label\ttext\n1\tok\n \tok\n", "3: empty label (column label)"),
    ("csv", 'label,text\n1,ok\n\n2,"open quote\n3,more\n', "4: malformed record: unexpected end of data"),
    ("csv", 'label,text\n1,"a"b\n', "2: malformed record: ',' expected after '\"'"),
])
def test_errors_with_exact_line(tmp_path, fmt, text, message):
    path = write(tmp_path, text)
    assert error_of(path, format=fmt) == f"{path}:{message}"


@pytest.mark.parametrize("kwargs, message", [
    ({"label_column": "lab"}, "unknown label column 'lab'; the columns are: label, sentence"),
    ({"text_columns": ["sentence", "body"]}, "unknown text column 'body'; the columns are: label, sentence"),
    ({"text_columns": [5]}, "text column 5 is out of range: the file has 2 columns"),
    ({"text_columns": ["label"]}, "column 'label' cannot be both the label and a text column"),
])
def test_column_errors_on_header_line(tmp_path, kwargs, message):
    path = write(tmp_path, "\nlabel\tsentence\n1\tok\n", "d.tsv")
    assert error_of(path, **kwargs) == f"{path}:2: {message}"


def test_only_a_label_column(tmp_path):
    path = write(tmp_path, "label\n1\n", "d.csv")
    assert error_of(path) == f"{path}:1: no text column: the only column is the label (label)"


def test_jsonl_columns_must_be_names(tmp_path):
    path = write(tmp_path, '{"text": "a", "label": 1}\n')
    assert "name the column by key" in error_of(path, text_columns=[0])


@pytest.mark.parametrize("fmt, text", [
    ("auto", ""), ("auto", "\n  \n"), ("tsv", "label\ttext\n\n"), ("label-space", "\n"), ("jsonl", ""),
])
def test_no_examples_found(tmp_path, fmt, text):
    path = write(tmp_path, text)
    assert error_of(path, format=fmt) == f"{path}: no examples found"


def test_text_format_empty_file(tmp_path):
    path = write(tmp_path, "")
    assert error_of(path, format="text", with_labels=False) == f"{path}: no examples found"


# ---------------------------------------------------------------------------- the real data sets

needs_data = pytest.mark.skipif(not (DATA / "cls").is_dir(), reason=f"shared data not found at {DATA / 'cls'}")


@needs_data
def test_kim_sst2_train_is_label_space():
    path = DATA / "cls" / "sst2" / "stsa.binary.train"
    assert resolve(path, task=CLASSIFY)[0].name == "label-space"
    examples = list(read_examples(path))  # syntok on purpose: the default path, ~1.5 s
    assert len(examples) == 6920
    assert {e.label for e in examples} == {"0", "1"}
    assert all(e.tokens for e in examples)
    assert examples[0].line == 1 and examples[-1].line == 6920


@needs_data
def test_glue_sst2_phrases_train_is_tsv():
    path = DATA / "cls" / "sst2-phrases" / "train.tsv"
    assert resolve(path, task=CLASSIFY)[0].name == "tsv"
    # Whitespace tokens: the file is pre-tokenized, and syntok on 67k phrases would take ~7 s.
    examples = list(read_examples(path, tokenized=True))
    assert len(examples) == 67349
    assert {e.label for e in examples} == {"0", "1"}
    assert examples[0] == Example(tokens="hide new secretions from the parental units".split(), label="0",
                                  line=2, text="hide new secretions from the parental units")
