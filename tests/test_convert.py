"""`seqtag convert`: tag schemes, column selection, CoNLL-U fields and classification formats, through the CLI
(stdin / stdout / --output) and the library; round trips, streaming and one-line errors."""
from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

import pytest
from seqeval.metrics.sequence_labeling import get_entities
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.tools.convert import convert_columns, convert_examples
from seqtag.formats.columns import read_columns
from seqtag.formats.conllu import read_conllu
from seqtag.data.schemes import convert as convert_tags
from seqtag.formats.classification import WRITE_FORMATS, read_examples
from seqtag.errors import InputError

# The sample data, by path here (not as the conftest fixtures): parametrize lists are built before fixtures exist.
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
NER = SAMPLE / "ner"

runner = CliRunner()


def run(*args, input: str | bytes | None = None):
    return runner.invoke(app, ["convert", *map(str, args)], input=input)


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.stdout


def user_error(result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one `seqtag: error:` line holding every fragment."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# Adjacent chunks of one type are where IOB1 needs B- and the schemes really differ.
ADJACENT_IOB1 = [
    [["Germany", "NNP", "I-LOC"], ["France", "NNP", "B-LOC"], ["and", "CC", "O"], ["Italy", "NNP", "I-LOC"]],
    [["Smith", "NNP", "I-PER"], ["Jones", "NNP", "B-PER"], ["Lee", "NNP", "B-PER"], ["won", "VBD", "O"]],
    [["New", "NNP", "I-ORG"], ["York", "NNP", "I-ORG"], ["Times", "NNP", "I-ORG"], ["Reuters", "NNP", "I-MISC"]],
]


@pytest.fixture(scope="module")
def iob1_file(tmp_path_factory, conll_sentences, conll_text, write_file) -> Path:
    """Real-looking IOB1 data: sample sentences re-encoded, adjacent same-type chunks, -DOCSTART- lines."""
    sample = conll_sentences(NER / "train.txt", limit=300)
    sentences = [[[*row[:-1], tag] for row, tag in zip(s, convert_tags([r[-1] for r in s], "iob2", "iob1"))]
                 for s in sample] + ADJACENT_IOB1
    docstart = "-DOCSTART- -X- O\n\n"
    text = docstart + conll_text(sentences[:150]) + docstart + conll_text(sentences[150:])
    return write_file(tmp_path_factory.mktemp("iob1") / "train.iob1", text)


# ---------------------------------------------------------------------------- tag schemes


def test_iob1_to_bioes_and_back_is_the_identity(iob1_file, tmp_path):
    bioes = tmp_path / "train.bioes"
    ok(run(iob1_file, "--to", "bioes", "--output", bioes))
    text = bioes.read_text(encoding="utf-8")
    assert "S-PER\n" in text and "E-ORG\n" in text and text.count("-DOCSTART- -X- O\n") == 2
    assert ok(run(bioes, "--to", "iob1")) == iob1_file.read_text(encoding="utf-8")
    via_iob2 = ok(run("-", "--to", "iob1", input=ok(run(iob1_file, "--to", "iob2"))))
    assert via_iob2 == iob1_file.read_text(encoding="utf-8")


def test_sample_data_keeps_its_entities_in_every_scheme(tmp_path, conll_sentences):
    original = (NER / "dev.txt").read_text(encoding="utf-8")
    gold = [[row[-1] for row in s] for s in conll_sentences(NER / "dev.txt")]
    for scheme in ("bioes", "iob1"):
        converted = tmp_path / f"dev.{scheme}"
        ok(run(NER / "dev.txt", "--to", scheme, "-o", converted))
        tags = [s.tags for s in read_columns(converted)]
        if scheme == "bioes":  # seqeval reads IOBES: an independent check of the chunks
            assert [get_entities(t) for t in tags] == [get_entities(t) for t in gold]
        assert [[r[:-1] for r in s] for s in conll_sentences(converted)] == [[r[:-1] for r in s] for s in conll_sentences(NER / "dev.txt")]
        assert ok(run(converted, "--to", "iob2")) == original  # byte for byte, -DOCSTART- included


def test_stdin_to_stdout_equals_file_to_file(iob1_file, tmp_path):
    from_stdin = ok(run("-", "--to", "bioes", input=iob1_file.read_bytes()))  # auto: stdin is read twice
    out = tmp_path / "out.txt"
    ok(run(iob1_file, "--to", "bioes", "-o", out))
    assert from_stdin == out.read_text(encoding="utf-8") and from_stdin


def test_given_source_scheme_streams_sentence_by_sentence(monkeypatch):
    """With --from there is one pass: sentences are written while the input is still arriving."""
    class Broken(Exception):
        pass

    def lines():
        for sentence in itertools.repeat("John B-PER\nSmith I-PER\nleft O\n\n", 3):
            yield from (line.encode() + b"\n" for line in sentence.split("\n")[:-1])
        raise Broken

    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": lines()})())
    out = io.StringIO()
    with pytest.raises(Broken):
        convert_columns("-", out, to_scheme="bioes", from_scheme="iob2")
    assert out.getvalue() == "John B-PER\nSmith E-PER\nleft O\n\n" * 3


def test_tag_column_in_the_middle_and_tab_separated_input(tmp_path, write_file):
    source = write_file(tmp_path / "data.tsv.conll", "New York\tB-LOC\tNNP\nis\tO\tVBZ\n\nRome\tB-LOC\tNNP\n")
    assert ok(run(source, "--to", "bioes", "--tag-column", "1")) == "New York\tS-LOC\tNNP\nis\tO\tVBZ\n\nRome\tS-LOC\tNNP\n"
    user_error(run(source, "--columns", "1,0", "--separator", "space"), f"{source}:1", "'New York' holds a space", "--separator tab")


def test_bilou_input_becomes_bioes_letters(tmp_path, write_file):
    source = write_file(tmp_path / "bilou.txt", "New B-LOC\nYork L-LOC\nRome U-LOC\n")
    assert ok(run(source, "--to", "bioes")) == "New B-LOC\nYork E-LOC\nRome S-LOC\n"
    assert ok(run(source, "--to", "iob2")) == "New B-LOC\nYork I-LOC\nRome B-LOC\n"


def test_same_scheme_repairs_sequences_it_forbids(tmp_path, write_file):
    source = write_file(tmp_path / "broken.txt", "the O\nNew I-LOC\nYork I-LOC\nRome B-LOC\n")
    assert ok(run(source, "--from", "iob2", "--to", "iob2")) == "the O\nNew B-LOC\nYork I-LOC\nRome B-LOC\n"


# ---------------------------------------------------------------------------- columns


def test_columns_select_and_reorder_and_docstart_stays_first(conll_sentences):
    out = ok(run(NER / "dev.txt", "--columns", "-1,0"))
    assert out.startswith("-DOCSTART- -X-\n\n")
    expected = [[[row[-1], row[0]] for row in s] for s in conll_sentences(NER / "dev.txt")]
    assert [[row.split() for row in block.split("\n") if row] for block in out.split("\n\n")[1:] if block] == expected


def test_columns_and_tags_together(conll_sentences):
    out = ok(run(NER / "dev.txt", "--to", "bioes", "--columns", "0,2"))
    assert out.startswith("-DOCSTART- O\n\n")
    assert [s.tags for s in read_columns(io.StringIO(out))] == [
        convert_tags([r[-1] for r in s], "iob2", "bioes") for s in conll_sentences(NER / "dev.txt")
    ]


# ---------------------------------------------------------------------------- CoNLL-U

CONLLU = (
    "# newdoc id = d1\n# sent_id = 1\n# text = Vámonos al mar.\n"
    "1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tVamos\tir\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "2\tnos\tnosotros\tPRON\tPRP\t_\t1\tobj\t_\t_\n"
    "3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "3\ta\ta\tADP\tIN\t_\t5\tcase\t_\t_\n"
    "4\tel\tel\tDET\tDT\t_\t5\tdet\t_\t_\n"
    "5\tmar\tmar\tNOUN\tNN\t_\t1\tobl\t_\tSpaceAfter=No\n"
    "5.1\tvan\tir\tVERB\tVB\t_\t_\t_\t1:conj\t_\n"
    "6\t.\t.\tPUNCT\t.\t_\t1\tpunct\t_\t_\n"
    "\n# sent_id = 2\n1\tSí\tsí\tINTJ\tUH\t_\t0\troot\t_\t_\n\n"
)


def test_conllu_to_columns_reads_back_like_the_conllu_reader(tmp_path, write_file):
    source = write_file(tmp_path / "es.conllu", CONLLU)
    out = ok(run(source))  # .conllu: form,upos by default
    assert out == "-DOCSTART- -X-\n\nVamos VERB\nnos PRON\na ADP\nel DET\nmar NOUN\n. PUNCT\n\nSí INTJ\n\n"
    expected = [(s.tokens, s.tags) for s in read_conllu(source)]
    assert [(s.tokens, s.tags) for s in read_columns(io.StringIO(out))] == expected


def test_conllu_fields_and_separator_from_stdin():
    out = ok(run("-", "--fields", "form,lemma,xpos,misc", "--separator", "tab", input=CONLLU))
    assert out.splitlines()[:3] == ["-DOCSTART-\t-X-\t-X-\t-X-", "", "Vamos\tir\tVB\t_"]
    assert "mar\tmar\tNN\tSpaceAfter=No" in out.splitlines()


def test_conllu_form_with_a_space_needs_the_tab_separator(tmp_path, write_file):
    source = write_file(tmp_path / "vi.conllu", "1\tsố lượng\tsố lượng\tNOUN\tN\t_\t0\troot\t_\t_\n\n")
    user_error(run(source), f"{source}:1", "'số lượng' holds a space", "--separator tab")
    assert ok(run(source, "--separator", "tab")) == "số lượng\tNOUN\n\n"


# ---------------------------------------------------------------------------- classification formats

TRICKY = [
    ("pos", 'a "quoted", comma, film'),
    ("neg", "ünïcödé and emoji 🙂"),
    ("very-neg", "dull"),
]
LAYOUT = {  # file names under which auto detection finds each format
    "tsv": "data.tsv", "csv": "data.csv", "label-tab": "data.txt", "label-space": "data.txt",
    "fasttext": "data.txt", "jsonl": "data.jsonl",
}


@pytest.mark.parametrize("source_format, target_format", list(itertools.product(WRITE_FORMATS, WRITE_FORMATS)))
def test_every_classification_format_into_every_other(tmp_path, source_format, target_format, write_file):
    source = write_file(tmp_path / "examples.txt", "".join(f"{label}\t{text}\n" for label, text in TRICKY))
    middle = tmp_path / LAYOUT[source_format]
    with middle.open("w", encoding="utf-8") as out:
        convert_examples(source, out, output_format=source_format, input_format="label-tab")
    final = io.StringIO()
    convert_examples(middle, final, output_format=target_format)  # auto-detects source_format
    final.seek(0)
    read_back = [(e.label, e.text) for e in read_examples(final, format=target_format, tokenized=True)]
    assert read_back == TRICKY


def test_classification_from_stdin_with_columns():
    data = "id,title,label,body\n1,Good,pos,\"fine\nfilm\"\n2,Bad,neg,dull\n"
    out = ok(run("-", "--input-format", "csv", "--output-format", "fasttext", "--text-columns", "title,body", input=data))
    assert out == "__label__pos Good fine film\n__label__neg Bad dull\n"  # the line break became a space


def test_sample_classification_data_to_jsonl_and_back(tmp_path):
    jsonl = tmp_path / "train.jsonl"
    ok(run(SAMPLE / "cls" / "train.tsv", "--output-format", "jsonl", "-o", jsonl))
    assert ok(run(jsonl, "--output-format", "tsv")) == (SAMPLE / "cls" / "train.tsv").read_text(encoding="utf-8")


def test_a_label_the_format_cannot_hold(tmp_path, write_file):
    source = write_file(tmp_path / "data.jsonl", '\n{"text": "good", "label": "very good"}\n{"text": "fine", "label": "a"}\n')
    user_error(run(source, "--output-format", "fasttext"), f"{source}:2", "'very good' holds whitespace")


# ---------------------------------------------------------------------------- errors


def test_a_tag_outside_the_given_scheme_names_its_line(tmp_path, write_file):
    source = write_file(tmp_path / "mixed.txt", "John B-PER\nSmith E-PER\n")
    user_error(run(source, "--to", "iob1", "--from", "iob2"), f"{source}:2", "'E-PER' is not a iob2 tag")


def test_plain_tags_have_no_scheme(tmp_path):
    user_error(run(NER / "dev.txt", "--to", "bioes", "--tag-column", "1"), "tag column 1 holds tags without B-/I-/E-/S- prefixes")


def test_failed_conversion_keeps_the_existing_output_file(tmp_path, write_file):
    source = write_file(tmp_path / "bad.txt", "John B-PER\n\nSmith B-PER extra\n")
    out = write_file(tmp_path / "out.txt", "old\n")
    user_error(run(source, "--to", "bioes", "--from", "iob2", "-o", out), f"{source}:3", "expected 2 columns, got 3")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "out.txt"]


