"""Finding label errors (`seqtag data check --find-label-errors`, issue 18): plant 5 % random label errors in
CoNLL-2003 train (entity type swaps and boundary shifts) and in SST-2 train (flipped labels), run the
cross-validated finder, and score its ranked list against the planted errors: precision and recall of the
top N (N = the number planted) and of the whole list, and how long it took.

The original data has errors of its own, so a "false" hit may be a real error: precision is a lower bound.

    python bench/label_errors.py                         # both data sets, the figures of docs/beyond.md
    python bench/label_errors.py sst2 --folds 3 --epochs 2   # a quick look
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import SHARED, conll_sentences, require_shared, write_results  # noqa: E402

SHARE = 0.05  # of the entities (CoNLL) or texts (SST-2) given a wrong label


def conll(path: Path, limit: int) -> list[list[list[str]]]:
    out = [[[row[0], row[-1]] for row in rows] for rows in conll_sentences(path)]
    return out[:limit] if limit else out


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    found, start = [], None
    for i, tag in enumerate(tags + ["O"]):
        if start is not None and not tag.startswith("I-"):
            found.append((tags[start][2:], start, i))
            start = None
        if tag.startswith("B-"):
            start = i
    return found


def plant_conll(sentences: list[list[list[str]]], rng: random.Random) -> tuple[str, set[int]]:
    """The corrupted file's text and the lines where a planted error starts (a swapped type, or an entity one
    token longer or shorter: the line of its first token either way)."""
    spans = [(n, span) for n, s in enumerate(sentences) for span in entities([row[1] for row in s])]
    chosen = rng.sample(spans, round(SHARE * len(spans)))
    planted_at: dict[int, list[tuple[str, int, int]]] = {}
    for n, span in chosen:
        planted_at.setdefault(n, []).append(span)
    lines, planted, line = [], set(), 1
    for n, sentence in enumerate(sentences):
        tags = [row[1] for row in sentence]
        for kind, start, end in planted_at.get(n, []):
            if tags[start] != f"B-{kind}":  # an earlier change in this sentence took it over
                continue
            if rng.random() < 0.5:  # type swap
                other = rng.choice([k for k in ("PER", "LOC", "ORG", "MISC") if k != kind])
                tags[start:end] = [f"B-{other}"] + [f"I-{other}"] * (end - start - 1)
            elif end < len(tags) and tags[end] == "O" and (end - start == 1 or rng.random() < 0.5):
                tags[end] = f"I-{kind}"  # one token longer
            elif end - start > 1:
                tags[end - 1] = "O"  # one token shorter
            else:
                continue
            planted.add(line + start)
        for row, tag in zip(sentence, tags):
            lines.append(f"{row[0]} {tag}")
        lines.append("")
        line += len(sentence) + 1
    return "\n".join(lines) + "\n", planted


def plant_sst2(path: Path, rng: random.Random) -> tuple[str, set[int]]:
    rows = path.read_text(encoding="utf-8").splitlines()
    flipped = set(rng.sample(range(len(rows)), round(SHARE * len(rows))))
    out = [("1" if row[0] == "0" else "0") + row[1:] if i in flipped else row for i, row in enumerate(rows)]
    return "\n".join(out) + "\n", {i + 1 for i in flipped}


def score(issues: list[dict], planted: set[int], tolerance: int) -> dict:
    """Precision and recall of the top N (N = planted) and of the whole list. A tagging issue counts for a
    planted error when it points within ``tolerance`` lines of the planted entity's first token."""

    def near(line: int) -> set[int]:
        return {p for p in planted if abs(line - p) <= tolerance}

    flagged = [issue["line"] for issue in issues]
    top = flagged[: len(planted)]
    return {
        "planted": len(planted), "flagged": len(flagged),
        "top_n_precision": round(sum(bool(near(line)) for line in top) / max(len(top), 1), 3),
        "top_n_recall": round(len(set().union(*map(near, top))) / len(planted), 3),
        "all_precision": round(sum(bool(near(line)) for line in flagged) / max(len(flagged), 1), 3),
        "all_recall": round(len(set().union(*map(near, flagged))) / len(planted), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="*", help="conll2003 and / or sst2 (default: both)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--limit", type=int, default=5000, help="CoNLL-2003: the first N training sentences (0 = all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.data = args.data or ["conll2003", "sst2"]
    if set(args.data) - {"conll2003", "sst2"}:
        parser.error(f"unknown data set {sorted(set(args.data) - {'conll2003', 'sst2'})}; conll2003 or sst2")
    require_shared()
    from seqtag.tools.datacheck import find_label_errors

    vectors = SHARED / "vectors" / "glove.6B.50d.txt.gz"
    rng = random.Random(args.seed)
    results: dict = {"settings": vars(args), "data": {}}
    for name in args.data:
        with tempfile.TemporaryDirectory() as tmp:
            if name == "conll2003":
                text, planted = plant_conll(conll(SHARED / "ner" / "conll2003" / "train.txt", args.limit), rng)
                path = Path(tmp) / "train.txt"
            else:
                text, planted = plant_sst2(SHARED / "cls" / "sst2" / "stsa.binary.train", rng)
                path = Path(tmp) / "train.txt"
            path.write_text(text, encoding="utf-8")
            settings = {"hidden": args.hidden, "epochs": args.epochs, "seed": args.seed}
            if name == "sst2":
                settings |= {"input_format": "label-space", "char_encoder": "none"}
            found = find_label_errors(path, folds=args.folds, settings=settings, embeddings=vectors,
                                      log=lambda message: print(f"  {name}: {message}", flush=True))
            scores = score(found["issues"], planted, 2 if name == "conll2003" else 0)
            scores["seconds"] = round(found["seconds"])
            scores["records"] = found["records"]
            results["data"][name] = scores
            print(f"{name}: {scores}", flush=True)
    print(f"wrote {write_results('label_errors', results)}")


if __name__ == "__main__":
    main()
