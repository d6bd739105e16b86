"""Annotation tools' data (seqtag.formats.annotations): hand-written fixtures in each tool's schema are
detected, read, trained on, evaluated, checked and converted; every malformed, misaligned or overlapping
case is one line naming the file and line; round trips through every span format keep the tags; predictions
written for the tools carry character offsets into the original text (and Label Studio pre-annotations read
back as training data give the same spans); readers stream."""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.config import DataConfig
from seqtag.errors import InputError
from seqtag.formats.registry import read_sentences, resolve

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "annotations"
CONLL2003 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner" / "conll2003" / "test.txt"
runner = CliRunner()

SENTENCES = {  # the fixtures' sentences as syntok tokenizes them, with their IOB2 tags
    "Angela Merkel visited Paris on Monday .": "B-PER I-PER O B-LOC O O O",
    "Apple hired John Smith in London .": "B-ORG O B-PER I-PER O B-LOC O",
    "The United Nations met in New York .": "O B-ORG I-ORG O O B-LOC I-LOC O",
    "Siemens opened an office in Berlin .": "B-ORG O O O O B-LOC O",
    "Maria Garcia works for Google .": "B-PER I-PER O O B-ORG O",
    "It rained all day .": "O O O O O",
    "Fans 😀 cheered Messi .": "O O O B-PER O",  # Label Studio's offsets count the emoji as two
}
TAGGING = {  # fixture -> (format detected, sentences it holds)
    "doccano_label.jsonl": ("doccano", 6),
    "doccano_entities.jsonl": ("doccano", 6),
    "spacy_entities.jsonl": ("spacy", 6),
    "spacy_spans.jsonl": ("spacy", 6),
    "spacy_tokens.jsonl": ("spacy", 2),
    "tokens.jsonl": ("token-jsonl", 4),
    "brat": ("brat", 3),
    "label_studio_ner.json": ("label-studio", 3),
}
TINY = dict(hidden=16, epochs=1, char_encoder="none", word_dim=8, seed=1)


def run(*args, input: str | None = None):
    return runner.invoke(app, [*map(str, args)], input=input)


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.stdout


def read(path, **settings) -> list:
    return list(read_sentences(path, DataConfig(**settings)))


def pairs(sentences) -> dict[str, str]:
    return {" ".join(s.tokens): " ".join(s.tags) for s in sentences}


# ---------------------------------------------------------------------------- detection and reading


@pytest.mark.parametrize("name", sorted(TAGGING))
def test_each_fixture_is_detected_and_read_as_tokens_with_iob2_tags(name, capsys):
    fmt, _ = resolve(FIXTURES / name)
    assert fmt.name == TAGGING[name][0]
    sentences = read(FIXTURES / name)
    assert len(sentences) == TAGGING[name][1]
    for text, tags in pairs(sentences).items():
        assert SENTENCES[text] == tags, (text, tags)


def test_what_is_not_read_is_counted_on_stderr(capsys):
    read(FIXTURES / "doccano_entities.jsonl")
    assert "1 relations not read" in capsys.readouterr().err
    read(FIXTURES / "brat")
    err = capsys.readouterr().err
    assert "brat relations not read" in err and "news1.ann:6" in err
    read(FIXTURES / "spacy_spans.jsonl")
    assert "1 records answered reject or ignore not read" in capsys.readouterr().err
    read(FIXTURES / "label_studio_ner.json")
    err = capsys.readouterr().err
    assert "1 tasks without a finished annotation not read" in err and "--annotation prediction" in err


def test_label_studio_annotation_choice_and_utf16_offsets():
    first = pairs(read(FIXTURES / "label_studio_ner.json"))
    assert first["Apple hired John Smith in London ."] == "B-ORG O B-PER I-PER O B-LOC O"
    assert first["Fans 😀 cheered Messi ."] == "O O O B-PER O"  # offsets 16-21 in UTF-16 are 15-20 here
    last = pairs(read(FIXTURES / "label_studio_ner.json", annotation="last"))
    assert last["Apple hired John Smith in London ."] == "O O B-PER I-PER O O O"
    predicted = pairs(read(FIXTURES / "label_studio_ner.json", annotation="prediction"))
    assert predicted == {"The United Nations met in New York .": "O B-ORG I-ORG O O O O O"}


