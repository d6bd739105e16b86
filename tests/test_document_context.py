"""Document context (--document-context): readers number documents, each sentence is read with its
neighbours, and the tags depend on them only through the encoder's reading of the whole row."""
from __future__ import annotations

import io
import json

import pytest
import torch
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig
from seqtag.data.batching import Collator
from seqtag.data.context import InContext, as_plain, contexts_of, has_documents, model_input, with_context
from seqtag.data.sentence import Sentence
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.formats.columns import read_columns
from seqtag.formats.conllu import read_conllu
from seqtag.formats.text import read_raw
from seqtag.tasks.tagging import Tagger, build_net, label_set

runner = CliRunner()

DOCS = """-DOCSTART- -X- O

Anna B-PER
sings O

in O
Rome B-LOC

-DOCSTART- -X- O

Bob B-PER
runs O
"""


def test_column_files_number_their_documents():
    sentences = list(read_columns(io.StringIO(DOCS), tag_column=-1))
    assert [s.tokens for s in sentences] == [["Anna", "sings"], ["in", "Rome"], ["Bob", "runs"]]
    assert [s.document for s in sentences] == [0, 0, 1]
    plain = list(read_columns(io.StringIO("a O\n\nb O\n")))
    assert [s.document for s in plain] == [None, None] and not has_documents(plain)


def test_conllu_newdoc_and_raw_lines_are_documents():
    row = "1\t{}\t_\tX\t_\t_\t0\troot\t_\t_\n"
    text = "# newdoc id = a\n" + row.format("x") + "\n" + row.format("y") + "\n# newdoc\n" + row.format("z") + "\n"
    assert [s.document for s in read_conllu(io.StringIO(text))] == [0, 0, 1]
    assert [s.document for s in read_conllu(io.StringIO(row.format("x") + "\n"))] == [None]
    raw = list(read_raw(io.StringIO("One here. Two here.\nThree.\n")))
    assert [s.document for s in raw] == [1, 1, 2]


def _sentences(documents: list[int | None], lengths: list[int]) -> list[Sentence]:
    count = iter(range(10_000))
    return [Sentence([f"w{next(count)}" for _ in range(n)], document=d) for d, n in zip(documents, lengths)]


@pytest.mark.parametrize("size", [1, 3, 8])
def test_streamed_context_equals_each_document_read_whole(size):
    documents = [0, 0, 0, None, 1, 1, 2, 2, 2, 2, None]
    lengths = [2, 1, 4, 3, 5, 2, 1, 1, 6, 2, 2]
    streamed = [model_input(s) for s in with_context(_sentences(documents, lengths), size)]
    reference = _sentences(documents, lengths)
    expected = []
    for document in dict.fromkeys(documents):  # documents are runs here
        members = [s.tokens for s, d in zip(reference, documents) if d == document]
        if document is None:
            continue
        expected += [(document, item) for item in contexts_of(members, size)]
    for sentence, item in zip(reference, streamed):
        if sentence.document is None:
            assert item == sentence.tokens
        else:
            assert item == next(e for d, e in expected if e.tokens == sentence.tokens)
            assert len(item.left) <= size and len(item.right) <= size
    assert contexts_of([["a", "b"], ["c"], ["d", "e", "f"]], 2) == [
        InContext(["a", "b"], [], ["c", "d"]), InContext(["c"], ["a", "b"], ["d", "e"]),
        InContext(["d", "e", "f"], ["b", "c"], []),
    ]


def test_context_streams_without_reading_ahead_of_need():
    def endless():
        n = 0
        while True:
            n += 1
            yield Sentence([f"w{n}", "x"], document=0)

    stream = with_context(endless(), 3)
    first = next(stream)  # needs only the next two sentences for its 3 right-hand tokens
    assert first.context == ([], ["w2", "x", "w3"])
    assert next(stream).context == (["w1", "x"], ["w3", "x", "w4"])


def test_context_size_zero_changes_nothing():
    sentences = _sentences([0, 0], [2, 2])
    assert [model_input(s) for s in with_context(sentences, 0)] == [s.tokens for s in sentences]
    assert as_plain(["a"]) == ["a"] and as_plain(InContext(["a"], ["l"], ["r"])) == [["l"], ["a"], ["r"]]