@pytest.mark.parametrize("args, fragments", [
    ([NER / "dev.txt"], ["nothing to convert"]),
    ([NER / "dev.txt", "--output-format", "jsonl"], ["--output-format jsonl is for classification data"]),
    ([SAMPLE / "cls" / "dev.tsv", "--input-format", "tsv"], ["give --output-format"]),
    ([SAMPLE / "cls" / "dev.tsv", "--output-format", "csv", "--to", "bioes"], ["--to does not apply to classification data"]),
    ([NER / "dev.txt", "--fields", "form,lemma", "--to", "bioes"], ["--to does not apply to CoNLL-U input"]),
    ([NER / "dev.txt", "--columns", "0,x"], ["--columns: expected comma-separated column numbers"]),
    ([NER / "dev.txt", "--columns", "0,5"], ["dev.txt:3: selected column 5 is out of range: the file has 3 columns"]),
    ([NER / "dev.txt", "--to", "bioes", "--tag-column", "-9"], ["dev.txt:3: tag column -9 is out of range"]),
    (["nowhere.txt", "--to", "bioes"], ["nowhere.txt: no such file"]),
    ([NER / "dev.txt", "--to", "bilou"], ["'bilou' is not one of"]),
    ([NER / "dev.txt", "--from", "iob2", "--columns", "0"], ["--from: give --to with --from"]),
])
def test_option_errors_are_one_line(args, fragments):
    user_error(run(*args), *fragments)


def test_undecodable_input_names_the_line(tmp_path, write_file):
    source = write_file(tmp_path / "latin1.txt", "Paris B-LOC\n\nK\xf6ln B-LOC\n".encode("latin-1"))
    user_error(run(source, "--to", "bioes"), f"{source}:3", "not valid utf-8")
    assert ok(run(source, "--to", "bioes", "--encoding", "latin-1")) == "Paris S-LOC\n\nKöln S-LOC\n"


def test_library_rejects_unknown_schemes():
    with pytest.raises(InputError, match="--from"):
        convert_columns(NER / "dev.txt", io.StringIO(), to_scheme="bioes", from_scheme="bilou")