def test_classification_exports_are_read_with_one_label_each():
    from seqtag.formats.classification import read_examples

    for name, fmt in (("spacy_textcat.jsonl", "spacy-cls"), ("label_studio_classification.json", "label-studio-cls")):
        assert resolve(FIXTURES / name)[0].name == fmt
        examples = list(read_examples(FIXTURES / name))
        assert [e.label for e in examples] == ["pos", "neg", "pos", "neg"]
        assert examples[0].text == "A gripping, beautiful film." and examples[0].tokens[:2] == ["A", "gripping"]


def test_doccano_classification_exports_are_jsonl_with_label_lists(tmp_path):
    import seqtag
    from seqtag.formats.classification import read_examples

    path = FIXTURES / "doccano_classification.jsonl"
    assert resolve(path)[0].name == "jsonl"
    assert [e.label for e in read_examples(path)] == ["pos", "neg", "pos", "neg"]
    result = seqtag.train(path, path, task="classify", output=tmp_path / "c.seqtag", **TINY)
    assert result.model.labels.items == ["neg", "pos"]


def test_a_sentence_break_inside_a_span_joins_the_sentences(tmp_path, write_file):
    text = "He joined Yahoo! Inc. last year. Then he left."  # syntok ends a sentence after "Yahoo!"
    path = write_file(tmp_path / "d.jsonl", json.dumps({"text": text, "label": [[10, 21, "ORG"]]}) + "\n")
    assert pairs(read(path)) == {"He joined Yahoo ! Inc . last year .": "O O B-ORG I-ORG I-ORG I-ORG O O O",
                                 "Then he left .": "O O O O"}


def test_whitespace_at_span_edges_is_trimmed_and_duplicates_count_once(tmp_path, write_file):
    path = write_file(tmp_path / "d.jsonl", json.dumps({"text": "Visit Paris now", "label": [[5, 12, "LOC"], [6, 11, "LOC"]]}) + "\n")
    assert pairs(read(path)) == {"Visit Paris now": "O B-LOC O"}


def test_tokenized_texts_split_on_whitespace_one_sentence_per_line(tmp_path, write_file):
    text = "U.S.-based firm\nS.AFRICA wins"
    path = write_file(tmp_path / "d.jsonl", json.dumps({"text": text, "label": [[16, 24, "LOC"]]}) + "\n")
    assert pairs(read(path, tokenized=True)) == {"U.S.-based firm": "O O", "S.AFRICA wins": "B-LOC O"}


# ---------------------------------------------------------------------------- misaligned and overlapping spans


def misaligned_file(tmp_path, write_file) -> Path:
    records = [
        {"text": "Angela Merkel visited Paris.", "label": [[0, 11, "PER"], [22, 27, "LOC"]]},
        {"text": "Apple hired John Smith.", "label": [[1, 5, "ORG"]]},
        {"text": "It rained.", "label": []},
        {"text": "New York is big.", "label": [[0, 6, "LOC"]]},
        {"text": "Bonn, Ulm and Kiel.", "label": [[0, 3, "LOC"], [6, 8, "LOC"]]},
    ]
    return write_file(tmp_path / "m.jsonl", "".join(json.dumps(r) + "\n" for r in records))


def test_misaligned_spans_are_one_error_listing_the_first_with_a_count(tmp_path, write_file, one_error_line):
    path = misaligned_file(tmp_path, write_file)
    result = run("convert", path)
    one_error_line(result, f"{path}: 5 spans do not fit the tokens: {path}:1: 'Angela Merk' (PER, characters 0-11)",
                   "the nearest token boundaries are 0-13 'Angela Merkel'", f"{path}:2: 'pple' (ORG, characters 1-5)",
                   f"{path}:4:", "and 2 more", "--misaligned expand", "--misaligned drop")
    one_error_line(run("train", "--train", path, "--output", tmp_path / "m.seqtag", "--epochs", "1"), "5 spans do not fit",
                   "--misaligned expand")


