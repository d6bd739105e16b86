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


def test_table_from_cached_memory_mapped_vectors(tmp_path, write_file):
    path = write_file(tmp_path / "glove.txt", text_lines())
    load_vectors(path)
    cached = load_vectors(path)  # memory-mapped, read-only
    table = build_embedding_table(Counter({"Berlin": 1}), cached, dim=50, keep_vectors=1, seed=1)
    assert table.words == [PAD, UNK, "berlin", "the"]
    np.testing.assert_array_equal(table.matrix[2], MATRIX[2])
    table.matrix[2, 0] = 99.0  # the table is the model's own copy
    np.testing.assert_array_equal(np.asarray(cached.matrix[2]), MATRIX[2])
