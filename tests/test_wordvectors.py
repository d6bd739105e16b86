"""`seqtag embeddings …` and seqtag.vectors: training on small generated corpora, every command through
CliRunner, the evaluation figures against scipy / gensim, PNG output, and one-line errors with exit 2."""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from seqtag.cli import app

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "vectors"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent (the shared evaluation sets)")

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["embeddings", *map(str, args)])


def ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output


def user_error(result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, exactly one `seqtag: error:` line holding every fragment."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------- data

PAIRS = [(f"alpha{i}", f"beta{i}") for i in range(8)]


@pytest.fixture(scope="module")
def planted_corpus(write_file):
    def planted_corpus(path: Path) -> Path:
        """Eight planted pairs: alpha_i and beta_i co-occur with the same six context words (topic i; drawn
        from a shared pool of 40), one of the two in each sentence. Only the partner shares a word's contexts
        exactly, so it must be the nearest neighbour."""
        rng = random.Random(7)
        pool = [f"ctx{i}" for i in range(40)]
        topics = [rng.sample(pool, 6) for _ in PAIRS]
        lines = []
        for _ in range(200):
            for pair, topic in zip(PAIRS, topics):
                words = rng.sample(topic, 4)
                words.insert(rng.randrange(5), rng.choice(pair))
                lines.append(" ".join(words))
        rng.shuffle(lines)
        return write_file(path, "\n".join(lines) + "\n")

    return planted_corpus


# Down-sampling off: in a 48-word corpus every word is "frequent" and would be mostly dropped.
PLANTED_ARGS = ["--tokenized", "--dim", "20", "--min-count", "1", "--sample", "0", "--epochs", "10", "--workers", "1"]

# Hand-made vectors where the answers are exact: king - man + woman == queen; pear is apple's neighbour.
TINY = {
    "the": [0.5, 0.5, 0.5, 0.5],
    "man": [1, 0, 0, 0.1],
    "woman": [0, 1, 0, 0.1],
    "king": [1, 0, 1, 0.1],
    "queen": [0, 1, 1, 0.1],
    "apple": [0, 0, 0, 1],
    "pear": [0.1, 0, 0, 1],
    "0000": [0.2, 0.1, 0.3, 0.4],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wordvectors")


@pytest.fixture(scope="module")
def tiny(folder, write_file) -> Path:
    rows = "".join(f"{word} {' '.join(map(str, vector))}\n" for word, vector in TINY.items())
    return write_file(folder / "tiny.txt", f"{len(TINY)} 4\n{rows}")


@pytest.fixture(scope="module")
def planted(folder, planted_corpus) -> Path:
    """Word2vec (skip-gram, negative sampling) trained through the CLI on the planted corpus."""
    output = folder / "planted.kv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(folder / "cache"))
        result = run("train", planted_corpus(folder / "planted.txt"), "--output", output, *PLANTED_ARGS, "--seed", "1")
    ok(result)
    assert result.stdout == ""
    assert f"saved {output} (43 words x 20;" in result.stderr  # 16 pair words + the 27 context words drawn
    return output


@pytest.fixture(scope="module")
def conll(folder, sample_slice) -> Path:
    return sample_slice("train", 30, folder / "train.txt")


# ---------------------------------------------------------------------------- train


def test_planted_pairs_are_nearest_neighbours(planted):
    from seqtag.vectors.query import neighbors

    words = [w for pair in PAIRS for w in pair]
    nearest = {r["word"]: r["neighbors"][0][0] for r in neighbors(planted, words, top=1)}
    assert nearest == {a: b for pair in PAIRS for a, b in (pair, pair[::-1])}


def test_neighbors_cli_table_and_json(planted):
    result = run("neighbors", planted, "alpha3", "BETA5", "--top", "3")
    ok(result)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "alpha3" and lines[2].split()[0] == "beta3"
    assert "BETA5 (as beta5)" in lines  # the tagger lookup chain: lowercased
    report = json.loads(run("neighbors", planted, "alpha3", "--format", "json").stdout)
    assert report[0]["key"] == "alpha3" and len(report[0]["neighbors"]) == 10 and not report[0]["subwords"]
    assert report[0]["neighbors"][0][0] == "beta3" and -1 <= report[0]["neighbors"][0][1] <= 1


def test_words_that_look_like_rich_markup_print_as_they_are(tmp_path, write_file):
    vectors = write_file(tmp_path / "markup.txt", "3 2\n[/b] 1 0\n[bold]x 0.9 0.1\nplain 0 1\n")
    result = run("neighbors", vectors, "[/b]", "--top", "1")
    ok(result)
    assert result.stdout.splitlines()[0] == "[/b]" and result.stdout.splitlines()[2].split()[0] == "[bold]x"


def test_one_worker_with_a_seed_gives_the_same_vectors(folder, planted_corpus):
    from seqtag.vectors.train import train_vectors

    corpus = planted_corpus(folder / "again.txt")
    first, second = (
        train_vectors([corpus], input_format="tokenized", dim=8, min_count=1, sample=0, epochs=2, workers=1, seed=3)
        for _ in range(2)
    )
    assert first.vectors.index_to_key == second.vectors.index_to_key
    assert np.array_equal(first.vectors.vectors, second.vectors.vectors)
    assert (first.sentences, first.tokens) == (1600, 8000)


def test_cbow_with_hierarchical_softmax_and_fasttext_train(folder, planted_corpus):
    corpus = planted_corpus(folder / "cbow.txt")
    ok(run("train", corpus, "-o", folder / "cbow.kv", *PLANTED_ARGS, "--algorithm", "cbow", "--hs"))
    result = run("train", corpus, "-o", folder / "ft.kv", *PLANTED_ARGS, "--fasttext", "--buckets", "500", "--min-n", "2", "--max-n", "4")
    ok(result)
    assert "fastText skipgram" in result.stderr
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import FastTextKeyedVectors

    assert type(KeyedVectors.load(str(folder / "cbow.kv"))) is KeyedVectors
    ft = KeyedVectors.load(str(folder / "ft.kv"))
    assert isinstance(ft, FastTextKeyedVectors) and ft.bucket == 500 and (ft.min_n, ft.max_n) == (2, 4)


def test_fasttext_gives_unseen_words_vectors_and_word2vec_refuses_them(folder, planted, planted_corpus):
    corpus = planted_corpus(folder / "ft-corpus.txt")
    ft = folder / "subwords.kv"
    ok(run("train", corpus, "-o", ft, *PLANTED_ARGS, "--fasttext", "--buckets", "500"))
    report = json.loads(run("neighbors", ft, "alpha77", "--top", "2", "--format", "json").stdout)
    assert report[0]["subwords"] and report[0]["key"] == "alpha77" and len(report[0]["neighbors"]) == 2
    assert "(not in the vocabulary: vector from subwords)" in run("neighbors", ft, "alpha77").stdout
    user_error(run("neighbors", planted, "alpha3", "alpha77", "nope"), str(planted), "no vector for 'alpha77', 'nope'")


@pytest.mark.parametrize("name", ["vectors.kv", "vectors.txt", "vectors.bin", "vectors.vec.gz"])
def test_every_output_format_reads_back_through_seqtag_embeddings(folder, conll, name):
    from gensim.models import KeyedVectors

    from seqtag.vectors.pretrained import load_vectors

    output = folder / name
    ok(run("train", conll, "--input-format", "conll", "-o", output, "--dim", "8", "--min-count", "2", "--workers", "1"))
    vectors = load_vectors(output, cache=False)  # what `seqtag train --embeddings` reads
    assert vectors.dim == 8 and "the" in vectors.words and len(vectors.words) > 30
    if name.endswith(".gz"):
        with gzip.open(output, "rt") as handle:
            assert handle.readline().split() == [str(len(vectors.words)), "8"]
    if name.endswith(".kv"):
        kv = KeyedVectors.load(str(output))
        assert np.allclose(kv.vectors, vectors.matrix)
    assert not [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]  # no temporary left behind


@pytest.mark.parametrize("fasttext", [False, True], ids=["word2vec", "fasttext"])
def test_trained_vectors_load_in_seqtag_train(folder, conll, fasttext):
    vectors = folder / f"for-tagger-{fasttext}.kv"
    extra = ["--fasttext", "--buckets", "300"] if fasttext else []
    ok(run("train", conll, "--input-format", "conll", "-o", vectors, "--dim", "12", "--min-count", "1", "--workers", "1", *extra))
    model = folder / f"tagger-{fasttext}.seqtag"
    result = runner.invoke(app, [
        "train", "--train", str(conll), "--embeddings", str(vectors), "--output", str(model), "--epochs", "1",
        "--hidden", "8", "--char-encoder", "none", "--batch-size", "16",
    ])
    ok(result)
    info = json.loads(runner.invoke(app, ["info", str(model), "--format", "json"]).stdout)
    assert info["embeddings"] == str(vectors) and info["word_dim"] == 12
    assert info["embedding_coverage"]["tokens"] == 1.0  # trained on the same file with --min-count 1


def test_corpus_formats_share_seqtag_readers(tmp_path, write_file):
    from seqtag.vectors.corpus import Corpus, read_tokens

    raw = write_file(tmp_path / "raw.txt", "The dog barked. It ran away!\n\nA cat.\n")
    assert list(read_tokens(raw, "raw")) == [["The", "dog", "barked", "."], ["It", "ran", "away", "!"], ["A", "cat", "."]]
    assert list(read_tokens(raw, "tokenized")) == [["The", "dog", "barked.", "It", "ran", "away!"], ["A", "cat."]]
    conll = write_file(tmp_path / "d.conll", "-DOCSTART- O\n\nJohn B-PER\nran O\n\nHe O\n")
    assert list(read_tokens(conll, "auto")) == [["John", "ran"], ["He"]]
    conllu = write_file(tmp_path / "d.conllu", "# text = Hi there\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n2\tthere\tthere\tADV\t_\t_\t1\tadvmod\t_\t_\n")
    assert list(read_tokens(conllu, "auto")) == [["Hi", "there"]]
    labelled = write_file(tmp_path / "sst.txt", "1 a gripping film\n0 dull , dull\n1 fun\n0 not worth the money\n")
    assert list(read_tokens(labelled, "auto"))[:2] == [["a", "gripping", "film"], ["dull", ",", "dull"]]  # labels dropped
    seen = []
    corpus = Corpus([raw, raw], input_format="raw", lowercase=True, on_sentence=seen.append, report_every=2)
    assert list(corpus)[0] == ["the", "dog", "barked", "."]
    assert len(list(corpus)) == 6 and seen[-1] == 6  # restartable: a second pass reads the files again


def test_progress_bar_on_a_terminal_still_trains(folder, monkeypatch, planted_corpus):
    monkeypatch.setattr("seqtag.cli.embeddings.is_tty", lambda: True)
    ok(run("train", planted_corpus(folder / "tty.txt"), "-o", folder / "tty.kv", *PLANTED_ARGS))


def test_train_errors_are_one_line(folder, tmp_path, planted_corpus, write_file):
    corpus = planted_corpus(tmp_path / "c.txt")
    user_error(run("train", write_file(tmp_path / "empty.txt", "\n\n"), "-o", tmp_path / "e.kv"), "empty.txt", "no tokens found")
    user_error(run("train", corpus, "-o", tmp_path / "e.kv", "--min-count", "100000"), "--min-count", "lower --min-count")
    user_error(run("train", corpus, "-o", tmp_path / "e.kv", "--negative", "0"), "--hs")
    user_error(run("train", corpus, "-o", tmp_path / "e.txt", "--format", "word2vec-binary"), "e.txt", "must end in .bin")
    user_error(run("train", corpus, "-o", tmp_path / "missing" / "e.kv"), "no such directory")
    user_error(run("train", corpus, "-o", tmp_path / "e.kv", "--fasttext", "--min-n", "5", "--max-n", "3"), "min-n")
    bad = write_file(tmp_path / "bad.txt", b"fine line\n\xff\xfe broken\n")
    user_error(run("train", bad, "-o", tmp_path / "e.kv", "--tokenized", "--min-count", "1"), "bad.txt:2:", "utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "c.txt", "empty.txt"]  # nothing written


# ---------------------------------------------------------------------------- analogy


def test_analogy_answers_king_minus_man_plus_woman(tiny):
    for method in ("3cosadd", "3cosmul"):
        result = run("analogy", tiny, "man", "king", "woman", "--top", "3", "--method", method, "--format", "json")
        ok(result)
        report = json.loads(result.stdout)
        assert report["answers"][0][0] == "queen" and report["method"] == method
        assert not {"man", "king", "woman"} & {word for word, _ in report["answers"]}
    table = run("analogy", tiny, "Man", "king", "woman")
    ok(table)
    assert table.stdout.splitlines()[0].startswith("Man : king :: woman : ?") and table.stdout.splitlines()[2].startswith("queen")


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")  # inside gensim's cosmul
def test_analogy_matches_gensim(tiny):
    from seqtag.vectors.query import analogy
    from seqtag.vectors.store import load_keyed

    kv = load_keyed(tiny, cache=False)
    ours = analogy(kv, "apple", "pear", "man", top=4, method="3cosmul")["answers"]
    theirs = kv.most_similar_cosmul(positive=["pear", "man"], negative=["apple"], topn=4)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-6)


def test_analogy_and_neighbors_errors(tiny, tmp_path, write_file):
    user_error(run("analogy", tiny, "man", "emperor", "woman"), str(tiny), "no vector for 'emperor'")
    user_error(run("neighbors", tmp_path / "none.kv", "king"), "none.kv", "does not exist")
    garbage = write_file(tmp_path / "garbage.kv", b"not a pickle")
    user_error(run("neighbors", garbage, "king"), "garbage.kv", "not a gensim .kv file")
    words = write_file(tmp_path / "words.txt", "king\nqueen\n")
    user_error(run("neighbors", words, "king"), "words.txt", "vector")  # embeddings.py's error for a word list


# ---------------------------------------------------------------------------- evaluate


def _cosine(a: str, b: str) -> float:
    x, y = np.array(TINY[a], dtype=float), np.array(TINY[b], dtype=float)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


PAIR_ROWS = [("man", "woman", 3.0), ("king", "queen", 5.0), ("apple", "pear", 9.5), ("king", "man", 7.0), ("apple", "the", 1.0)]


def test_evaluate_word_pairs_spearman_equals_scipy(tiny, tmp_path, write_file):
    gensim_style = write_file(
        tmp_path / "ws.tsv",
        "# comment\n# Word 1\tWord 2\tHuman (mean)\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in PAIR_ROWS) + "unicorn\tking\t4\n",
    )
    # the original SimLex-999.txt layout: a header row, the score in the SimLex999 column
    original = write_file(
        tmp_path / "SimLex-999.txt",
        "word1\tword2\tPOS\tSimLex999\tconc(w1)\n" + "".join(f"{a}\t{b}\tN\t{s}\t4.5\n" for a, b, s in PAIR_ROWS),
    )
    csv = write_file(tmp_path / "combined.csv", "Word 1,Word 2,Human (mean)\n" + "".join(f"{a},{b},{s}\n" for a, b, s in PAIR_ROWS))
    expected = stats.spearmanr([s for *_, s in PAIR_ROWS], [_cosine(a, b) for a, b, _ in PAIR_ROWS]).statistic
    result = run("evaluate", tiny, "--wordsim", gensim_style, "--simlex", original, "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    wordsim, simlex = report["similarity"]["wordsim353"], report["similarity"]["simlex999"]
    assert wordsim["spearman"] == pytest.approx(expected, abs=1e-6) == simlex["spearman"]
    assert (wordsim["pairs"], wordsim["evaluated"], wordsim["oov_ratio"]) == (6, 5, pytest.approx(1 / 6))
    assert (simlex["pairs"], simlex["oov_ratio"]) == (5, 0.0)
    from seqtag.vectors.evaluate import read_pairs

    assert read_pairs(csv) == read_pairs(original) == [(a, b, float(s)) for a, b, s in PAIR_ROWS]


def test_evaluate_analogies_accuracy_and_oov(tiny, tmp_path, write_file):
    questions = write_file(
        tmp_path / "questions.txt",
        ": royals\nman king woman queen\nMan King Woman Queen\nman woman king emperor\n: fruit\napple pear man woman\n",
    )
    result = run("evaluate", tiny, "--analogies", questions, "--format", "json")
    ok(result)
    found = json.loads(result.stdout)["analogies"]
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(tiny))
    score, sections = kv.evaluate_word_analogies(str(questions))
    correct = len(sections[-1]["correct"])
    assert (found["questions"], found["evaluated"]) == (4, 3)
    assert found["oov_ratio"] == pytest.approx(0.25)
    assert found["accuracy"] == pytest.approx(score) and found["accuracy_all"] == pytest.approx(correct / 4)
    assert [s["section"] for s in found["sections"]] == ["royals", "fruit"] and found["sections"][0]["correct"] >= 2
    table = run("evaluate", tiny, "--analogies", questions, "--restrict-vocab", "3")  # king, queen… not among the first 3
    ok(table)
    assert "4 questions" in table.stdout and "100.0%" in table.stdout


def test_evaluate_errors(tiny, tmp_path, write_file):
    user_error(run("evaluate", tiny), "--wordsim", "--analogies")
    pairs = write_file(tmp_path / "pairs.tsv", "king\tqueen\t5\nking\tman\n")
    user_error(run("evaluate", tiny, "--wordsim", pairs), "pairs.tsv:2:", "expected word1, word2 and a score")
    pairs = write_file(tmp_path / "score.tsv", "king\tqueen\t5\nking\tman\thigh\n")
    user_error(run("evaluate", tiny, "--simlex", pairs), "score.tsv:2:", "'high' is not a number")
    questions = write_file(tmp_path / "q.txt", "man king woman queen\n")
    user_error(run("evaluate", tiny, "--analogies", questions), "q.txt:1:", "': section'")
    questions = write_file(tmp_path / "q3.txt", ": s\nman king woman\n")
    user_error(run("evaluate", tiny, "--analogies", questions), "q3.txt:2:", "got 3 words")


@needs_shared
def test_the_shared_evaluation_files_parse(tiny):
    from seqtag.vectors.evaluate import count_questions, read_pairs

    assert len(read_pairs(SHARED / "wordsim353.tsv")) == 353
    assert len(read_pairs(SHARED / "simlex999.txt")) == 999
    assert count_questions(SHARED / "questions-words.txt") == 19544
    result = run(
        "evaluate", tiny, "--wordsim", SHARED / "wordsim353.tsv", "--simlex", SHARED / "simlex999.txt",
        "--analogies", SHARED / "questions-words.txt", "--format", "json",
    )
    ok(result)
    report = json.loads(result.stdout)
    known = {w.upper() for w in TINY}
    both = [p for p in read_pairs(SHARED / "wordsim353.tsv") if {p[0].upper(), p[1].upper()} <= known]
    assert report["similarity"]["wordsim353"]["evaluated"] == len(both) > 0
    assert report["analogies"]["questions"] == 19544 and len(report["analogies"]["sections"]) == 14


# ---------------------------------------------------------------------------- plot


def test_plot_writes_a_png_of_the_chosen_words(planted, tmp_path, write_file, check_png):
    words = write_file(tmp_path / "words.txt", "# pairs\nalpha1\nbeta1\nalpha2\nbeta2\nALPHA3\nbeta3\nnot-a-word\nalpha1\n")
    output = tmp_path / "map.png"
    result = run("plot", planted, "--words", words, "--output", output)
    ok(result)
    assert result.stdout == ""
    assert "wrote" in result.stderr and "6 words" in result.stderr and "not-a-word" in result.stderr
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    check_png(output)  # decodes to a picture with something drawn on it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "words.txt"]


def test_plot_top_words(planted, tmp_path, check_png):
    from gensim.models import KeyedVectors

    from seqtag.vectors.plot import tsne_plot

    result = tsne_plot(planted, tmp_path / "top.png", top=10, seed=2)
    assert [w for w, _, _ in result["words"]] == KeyedVectors.load(str(planted)).index_to_key[:10]
    assert result["perplexity"] == pytest.approx(3) and result["missing"] == []
    assert (tmp_path / "top.png").read_bytes()[:4] == b"\x89PNG"
    check_png(tmp_path / "top.png")


def test_plot_errors(planted, tmp_path, write_file):
    few = write_file(tmp_path / "few.txt", "alpha1\nbeta1\nnope\n")
    user_error(run("plot", planted, "--words", few, "-o", tmp_path / "x.png"), "at least 5 words", "got 2")
    user_error(run("plot", planted, "-o", tmp_path / "no" / "x.png"), "x.png", "no such directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.txt"]


# ---------------------------------------------------------------------------- coverage


def test_coverage_exact_lowercase_and_lookup_chain(tiny, tmp_path, write_file):
    data = write_file(tmp_path / "d.conll", "The O\nKING B-PER\nmet O\nthe O\n\nQueen B-PER\nin O\n1996 O\nmet O\n")
    result = run("coverage", tiny, data, "--format", "json")
    ok(result)
    report = json.loads(result.stdout)
    assert (report["tokens"], report["types"]) == (8, 7)
    covered = report["covered"]
    assert (covered["exact"]["tokens"], covered["exact"]["types"]) == (1, 1)  # the
    assert (covered["lowercase"]["tokens"], covered["lowercase"]["types"]) == (4, 4)  # + The, KING, Queen
    assert (covered["chain"]["tokens"], covered["chain"]["types"]) == (5, 5)  # + 1996 -> 0000
    assert covered["chain"]["token_ratio"] == pytest.approx(5 / 8)
    assert report["uncovered"] == [["met", 2], ["in", 1]] and report["subwords"] is False
    table = run("coverage", tiny, data, "--top", "1")
    ok(table)
    assert "8 tokens, 7 types" in table.stdout and "62.50% (5)" in table.stdout and "met" in table.stdout
    assert "in " not in table.stdout.split("without a vector")[1]


def test_coverage_reads_classification_files_without_their_labels(tiny, tmp_path, write_file):
    data = write_file(tmp_path / "cls.tsv", "label\ttext\npos\tThe king\nneg\tthe pear , the apple\n")
    report = json.loads(run("coverage", tiny, data, "--format", "json").stdout)
    assert report["tokens"] == 7 and report["covered"]["chain"]["tokens"] == 6  # "," has no vector
    report = json.loads(run("coverage", tiny, data, "--input-format", "tokenized", "--format", "json").stdout)
    assert report["tokens"] == 11  # read as plain lines, the header and labels count too


def test_coverage_errors(tiny, tmp_path, write_file):
    bad = write_file(tmp_path / "bad.conll", "a O\nb O X\n")
    user_error(run("coverage", tiny, bad), "bad.conll:2:", "expected 2 columns")


# ---------------------------------------------------------------------------- start-up


def test_the_cli_imports_no_heavy_library(repo_root):
    code = "import sys, seqtag.cli; print(sorted({'gensim', 'sklearn', 'matplotlib', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root, check=True).stdout
    assert out.strip() == "[]"