def test_misaligned_expand_and_drop_say_what_they_did_on_stderr(tmp_path, write_file):
    path = misaligned_file(tmp_path, write_file)
    result = run("convert", path, "--misaligned", "expand")
    assert "Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n" in ok(result)
    assert "Apple B-ORG" in result.stdout and "Bonn B-LOC\n, O\nUlm B-LOC" in result.stdout
    assert result.stderr.startswith(f"seqtag: warning: {path}: 5 spans did not fit the tokens and were widened")
    result = run("convert", path, "--misaligned", "drop")
    assert "Angela O\nMerkel O\nvisited O\nParis B-LOC\n" in ok(result) and "Apple O" in result.stdout
    assert "were left out (--misaligned drop" in result.stderr


@pytest.mark.parametrize("spans, longest", [
    ([[0, 8, "LOC"], [4, 20, "ORG"]], "O B-ORG I-ORG I-ORG"),  # York Times sells is longer than New York
    ([[0, 14, "ORG"], [0, 8, "LOC"]], "B-ORG I-ORG I-ORG O"),  # nested
])
def test_overlapping_spans_are_an_error_naming_both_or_the_longest_is_kept(tmp_path, write_file, one_error_line,
                                                                           spans, longest):
    path = write_file(tmp_path / "o.jsonl", json.dumps({"text": "New York Times sells", "label": spans}) + "\n")
    result = run("convert", path)
    one_error_line(result, f"{path}:1: spans overlap:", "(LOC, characters 0-8)", "ORG, characters", "--overlaps longest")
    result = run("convert", path, "--overlaps", "longest")
    assert [line.split()[1] for line in ok(result).split("\n") if line] == longest.split()
    assert "1 overlapping span left out (--overlaps longest)" in result.stderr


