"""Word vectors on WordSim-353, SimLex-999 and the Google analogy set (issue 6):

    python bench/embeddings.py

1. GloVe 6B 50d (../shared/data/vectors/glove.6B.50d.txt.gz) as distributed.
2. word2vec skip-gram trained with `seqtag embeddings train` on a corpus built from the shared data's
   text: every sentence of CoNLL-2003 train, UD English-EWT train, SST-2 train and CoNLL-2000 train
   (token columns; SST-2 without its labels), lowercased, one sentence per line.

Both are scored by `seqtag embeddings evaluate` (gensim; the 300,000 most frequent words; pairs and
questions with unknown words are left out and counted as OOV). Prints a table and writes
bench/results/embeddings.json. About 5 minutes on 2 cores, most of it GloVe's 19,544 analogy questions.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, SHARED, require_shared, seqtag, write_results  # noqa: E402

sys.path.insert(0, str(ROOT))  # the corpus is read with seqtag's own readers, installed or not

GLOVE = "vectors/glove.6B.50d.txt.gz"
CORPUS = (  # relative to ../shared/data; formats as `seqtag.vectors.corpus.read_tokens` detects them
    "ner/conll2003/train.txt",
    "pos/ud_ewt/en_ewt-ud-train.conllu",
    "cls/sst2/stsa.binary.train",
    "chunk/conll2000/train.txt",
)
TRAIN_OPTIONS = [  # word2vec's defaults (negative 5, window 5, min count 5) but for size and epochs
    "--tokenized", "--lowercase", "--algorithm", "skipgram", "--dim", "100", "--epochs", "10", "--workers", "2", "--seed", "1",
]
BENCHMARKS = {"wordsim": "vectors/wordsim353.tsv", "simlex": "vectors/simlex999.txt", "analogies": "vectors/questions-words.txt"}


def build_corpus(path: Path) -> dict:
    """Write the corpus (tokens, one sentence per line); return its size per source."""
    from seqtag.vectors.corpus import read_tokens

    sizes = {}
    with open(path, "w", encoding="utf-8") as out:
        for name in CORPUS:
            sentences = tokens = 0
            for sentence in read_tokens(SHARED / name):
                out.write(" ".join(sentence) + "\n")
                sentences += 1
                tokens += len(sentence)
            sizes[name] = {"sentences": sentences, "tokens": tokens}
    return sizes


def evaluate(vectors: Path, folder: Path) -> tuple[dict, float]:
    options = [arg for flag, name in BENCHMARKS.items() for arg in (f"--{flag}", str(SHARED / name))]
    out = folder / "report.json"
    with open(out, "w") as handle:
        seconds = seqtag("embeddings", "evaluate", str(vectors), *options, "--format", "json", stdout=handle)
    return json.loads(out.read_text()), seconds


def row(name: str, report: dict) -> str:
    similarity, analogies = report["similarity"], report["analogies"]
    cells = [
        f"{similarity[key]['spearman']:.3f} ({100 * similarity[key]['oov_ratio']:.1f}%)" for key in ("wordsim353", "simlex999")
    ]
    cells.append(
        f"{100 * analogies['accuracy']:.2f} / {100 * analogies['accuracy_all']:.2f} ({100 * analogies['oov_ratio']:.1f}%)"
    )
    return f"{name:<30} {report['words']:>9,} " + " ".join(f"{cell:>18}" for cell in cells[:2]) + f" {cells[2]:>26}"


def main() -> None:
    require_shared()
    results: dict = {"benchmarks": BENCHMARKS, "restrict_vocab": 300_000}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        glove, seconds = evaluate(SHARED / GLOVE, folder)
        results["glove"] = {"vectors": GLOVE, "evaluate_seconds": seconds, **glove}

        corpus = folder / "corpus.txt"
        sizes = build_corpus(corpus)
        vectors = folder / "word2vec.kv"
        train_seconds = seqtag("embeddings", "train", str(corpus), "--output", str(vectors), *TRAIN_OPTIONS)
        trained, seconds = evaluate(vectors, folder)
        results["word2vec"] = {
            "corpus": sizes,
            "corpus_tokens": sum(s["tokens"] for s in sizes.values()),
            "corpus_sentences": sum(s["sentences"] for s in sizes.values()),
            "train_options": TRAIN_OPTIONS,
            "train_seconds": train_seconds,
            "evaluate_seconds": seconds,
            **trained,
        }
    path = write_results("embeddings", results)
    print(f"{'vectors':<30} {'words':>9} {'WS-353 ρ (OOV)':>18} {'SimLex ρ (OOV)':>18} {'analogy % answered/all (OOV)':>26}")
    print(row("GloVe 6B 50d", results["glove"]))
    w2v = results["word2vec"]
    print(row(f"word2vec SG 100d, {w2v['corpus_tokens'] / 1e6:.2f}M tokens", w2v))
    print(f"wrote {path}; word2vec trained in {w2v['train_seconds']:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s", file=sys.stderr)