def _tagger(document_context: int) -> Tagger:
    torch.manual_seed(0)
    words = WordVocab(["<pad>", "<unk>", "a", "b", "c", "d"])
    chars = Vocab(["<pad>", "<unk>", "a", "b", "c", "d"])
    labels = Vocab(label_set([["B-A", "O"]], "bioes"))
    config = ModelConfig(hidden=6, word_dim=5, char_dim=3, char_hidden=4, dropout=0.0, document_context=document_context)
    net = build_net(config, words, chars, labels, "bioes")
    with torch.no_grad():
        net.project.weight.mul_(20)
    return Tagger(net, words, chars, labels, config, DataConfig(), data_scheme="iob2")


def test_collator_puts_each_sentence_between_its_context():
    tagger = _tagger(2)
    batch = tagger.collate([InContext(["a"], ["b", "c"], ["d"]), ["c", "d"]], [["O"], ["O", "O"]])
    assert batch.words.tolist() == [[3, 4, 2, 5], [4, 5, 0, 0]]
    assert batch.starts.tolist() == [2, 0] and batch.row_lengths.tolist() == [4, 2]
    assert batch.mask.tolist() == [[True, False], [True, True]] and batch.tags.shape == (2, 2)
    assert Collator(tagger.words, tagger.chars, tagger.labels)([["a"]]).starts is None


def test_encoder_reads_the_row_and_returns_the_sentence():
    """Oracle: the sentence positions of an InContext row are the row's own outputs read as one sentence."""
    tagger = _tagger(3)
    encoder = tagger.net.encoder
    left, tokens, right = ["b", "c", "a"], ["a", "d"], ["c"]
    with torch.inference_mode():
        whole = encoder(tagger.collate([left + tokens + right]))[0, 3:5]
        inside = encoder(tagger.collate([InContext(tokens, left, right), ["d"]]))[0, :2]
        alone = encoder(tagger.collate([tokens]))[0]
        empty = encoder(tagger.collate([InContext(tokens, [], [])]))[0]
    torch.testing.assert_close(inside, whole)
    torch.testing.assert_close(empty, alone)
    assert not torch.allclose(inside, alone)  # the context does reach the sentence


def test_pipe_reads_a_texts_sentences_together():
    tagger = _tagger(4)
    doc = tagger("Abc bad cab. Dad bad. Cab dab.")  # syntok: three sentences of one text
    pieces = [doc.tokens[start:end] for start, end in doc.sentences]
    assert len(pieces) == 3
    assert doc.tags == [tag for tags in tagger.predict(contexts_of(pieces, 4)) for tag in tags]
    one_by_one = [tagger.predict([item])[0] for item in contexts_of(pieces, 4)]
    assert [tag for tags in one_by_one for tag in tags] == doc.tags  # independent of the rest of the batch


def _write(path, sentences: list[list[tuple[str, str]]], docstart: bool) -> None:
    body = "".join("".join(f"{t} {g}\n" for t, g in s) + "\n" for s in sentences)
    path.write_text(("-DOCSTART- O\n\n" if docstart else "") + body, encoding="utf-8")


SENTENCES = [[("Anna", "B-PER"), ("sings", "O")], [("Anna", "B-PER"), ("sleeps", "O"), ("in", "O"), ("Rome", "B-LOC")],
             [("Bob", "B-PER"), ("runs", "O")], [("in", "O"), ("Paris", "B-LOC")]] * 3