BAD = [  # (file name, content, fragments of the one error line; {path} is the file)
    ("doccano", "d.jsonl", '{"text": "", "label": []}\n', ["{path}:1: empty text"]),
    ("doccano", "d.jsonl", '{"text": "abc", "label": [[0, 2, "X"]]}\n{"text": "ab", "label": [[0, 5, "X"]]}\n',
     ["{path}:2: span 1 (X, characters 0-5) is outside the text; the text has 2 characters"]),
    ("doccano", "d.jsonl", '{"text": "abc", "label": [[2, 1, "X"]]}\n', ["{path}:1:", "is empty or reversed"]),
    ("doccano", "d.jsonl", '{"text": "abc", "label": [[0, "2", "X"]]}\n', ["{path}:1: the end of span 1 must be an integer, found a string"]),
    ("doccano!", "d.jsonl", '{"text": "abc", "label": "X"}\n', ["{path}:1: 'label' must be an array of [start, end, label] spans, found a string"]),
    ("doccano", "d.jsonl", '{"text": "abc", "label": [[0, 2]]}\n', ["{path}:1: span 1 of 'label' must be [start, end, label]"]),
    ("doccano", "d.jsonl", '{"text": "ab c", "entities": [{"label": "X", "start_offset": 0, "end_offset": 2, "colour": 1}]}\n',
     ["{path}:1: unknown field 'colour' in entity 1; the fields are: id, label, start_offset, end_offset"]),
    ("doccano!", "d.jsonl", '{"text": "ab c", "entites": [{"label": "X", "start_offset": 0, "end_offset": 2}]}\n',
     ["{path}:1: unknown field 'entites'; did you mean 'entities'?"]),
    ("doccano", "d.jsonl", '{"text": "ab c", "label": [[0, 2, "O"]]}\n', ["{path}:1: label 'O' of span 1 means outside every entity"]),
    ("doccano", "d.jsonl", '{"text": "ab c", "label": [[0, 2, "New York"]]}\n', ["label 'New York' of span 1 holds whitespace"]),
    ("doccano!", "d.jsonl", '{"text": "ab", "label": [\n{"text": "ab c", "label": [[0, 2, "X"]]}\n', ["{path}:1: invalid JSON"]),
    ("doccano", "d.jsonl", '{"text": "ab c", "label": [], "entities": []}\n', ["{path}:1: both 'label' and 'entities'"]),
    ("spacy!", "s.jsonl", '{"text": "ab c", "spans": {"sc": [[0, 2, "X"]]}}\n', ["{path}:1: 'spans' is an object (span groups"]),
    ("spacy", "s.jsonl", '{"text": "ab c", "spans": [{"start": 0, "end": 2, "lable": "X"}]}\n', ["{path}:1: unknown field 'lable' in span 1"]),
    ("spacy", "s.jsonl", '{"text": "ab c", "tokens": [{"text": "xb", "start": 0, "end": 2}], "spans": []}\n',
     ["{path}:1: token 1 is 'xb' but the text has 'ab' at 0-2"]),
    ("spacy", "s.jsonl", '{"text": "ab c", "entities": [[0, 2, "X"]], "answer": "maybe"}\n', ["{path}:1: 'answer' must be accept, reject or ignore"]),
    ("token-jsonl", "t.jsonl", '{"tokens": ["a", "b"], "ner_tags": [0, 3]}\n', ["{path}:1: 'ner_tags' holds numbers (class ids), not tag names"]),
    ("token-jsonl", "t.jsonl", '{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', ["{path}:1: 2 tokens but 1 tags in 'ner_tags'"]),
    ("label-studio", "l.json", '[{"data": {"text": "ab c"}, "annotations": [{"result": [{"type": "labels", "value": '
     '{"start": 0, "end": 2, "text": "ab", "labels": ["X", "Y"]}}]}]}]', ["{path}:1: region 1 must have one label in 'labels', found 2"]),
    ("label-studio", "l.json", '[\n {"data": {"text": "ab c"}, "annotations": [{"result": [{"type": "labels", "value": '
     '{"start": 0, "end": 2, "text": "xy", "labels": ["X"]}}]}]}\n]', ["{path}:2: region 1 says its text is 'xy' but characters 0-2"]),
    ("label-studio", "l.json", '[{"data": {"text": "ab c"}, "annotations": [{"result": [{"type": "labels", "value": '
     '{"start": 0, "end": 2, "labels": ["X"], "colour": "red"}}]}]}]', ["unknown field 'colour' in the value of region 1"]),
    ("label-studio", "l.json", '[{"text": "ab c", "label": [{"start": 0, "end": 2, "text": "ab", "labels": ["X"]}]}]',
     ["{path}:1: a Label Studio task has an object 'data'", "not JSON-MIN"]),
    ("label-studio", "l.json", '[{"data": {"text": "https://example.com/doc1.txt"}, "annotations": []}]', ["is a link"]),
    ("label-studio", "l.json", '[{"data": {"text": "ab"}, "annotations": []},\n {"data": {"text": "cd"}}\n', ["{path}:3: invalid JSON: expected ',' or ']' after an item, found the end of the file"]),
]


@pytest.mark.parametrize("fmt, name, content, fragments", BAD, ids=[f"{b[0]}-{n}" for n, b in enumerate(BAD)])
def test_malformed_records_are_one_line_naming_file_and_line(tmp_path, write_file, one_error_line, fmt, name, content,
                                                             fragments):
    path = write_file(tmp_path / name, content)
    if fmt.endswith("!"):  # not what the content looks like: said with --input-format
        fmt = fmt[:-1]
        one_error_line(run("convert", path, "--input-format", fmt), *(f.format(path=path) for f in fragments))
        return
    assert resolve(path)[0].name == fmt
    one_error_line(run("convert", path), *(f.format(path=path) for f in fragments))


