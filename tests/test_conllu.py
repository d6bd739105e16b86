"""read_conllu: word rows only, UPOS or XPOS, the text comment, errors with exact locations."""
from __future__ import annotations

import inspect
import io
from pathlib import Path

import pytest

from seqtag.formats.conllu import read_conllu
from seqtag.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

SAMPLE = """\
# newdoc id = doc1
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t4:conj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tNew York\tNew York\tPROPN\tNNP\t_\t0\troot\t_\t_
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "data.conllu"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def error_of(source, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        list(read_conllu(source, **kwargs))
    return str(info.value)


def test_words_only_with_upos_and_text(tmp_path):
    first, second = read_conllu(write(tmp_path, SAMPLE))
    assert first.tokens == ["I", "do", "n't", "know", "."]
    assert first.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.text == "I don't know."
    assert first.line == 4
    assert (second.tokens, second.tags, second.text, second.line) == (["New York"], ["PROPN"], None, 13)


def test_xpos(tmp_path):
    first, _ = read_conllu(write(tmp_path, SAMPLE), field="xpos")
    assert first.tags == ["PRP", "VBP", "RB", "VB", "."]


def test_unknown_field(tmp_path):
    with pytest.raises(ValueError):
        list(read_conllu(write(tmp_path, SAMPLE), field="lemma"))


def test_stream_and_laziness():
    sentences = read_conllu(io.StringIO(SAMPLE.replace("New York\tNew York", "broken")))
    assert inspect.isgenerator(sentences)
    assert next(sentences).tags[0] == "PRON"
    with pytest.raises(InputError, match="expected 10 tab-separated fields, got 9"):
        next(sentences)


def test_wrong_field_count(tmp_path):
    path = write(tmp_path, SAMPLE.replace("3\tn't\tnot\tPART", "3\tn't\tPART"))
    assert error_of(path) == f"{path}:7: expected 10 tab-separated fields, got 9"


def test_spaces_instead_of_tabs(tmp_path):
    path = write(tmp_path, "# text = a\n1 a a DET DT _ 0 root _ _\n")
    assert error_of(path) == f"{path}:2: expected 10 tab-separated fields, got 1"


def test_undecodable_bytes(tmp_path):
    path = write(tmp_path, SAMPLE.encode() + "2\tcafé\t_\tNOUN\tNN\t_\t1\tdep\t_\t_\n".encode("latin-1"))
    assert error_of(path) == f"{path}:14: not valid utf-8 text; try --encoding latin-1"
    assert next(read_conllu(path, encoding="latin-1")).tokens[0] == "I"


def test_missing_file(tmp_path):
    path = tmp_path / "missing.conllu"
    assert error_of(path) == f"{path}: no such file"


@pytest.mark.parametrize("text", ["", "\n", "# only = comments\n\n"])
def test_no_sentences(tmp_path, text):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}: no sentences found"


def test_ud_ewt_train():
    path = DATA / "pos/ud_ewt/en_ewt-ud-train.conllu"
    if not path.is_file():
        pytest.skip(f"shared data set not available: {path}")
    sentences = list(read_conllu(path))
    assert len(sentences) == 12544
    assert all(s.text and len(s.tokens) == len(s.tags) for s in sentences)
    assert sentences[0].tokens[:3] == ["Al", "-", "Zaman"]
