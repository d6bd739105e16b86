"""Pretrained vectors: every supported file format, the .npy cache, damaged files, and the model's embedding table."""
from __future__ import annotations

import gzip
import json
import os
from collections import Counter

import numpy as np
import pytest

from seqtag.vectors import pretrained as embeddings
from seqtag.vectors.pretrained import Vectors, build_embedding_table, load_vectors
from seqtag.errors import InputError
from seqtag.data.vocab import PAD, UNK, WordVocab

WORDS = ["the", "paris", "berlin", "0000", "of"]
MATRIX = np.array(
    [[0.5, -1.0, 2.0], [1.25, 0.0, -0.5], [3.0, 1.5, 0.25], [-2.0, 0.75, 1.0], [0.125, -0.25, 4.0]], dtype=np.float32
)


def text_lines(words=WORDS, matrix=MATRIX) -> str:
    return "".join(w + " " + " ".join(repr(float(x)) for x in row) + "\n" for w, row in zip(words, matrix))


def assert_loaded(vectors: Vectors, words=WORDS, matrix=MATRIX) -> None:
    assert vectors.words == words
    assert vectors.matrix.dtype == np.float32
    assert vectors.dim == matrix.shape[1]
    np.testing.assert_array_equal(np.asarray(vectors.matrix), matrix)


# ---------------------------------------------------------------------------- formats


def test_word2vec_text_with_header(tmp_path, write_file):
    path = write_file(tmp_path / "w2v.txt", f"{len(WORDS)} 3\n" + text_lines())
    assert_loaded(load_vectors(path, cache=False))