def brat_folder(tmp_path, ann: str, text: str = "New York is far.\n") -> Path:
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "a.txt").write_text(text, encoding="utf-8")
    (folder / "a.ann").write_text(ann, encoding="utf-8")
    return folder


@pytest.mark.parametrize("ann, fragments", [
    ("T1\tLOC 0 3;12 16\tNew far.\n", ["1 span does not fit the tokens", "a.ann:1: 'New York is far.' (LOC, characters 0-16) a discontinuous span",
                                       "--misaligned expand"]),
    ("T1\tLOC 0 8\tNew Yrok\n", ["a.ann:1: T1 says its text is 'New Yrok' but the .txt has 'New York' at 0 8"]),
    ("T1 LOC 0 8 New York\n", ["a.ann:1: not a brat annotation line"]),
    ("T1\tLOC 0 x\tNew York\n", ["a.ann:1: offsets '0 x' of T1 are not 'start end' pairs"]),
    ("T1\tLOC 0 99\tNew York\n", ["a.ann:1: T1 (LOC, characters 0-99) is outside the text"]),
])
def test_brat_problems_are_one_line_naming_the_ann_file_and_line(tmp_path, one_error_line, ann, fragments):
    one_error_line(run("convert", brat_folder(tmp_path, ann)), *fragments)


def test_brat_discontinuous_spans_across_a_line_break_are_one_span(tmp_path):
    folder = brat_folder(tmp_path, "T1\tLOC 0 3;4 8\tNew York\n", "New\nYork is far.\n")
    assert ok(run("convert", folder)).startswith("New B-LOC\nYork I-LOC\n")


def test_brat_without_text_file_and_docbin_are_one_line(tmp_path, one_error_line, write_file):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "x.ann").write_text("T1\tX 0 1\ta\n")
    one_error_line(run("convert", folder), "x.ann: no text file x.txt beside it")
    docbin = write_file(tmp_path / "train.spacy", b"\x83\xa5attrs\x00")
    one_error_line(run("convert", docbin), "train.spacy: a spaCy DocBin (binary)", "docs/annotation.md")


def test_classification_exports_with_several_labels_are_refused(tmp_path, write_file, one_error_line):
    path = write_file(tmp_path / "c.jsonl", '{"text": "good bad", "cats": {"pos": 1.0, "neg": 1.0}}\n')
    one_error_line(run("convert", path, "--output-format", "tsv"), f"{path}:1: 2 labels (pos, neg) on one text")


# ---------------------------------------------------------------------------- train, evaluate, check, convert


@pytest.mark.parametrize("name", ["doccano_label.jsonl", "label_studio_ner.json", "brat", "spacy_spans.jsonl", "tokens.jsonl"])
def test_fixtures_train_evaluate_and_pass_the_data_check(tmp_path, name):
    import seqtag

    data = FIXTURES / name
    result = seqtag.train(data, data, output=tmp_path / "m.seqtag", **TINY)
    assert result.model.data_scheme == "iob2" and "S-LOC" in result.model.labels.items
    report = json.loads(ok(run("evaluate", tmp_path / "m.seqtag", data, "--format", "json")))
    assert "micro" in json.dumps(report)
    assert '"scheme": "iob2"' in ok(run("data", "check", data, "--format", "json"))


def test_evaluate_and_data_check_take_the_span_options(tmp_path, write_file, one_error_line):
    import seqtag

    seqtag.train(FIXTURES / "doccano_label.jsonl", output=tmp_path / "m.seqtag", **TINY)
    path = misaligned_file(tmp_path, write_file)
    one_error_line(run("evaluate", tmp_path / "m.seqtag", path), "5 spans do not fit the tokens", "--misaligned expand")
    result = run("evaluate", tmp_path / "m.seqtag", path, "--misaligned", "drop", "--format", "json")
    assert json.loads(ok(result)) and "were left out (--misaligned drop" in result.stderr
    report = json.loads(run("data", "check", path, "--format", "json").stdout)
    assert "5 spans do not fit the tokens" in json.dumps(report)
    assert '"sentences": 5' in ok(run("data", "check", path, "--misaligned", "expand", "--format", "json"))