def test_training_reads_documents_or_falls_back_to_sentences(tmp_path):
    _write(tmp_path / "docs.txt", SENTENCES, docstart=True)
    _write(tmp_path / "plain.txt", SENTENCES, docstart=False)
    common = ["--epochs", "2", "--hidden", "8", "--word-dim", "8", "--char-hidden", "8", "--document-context", "6"]
    for name in ("docs", "plain"):
        result = runner.invoke(app, ["train", "--train", str(tmp_path / f"{name}.txt"), "--dev", str(tmp_path / f"{name}.txt"),
                                     "--output", str(tmp_path / f"{name}.seqtag"), *common])
        assert result.exit_code == 0, result.output
        saved = Tagger.load(tmp_path / f"{name}.seqtag")
        assert saved.model_config.document_context == (6 if name == "docs" else 0)
        assert ("no document boundaries" in result.stderr) == (name == "plain")
    # evaluate and predict read the file's documents the way training did
    model = Tagger.load(tmp_path / "docs.seqtag")
    sentences = list(read_columns(tmp_path / "docs.txt"))
    expected = model.predict(contexts_of([s.tokens for s in sentences], 6))  # one document
    result = runner.invoke(app, ["predict", str(tmp_path / "docs.seqtag"), str(tmp_path / "docs.txt"), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["tags"] for line in result.stdout.splitlines()] == expected
    result = runner.invoke(app, ["evaluate", str(tmp_path / "docs.seqtag"), str(tmp_path / "docs.txt"), "--format", "json"])
    assert result.exit_code == 0, result.output
    gold = [[g for _, g in s] for s in SENTENCES]
    correct = sum(p == g for ps, gs in zip(expected, gold) for p, g in zip(ps, gs))
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(correct / sum(map(len, gold)))


NEW_SENTENCES = [[("Zorblax", "B-PROD"), ("sells", "O"), ("in", "O"), ("Rome", "B-LOC")], [("Anna", "B-PER"), ("buys", "O")]] * 2


def test_continued_model_keeps_its_context_where_the_new_data_has_documents(tmp_path):
    """--init-from a context model: untrained, it reads the new documents with the old context and scores
    them as before; trained on data with documents it keeps the context, on data without it reads sentences."""
    _write(tmp_path / "docs.txt", SENTENCES, docstart=True)
    _write(tmp_path / "new_docs.txt", NEW_SENTENCES, docstart=True)
    _write(tmp_path / "new_plain.txt", NEW_SENTENCES, docstart=False)
    result = runner.invoke(app, ["train", "--train", str(tmp_path / "docs.txt"), "--output", str(tmp_path / "old.seqtag"),
                                 "--epochs", "1", "--hidden", "8", "--word-dim", "8", "--char-hidden", "8",
                                 "--document-context", "6"])
    assert result.exit_code == 0, result.output
    old = Tagger.load(tmp_path / "old.seqtag")
    data = Tagger.training_data(tmp_path / "new_docs.txt", None, old.data_config, old.model_config, known=old.labels.items)
    new = Tagger.extend(old, data, old.data_config, old.train_config, old.model_config, {})
    assert new.model_config.document_context == 6
    tokens = [[t for t, _ in s] for s in NEW_SENTENCES]
    rows = contexts_of(tokens, 6)
    with torch.inference_mode():
        emissions = new.net.emissions(new.collate(rows))
        old_emissions = old.net.emissions(old.collate(rows))
        alone = old.net.emissions(old.collate(tokens))
    assert not torch.allclose(old_emissions, alone)  # the context reaches the scores
    torch.testing.assert_close(emissions[..., [new.labels.index[label] for label in old.labels.items]], old_emissions)
    for name, context in (("new_docs", 6), ("new_plain", 0)):
        result = runner.invoke(app, ["train", "--init-from", str(tmp_path / "old.seqtag"), "--train", str(tmp_path / f"{name}.txt"),
                                     "--output", str(tmp_path / f"{name}.seqtag"), "--epochs", "1"])
        assert result.exit_code == 0, result.output
        assert Tagger.load(tmp_path / f"{name}.seqtag").model_config.document_context == context
        assert ("no document boundaries" in result.stderr) == (context == 0)


@pytest.mark.parametrize("layers,bidirectional", [(1, True), (2, True), (1, False), (3, True)])
@pytest.mark.parametrize("grad", [True, False])
def test_rnn_reads_only_what_reaches_the_sentence(layers, bidirectional, grad):
    """Oracle: StackedRNN.in_context equals the whole rows' outputs at the sentence positions, for ragged
    contexts, in training (one pass) and prediction (ladder shapes) alike."""
    from seqtag.models.encoders import StackedRNN

    torch.manual_seed(layers)
    rnn = StackedRNN("lstm", 5, 4, layers, bidirectional, dropout=0.0).eval()
    starts = torch.tensor([0, 3, 2, 6, 1])
    lengths = torch.tensor([4, 2, 5, 1, 3])
    row_lengths = starts + lengths + torch.tensor([3, 0, 4, 2, 1])
    x = torch.randn(5, int(row_lengths.max()), 5)
    with torch.set_grad_enabled(grad):
        got = rnn.in_context(x, row_lengths, starts, lengths)
        rows = rnn._run(x, row_lengths)
    expected = torch.stack([
        torch.cat([rows[b, starts[b] : starts[b] + lengths[b]], rows.new_zeros(int(lengths.max() - lengths[b]), rows.shape[2])])
        for b in range(5)
    ])
    mask = (torch.arange(int(lengths.max())) < lengths.unsqueeze(1)).unsqueeze(2)
    assert got.shape == expected.shape
    torch.testing.assert_close(got * mask, expected)