def test_glove_text_without_header(tmp_path, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    assert_loaded(load_vectors(path, cache=False))


def test_gzipped_text(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text_lines())  # GloVe style: the header check must look inside the gzip stream
    assert_loaded(load_vectors(path, cache=False))
    path2 = tmp_path / "w2v.vec.gz"
    with gzip.open(path2, "wt", encoding="utf-8") as handle:
        handle.write(f"{len(WORDS)} 3\n" + text_lines())
    assert_loaded(load_vectors(path2, cache=False))


def test_word2vec_binary(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(WORDS, MATRIX)
    path = tmp_path / "vectors.bin"
    kv.save_word2vec_format(str(path), binary=True)
    assert path.read_bytes()[:4] == b"5 3\n"
    assert_loaded(load_vectors(path, cache=False))


def test_gensim_native_kv(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(WORDS, MATRIX)
    path = tmp_path / "vectors.kv"
    kv.save(str(path))
    assert_loaded(load_vectors(path, cache=False))


def test_sample_vectors(sample_vectors):
    vectors = load_vectors(sample_vectors, cache=False)
    header = sample_vectors.read_text(encoding="utf-8").splitlines()[0].split()
    assert (len(vectors.words), vectors.dim) == (int(header[0]), int(header[1])) == (389, 20)


def test_utf8_words_and_find_chain(tmp_path, write_file):
    path = write_file(tmp_path / "v.txt", text_lines(["münchen", "the"], MATRIX[:2]))
    vectors = load_vectors(path, cache=False)
    assert vectors.words == ["münchen", "the"]
    assert vectors.find("München") == "münchen"
    assert vectors.find("The") == "the"
    assert vectors.find("nope") is None


# ---------------------------------------------------------------------------- cache


def test_cache_second_load_does_not_call_gensim(tmp_path, monkeypatch, cache_dir, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    calls = []
    real = embeddings._read_with_gensim

    def counting(p):
        calls.append(p)
        if len(calls) > 1:
            raise AssertionError("gensim was called again although the cache holds this file")
        return real(p)

    monkeypatch.setattr(embeddings, "_read_with_gensim", counting)
    first = load_vectors(path)
    assert len(calls) == 1
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".npy"]  # in $SEQTAG_CACHE_DIR
    second = load_vectors(path)
    assert len(calls) == 1
    assert second.words == first.words
    np.testing.assert_array_equal(np.asarray(second.matrix), np.asarray(first.matrix))
    assert_loaded(second)


def test_cache_notices_a_changed_file(tmp_path, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    assert_loaded(load_vectors(path))
    changed = MATRIX * 2
    write_file(path, text_lines(WORDS, changed) + "extra 1.0 2.0 3.0\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert_loaded(load_vectors(path), WORDS + ["extra"], np.vstack([changed, [[1.0, 2.0, 3.0]]]).astype(np.float32))


def test_cache_rebuilds_a_damaged_entry(tmp_path, cache_dir, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    load_vectors(path)
    [words_file] = cache_dir.glob("*.words.json")
    words_file.write_text(json.dumps(["only", "two"]), encoding="utf-8")  # no longer matches the array
    assert_loaded(load_vectors(path))


def test_no_cache_writes_nothing_and_rereads(tmp_path, monkeypatch, cache_dir, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    calls = []
    real = embeddings._read_with_gensim
    monkeypatch.setattr(embeddings, "_read_with_gensim", lambda p: calls.append(p) or real(p))
    assert_loaded(load_vectors(path, cache=False))
    assert_loaded(load_vectors(path, cache=False))
    assert len(calls) == 2
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_explicit_cache_dir(tmp_path, cache_dir, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    folder = tmp_path / "elsewhere"
    load_vectors(path, cache_dir=folder)
    assert len(list(folder.iterdir())) == 2
    assert not cache_dir.exists()


# ---------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize(
    "name, content",
    [
        ("ragged.txt", "the 0.1 0.2 0.3\nof 0.1 0.2\n"),
        ("short.txt", "3 3\nthe 0.1 0.2 0.3\n"),  # the header promises more rows
        ("words.txt", "the 0.1 0.2\nof x y\n"),  # not numbers
        ("wordlist.txt", "the\nof\nand\n"),  # no vector values at all
        ("empty.txt", ""),
        ("latin.txt", "m\xfcnchen 0.1 0.2\n".encode("latin-1")),
        ("cut.bin", b"5 3\nthe \x00\x00"),  # truncated binary
        ("text.bin", "the 0.1 0.2\n"),  # text under a .bin name
        ("broken.txt.gz", b"\x1f\x8b\x08\x00garbage"),
    ],
)
def test_damaged_file_is_an_input_error(tmp_path, name, content, write_file):
    path = write_file(tmp_path / name, content)
    with pytest.raises(InputError) as info:
        load_vectors(path, cache=False)
    assert info.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_vectors(tmp_path / "nope.txt")


def test_damaged_file_leaves_no_cache_entry(tmp_path, cache_dir, write_file):
    path = write_file(tmp_path / "bad.txt", "the 0.1 0.2 0.3\nof 0.1 0.2\n")
    with pytest.raises(InputError):
        load_vectors(path)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


# ---------------------------------------------------------------------------- embedding table


def _vectors() -> Vectors:
    return Vectors(WORDS, MATRIX.copy(), "test")


def test_table_lookup_chain_exact_lower_digits():
    counts = Counter({"Paris": 3, "1996": 2, "the": 4, "Zorblax": 1})
    table = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=0, seed=1)
    assert table.words[:2] == [PAD, UNK]
    # Training words are stored under the key that found their vector.
    assert set(table.words[2:]) == {"the", "paris", "0000", "Zorblax"}
    row = {w: table.matrix[i] for i, w in enumerate(table.words)}
    np.testing.assert_array_equal(row["paris"], MATRIX[1])  # 'Paris' -> lowercase
    np.testing.assert_array_equal(row["0000"], MATRIX[3])  # '1996' -> digits normalised
    np.testing.assert_array_equal(row["the"], MATRIX[0])  # exact
    assert table.matrix.shape == (6, 3)  # the vectors' size wins over dim
    assert table.matrix.dtype == np.float32
    assert not np.allclose(row["Zorblax"], 0) and not np.allclose(row[UNK], 0)  # random init
    np.testing.assert_array_equal(table.matrix[0], np.zeros(3, dtype=np.float32))  # PAD is zero
    # The model's vocabulary finds the rows again from the raw tokens.
    vocab = WordVocab(table.words, table.trainable)
    assert table.words[vocab.lookup("Paris")] == "paris"
    assert table.words[vocab.lookup("2024")] == "0000"
    assert vocab.lookup("never-seen") == 1


def test_table_coverage_numbers():
    counts = Counter({"Paris": 3, "1996": 2, "the": 4, "Zorblax": 1})
    table = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=0, seed=1)
    assert table.coverage["tokens"] == pytest.approx(9 / 10)
    assert table.coverage["types"] == pytest.approx(3 / 4)


def test_table_keep_vectors_adds_the_most_frequent_extra_rows():
    counts = Counter({"Paris": 3, "Zorblax": 1})
    table = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=3, seed=1)
    # The first three vectors are the, paris, berlin: paris is already there, the and berlin are added.
    assert table.words == [PAD, UNK, "paris", "Zorblax", "the", "berlin"]
    assert table.trainable == 4
    np.testing.assert_array_equal(table.matrix[4], MATRIX[0])
    np.testing.assert_array_equal(table.matrix[5], MATRIX[2])
    everything = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=100, seed=1)
    assert everything.words[4:] == ["the", "berlin", "0000", "of"]
    assert everything.trainable == 4


def test_table_without_vectors_is_random_of_dim_and_seeded():
    counts = Counter({"a": 2, "b": 1})
    table = build_embedding_table(counts, None, dim=7, keep_vectors=100, seed=3)
    assert table.words == [PAD, UNK, "a", "b"]
    assert table.matrix.shape == (4, 7)
    assert table.trainable == 4
    assert table.coverage == {"tokens": 0.0, "types": 0.0}
    np.testing.assert_array_equal(table.matrix[0], np.zeros(7, dtype=np.float32))
    again = build_embedding_table(counts, None, dim=7, keep_vectors=100, seed=3)
    np.testing.assert_array_equal(table.matrix, again.matrix)


def test_unknown_row_starts_at_zero_when_asked_and_nothing_else_moves():
    counts = Counter({"berlin": 2, "zorblax": 1})
    random_start = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=2, seed=1)
    zero_start = build_embedding_table(counts, _vectors(), dim=50, keep_vectors=2, seed=1, unknown="zero")
    assert zero_start.words == random_start.words and zero_start.words[1] == UNK
    assert random_start.matrix[1].any() and not zero_start.matrix[1].any()
    np.testing.assert_array_equal(np.delete(zero_start.matrix, 1, axis=0), np.delete(random_start.matrix, 1, axis=0))


def test_a_zero_unknown_vector_stays_zero_without_word_dropout(tmp_path, write_conll):
    """No training token reads the unknown row unless word dropout puts it there: it is saved as it started."""
    from typer.testing import CliRunner

    import seqtag
    from seqtag.cli import app

    data = write_conll(tmp_path / "train.txt", [[("Anna", "B-PER"), ("sings", "O")], [("in", "O"), ("Rome", "B-LOC")]])
    for dropout, untouched in ((0.0, True), (0.5, False)):
        output = tmp_path / f"m{dropout}.seqtag"
        result = CliRunner().invoke(app, ["train", "--train", str(data), "--output", str(output), "--epochs", "3",
                                          "--hidden", "8", "--word-dim", "8", "--char-hidden", "8", "--unknown-vector",
                                          "zero", "--word-dropout", str(dropout), "--lr", "0.05", "--batch-size", "1"])
        assert result.exit_code == 0, result.output
        model = seqtag.load(output)
        assert model.model_config.unknown_vector == "zero"
        unknown = model.net.encoder.words.weight[model.words.lookup("never-seen-before")]
        assert (not unknown.any()) is untouched


def test_table_from_cached_memory_mapped_vectors(tmp_path, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    load_vectors(path)
    cached = load_vectors(path)  # memory-mapped, read-only
    table = build_embedding_table(Counter({"Berlin": 1}), cached, dim=50, keep_vectors=1, seed=1)
    assert table.words == [PAD, UNK, "berlin", "the"]
    np.testing.assert_array_equal(table.matrix[2], MATRIX[2])
    table.matrix[2, 0] = 99.0  # the table is the model's own copy
    np.testing.assert_array_equal(np.asarray(cached.matrix[2]), MATRIX[2])


# ---------------------------------------------------------------------------- a word that appears twice

# Real dumps repeat a token now and then. The second "paris" (and "the") lines must be ignored: a repeated
# word keeps its first vector, as gensim does, and the loader never leaves a hole (None) in the words.
REPEATED = (
    "the 0.5 -1.0 2.0\n"
    "paris 1.25 0.0 -0.5\n"
    "berlin 3.0 1.5 0.25\n"
    "paris 9.0 9.0 9.0\n"
    "0000 -2.0 0.75 1.0\n"
    "the 7.0 7.0 7.0\n"
    "of 0.125 -0.25 4.0\n"
)


def repeated_file(folder, variant: str, write_file):
    """The REPEATED vectors as word2vec text (header counting every line), GloVe text or word2vec binary."""
    if variant == "word2vec":
        return write_file(folder / "dup.vec", "7 3\n" + REPEATED)
    if variant == "glove":
        return write_file(folder / "dup.txt", REPEATED)
    rows = [line.split() for line in REPEATED.splitlines()]
    body = b"".join(w.encode() + b" " + np.array(v, dtype=np.float32).tobytes() + b"\n" for w, *v in rows)
    return write_file(folder / "dup.bin", b"7 3\n" + body)


def assert_distinct_words(words) -> None:
    assert all(isinstance(w, str) and w for w in words), words
    assert len(set(words)) == len(words), words


@pytest.mark.parametrize("variant", ["word2vec", "glove", "binary"])
@pytest.mark.parametrize("cache", [False, True])
def test_a_repeated_word_keeps_its_first_vector(tmp_path, write_file, variant, cache):
    path = repeated_file(tmp_path, variant, write_file)
    vectors = load_vectors(path, cache=cache)
    assert_loaded(vectors)  # exactly WORDS and MATRIX: first vectors, file order, no None row
    assert_distinct_words(vectors.words)
    assert vectors.index == {w: i for i, w in enumerate(WORDS)}
    np.testing.assert_array_equal(np.asarray(vectors.matrix[vectors.index["paris"]]), MATRIX[1])
    if cache:
        assert_loaded(load_vectors(path))  # and the same again from the cache entry


@pytest.mark.parametrize("variant", ["word2vec", "glove"])
def test_the_embedding_table_of_repeated_words_has_no_holes(tmp_path, write_file, variant):
    vectors = load_vectors(repeated_file(tmp_path, variant, write_file), cache=False)
    counts = Counter({"Paris": 3, "the": 2, "Zorblax": 1})
    table = build_embedding_table(counts, vectors, dim=50, keep_vectors=100, seed=1)
    assert table.words == [PAD, UNK, "paris", "the", "Zorblax", "berlin", "0000", "of"]
    assert_distinct_words(table.words)
    assert table.matrix.shape == (len(table.words), 3)
    np.testing.assert_array_equal(table.matrix[2], MATRIX[1])  # paris: the first vector
    np.testing.assert_array_equal(table.matrix[3], MATRIX[0])  # the: the first vector
    vocab = WordVocab(table.words, table.trainable)  # what the model file keeps
    assert "\n".join(vocab.items).split("\n") == table.words


@pytest.mark.parametrize("variant", ["word2vec", "glove"])
def test_a_model_with_repeated_vector_words_trains_saves_and_loads(tmp_path, write_file, write_conll, variant):
    """The reported crash: training went through every epoch, then Model.save failed on a None word."""
    from seqtag import load_model
    from seqtag.config import DataConfig, ModelConfig, TrainConfig
    from seqtag.training.train import train_model

    vectors = repeated_file(tmp_path, variant, write_file)
    data = write_conll(tmp_path / "train.txt", [
        [("Paris", "B-LOC"), ("of", "O"), ("the", "O"), ("1996", "O")],
        [("Berlin", "B-LOC"), ("Zorblax", "B-PER")],
        [("the", "O"), ("Paris", "B-LOC")],
    ])
    model_config = ModelConfig(hidden=4, char_encoder="none", dropout=0.0)
    model, _ = train_model(data, None, vectors, DataConfig(), model_config, TrainConfig(epochs=1, batch_size=2, seed=1))
    assert_distinct_words(model.words.items)
    assert set(WORDS) <= set(model.words.items)
    model.save(tmp_path / "m.seqtag")
    loaded = load_model(tmp_path / "m.seqtag")
    assert loaded.words.items == model.words.items and loaded.words.trainable == model.words.trainable
    tokens = [["Paris", "of", "Berlin"], ["unseen", "the"]]
    assert loaded.predict(tokens) == model.predict(tokens)


def test_a_cache_entry_with_a_hole_or_a_repeated_word_is_rebuilt(tmp_path, write_file, cache_dir):
    """Entries written before repeated words were handled hold a null word (and a zero row) at the end."""
    path = write_file(tmp_path / "glove.txt", REPEATED)
    assert_loaded(load_vectors(path))
    [words_file] = cache_dir.glob("*.words.json")
    [array_file] = cache_dir.glob("*.npy")
    np.save(array_file, np.vstack([MATRIX, np.zeros((2, 3), dtype=np.float32)]))
    for stale in (WORDS + [None, None], WORDS + ["the", "paris"]):
        words_file.write_text(json.dumps(stale), encoding="utf-8")
        assert_loaded(load_vectors(path))  # not the stale entry: read from the file again
        assert json.loads(words_file.read_text(encoding="utf-8")) == WORDS  # and the entry is repaired
        np.save(array_file, np.vstack([MATRIX, np.zeros((2, 3), dtype=np.float32)]))


def test_hand_made_vectors_with_a_repeated_word_find_the_first_row():
    vectors = Vectors(["the", "paris", "the"], MATRIX[:3].copy(), "test")
    assert vectors.index == {"the": 0, "paris": 1}
    assert vectors.find("The") == "the"


@pytest.mark.parametrize("items, problem", [
    ([PAD, UNK, "a", None], "vocabulary items must be strings: item 3 is None"),
    ([PAD, UNK, "a", "a"], "vocabulary items must be unique"),
    ([PAD, UNK, "two\nlines"], "vocabulary words cannot hold a newline: item 2 is 'two\\\\nlines'"),
])
def test_a_word_vocabulary_refuses_what_the_model_file_cannot_hold(items, problem):
    with pytest.raises(ValueError, match=problem):
        WordVocab(items)


def test_other_vocabularies_refuse_non_strings_but_allow_newlines():
    from seqtag.data.vocab import Vocab

    with pytest.raises(ValueError, match="item 1 is 3"):
        Vocab(["O", 3])
    assert Vocab(["O", "B-X\nY"]).items == ["O", "B-X\nY"]  # labels are saved as a list