@pytest.mark.parametrize("name", ["spacy_textcat.jsonl", "label_studio_classification.json"])
def test_classification_fixtures_train_and_evaluate(tmp_path, name):
    import seqtag

    data = FIXTURES / name
    result = seqtag.train(data, data, output=tmp_path / "c.seqtag", **TINY)
    assert result.model.labels.items == ["neg", "pos"]
    assert "accuracy" in ok(run("evaluate", tmp_path / "c.seqtag", data, "--format", "json"))
    assert ok(run("convert", data, "--output-format", "tsv")).startswith("label\ttext\npos\tA gripping, beautiful film.\n")


@pytest.mark.parametrize("name", sorted(TAGGING))
def test_fixtures_convert_to_conll_and_bioes(name):
    from seqtag.data.schemes import convert

    out = ok(run("convert", FIXTURES / name, "--to", "bioes"))
    sentences = columns(out)
    assert len(sentences) == TAGGING[name][1]
    for rows in sentences:
        text = " ".join(token for token, _ in rows)
        if text in SENTENCES:
            assert [tag for _, tag in rows] == convert(SENTENCES[text].split(), "iob2", "bioes")


# ---------------------------------------------------------------------------- round trips


def generated_conll(seed: int = 7, count: int = 40) -> str:
    """Random sentences of random words with random entities, in IOB2 (adjacent entities of one type too)."""
    rng = random.Random(seed)
    words = ["alpha", "Beta", "gamma-ray", "U.S.", "(", ")", "d'Arc", "3,000", "e.g.", "New", "York", "x", "Ö", "'s"]
    sentences = []
    for _ in range(count):
        tokens, tags = [], []
        while len(tokens) < rng.randint(1, 12):
            if rng.random() < 0.3:
                kind, size = rng.choice(["PER", "LOC", "ORG"]), rng.randint(1, 3)
                tokens += [rng.choice(words) for _ in range(size)]
                tags += ["B-" + kind] + ["I-" + kind] * (size - 1)
            else:
                tokens.append(rng.choice(words))
                tags.append("O")
        sentences.append("".join(f"{t} {g}\n" for t, g in zip(tokens, tags)))
    return "\n".join(sentences) + "\n"


SPAN_OUTPUTS = ["doccano", "label-studio", "spacy", "token-jsonl", "brat"]


def round_trip(tmp_path: Path, conll: Path, fmt: str) -> str:
    if fmt == "brat":
        ok(run("convert", conll, "--output-format", "brat", "--output", tmp_path / "brat"))
        return ok(run("convert", tmp_path / "brat", "--tokenized"))
    exported = ok(run("convert", conll, "--output-format", fmt))
    path = tmp_path / f"exported-{fmt}.data"
    path.write_text(exported, encoding="utf-8")
    return ok(run("convert", path, "--tokenized"))


def columns(text: str, drop_docstart: bool = True) -> list[list[tuple[str, str]]]:
    sentences = []
    for block in text.strip("\n").split("\n\n"):
        rows = [line.split() for line in block.split("\n") if line.strip()]
        rows = [(row[0], row[-1]) for row in rows if not (drop_docstart and row[0] == "-DOCSTART-")]
        if rows:
            sentences.append(rows)
    return sentences


@pytest.mark.parametrize("fmt", SPAN_OUTPUTS)
def test_generated_conll_survives_every_span_format(tmp_path, write_file, fmt):
    conll = write_file(tmp_path / "gen.conll", generated_conll())
    back = round_trip(tmp_path, conll, fmt)
    assert columns(back) == columns(conll.read_text())


@pytest.mark.skipif(not CONLL2003.exists(), reason="../shared/data/ner/conll2003/test.txt is not here (CoNLL-2003 is "
                                                   "not shipped with seqtag)")
@pytest.mark.parametrize("fmt", SPAN_OUTPUTS)
def test_conll2003_test_survives_every_span_format(tmp_path, fmt):
    two_columns = tmp_path / "test.conll"
    ok(run("convert", CONLL2003, "--columns", "0,-1", "--output", two_columns))
    back = round_trip(tmp_path, two_columns, fmt)
    assert columns(back) == columns(two_columns.read_text())


# ---------------------------------------------------------------------------- predictions for the tools


@pytest.fixture(scope="module")
def raw_texts(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("raw") / "texts.txt"
    path.write_text("John Smith lives in Berlin. He works for Siemens in Munich.\n\n"
                    "Mary went to Paris with Peter Brown.\nNothing here at all\n", encoding="utf-8")
    return path


def test_label_studio_pre_annotations_read_back_as_training_data_give_the_same_spans(trained, raw_texts, tmp_path):
    predicted = [json.loads(line) for line in ok(run("predict", trained.model, raw_texts, "--format", "jsonl")).splitlines()]
    expected = {(r["line"], s["start"], s["end"], s["type"]) for r in predicted for s in r["spans"]}
    texts = {n: line for n, line in enumerate(raw_texts.read_text().splitlines(), 1)}
    expected = {(texts[line], a, b, kind) for line, a, b, kind in expected}
    assert expected, "the session model found no entity: nothing to compare"
    tasks = json.loads(ok(run("predict", trained.model, raw_texts, "--format", "label-studio")))
    assert len(tasks) == 3  # the empty line is no task
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] == trained.model.name and 0 < prediction["score"] <= 1
    for task in tasks:
        for item in task["predictions"][0]["result"]:
            value = item["value"]
            assert task["data"]["text"][value["start"]:value["end"]] == value["text"] and 0 < item["score"] <= 1
    path = tmp_path / "pre.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    again = read(path, annotation="prediction")
    back = set()
    for sentence in again:
        from seqtag.data.schemes import spans

        for kind, a, b in spans(sentence.tags, "iob2"):
            back.add((sentence.text, sentence.offsets[a][0], sentence.offsets[b - 1][1], kind))
    assert back == expected


@pytest.mark.parametrize("fmt", ["doccano", "spacy", "brat"])
def test_predictions_in_each_tool_format_point_into_the_original_text(trained, raw_texts, tmp_path, fmt):
    args = ["predict", trained.model, raw_texts, "--format", fmt]
    if fmt == "brat":
        ok(run(*args, "--output", tmp_path / "out"))
        docs = sorted((tmp_path / "out").glob("*.ann"))
        assert len(docs) == 3
        for ann in docs:
            text = ann.with_suffix(".txt").read_text(encoding="utf-8")
            assert text in raw_texts.read_text()
            for line in ann.read_text().splitlines():
                if line.startswith("T"):
                    _, places, shown = line.split("\t")
                    _, a, b = places.split()
                    assert text[int(a):int(b)] == shown
        assert sorted(read(tmp_path / "out"), key=lambda s: s.tokens)  # and they read back
        return
    records = [json.loads(line) for line in ok(run(*args)).splitlines()]
    assert [r["text"] for r in records] == [line for line in raw_texts.read_text().splitlines() if line]
    for record in records:
        found = record["label"] if fmt == "doccano" else [[s["start"], s["end"], s["label"]] for s in record["spans"]]
        for start, end, label in found:
            assert record["text"][start:end].strip() == record["text"][start:end] and label in ("PER", "LOC", "ORG", "MISC")


def test_predicting_an_export_keeps_its_documents_and_label_studio_data(trained, tmp_path):
    out = ok(run("predict", trained.model, FIXTURES / "label_studio_ner.json", "--format", "label-studio"))
    tasks = json.loads(out)
    assert [t["data"]["text"] for t in tasks] == [
        "Angela Merkel visited Paris on Monday.", "Apple hired John Smith in London.", "Fans 😀 cheered Messi.",
        "The United Nations met in New York."]
    conll = ok(run("predict", trained.model, FIXTURES / "doccano_label.jsonl"))
    assert conll.startswith("Angela ") and len(conll.strip().split("\n\n")) == 6


def test_options_that_would_do_nothing_with_tool_formats_are_errors(trained, one_error_line, raw_texts, tmp_path):
    one_error_line(run("predict", trained.model, raw_texts, "--format", "brat"), "--output", "brat writes a folder")
    one_error_line(run("predict", trained.model, raw_texts, "--output", tmp_path / "x"), "--output", "brat writes a folder")
    one_error_line(run("predict", trained.model, raw_texts, "--format", "doccano", "--nbest", "2"), "--nbest needs --format jsonl")
    one_error_line(run("predict", trained.model, raw_texts, "--format", "label-studio", "--min-confidence", "0.5"),
                   "--min-confidence", "needs --format jsonl")


# ---------------------------------------------------------------------------- streaming


class CountingStream(io.RawIOBase):
    """A byte stream of ``records`` JSON lines made on demand, counting the bytes handed out."""

    def __init__(self, make, count: int) -> None:
        self.make, self.count, self.served, self.index = make, count, 0, 0
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self.pending) < len(buffer) and self.index < self.count:
            self.pending += self.make(self.index)
            self.index += 1
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        self.served += size
        return size


@pytest.mark.parametrize("fmt", ["doccano", "label-studio"])
def test_readers_stream_one_record_at_a_time(fmt):
    from seqtag.formats.annotations import ReadOptions, read_annotated

    record = {"text": "Angela Merkel visited Paris.", "label": [[0, 13, "PER"]]}
    if fmt == "doccano":
        stream = CountingStream(lambda i: (json.dumps(record) + "\n").encode(), 1_000_000)
    else:
        task = {"data": {"text": record["text"]}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 0, "end": 13, "text": "Angela Merkel", "labels": ["PER"]}}]}]}
        stream = CountingStream(lambda i: (("[" if i == 0 else ",\n") + json.dumps(task)).encode(), 1_000_000)
    stream = io.BufferedReader(stream)
    sentences = read_annotated(stream, fmt, ReadOptions())
    for _ in range(100):
        assert next(sentences).tags[:2] == ["B-PER", "I-PER"]
    assert stream.raw.served < 1_000_000  # a million records made on demand: only the first few were read


# ---------------------------------------------------------------------------- any bytes: parsed, or one InputError

JSON_PIECES = ['{"text": "ab c", ', '"label": [[0, 2, "X"]]', '"entities": [', '{"start_offset": 0, "end_offset": 2, "label": "X"}',
               '"spans": [[0, 1, "X"]]', '"tokens": ["a", "b"]', '"ner_tags": ["B-X", "O"]', '"cats": {"a": 1.0}',
               '[{"data": {"text": "ab"}, "annotations": [{"result": [{"type": "labels", "value": {"start": 0, "end": 1, "labels": ["X"]}}]}]}',
               "[", "]", "{", "}", ",", ":", "\n", " ", "0", "-1", "99", "null", '"', "é", "\ud83d\ude00"]


@pytest.mark.parametrize("fmt", ["doccano", "spacy", "token-jsonl", "label-studio", "spacy-cls", "label-studio-cls"])
def test_any_bytes_are_read_or_one_input_error(fmt):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from seqtag.formats.annotations import LABEL_FORMATS, ReadOptions, read_annotated, read_labelled_texts

    pieces = st.lists(st.sampled_from(JSON_PIECES), max_size=30).map(lambda parts: "".join(parts).encode("utf-8",
                                                                                                          "surrogatepass"))

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(pieces, st.binary(max_size=200)))
    def check(data: bytes) -> None:
        try:
            if fmt in LABEL_FORMATS:
                list(read_labelled_texts(io.BytesIO(data), fmt))
            else:
                list(read_annotated(io.BytesIO(data), fmt, ReadOptions(misaligned="expand", overlaps="longest")))
        except InputError:
            pass

    check()
