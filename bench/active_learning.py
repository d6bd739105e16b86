"""Active learning on CoNLL-2003: does `seqtag select` pick sentences worth more than random ones?

Both arms start from the same random START training sentences. Each round adds STEP sentences: the random
arm the next ones of a fixed shuffle of the rest of train, the selected arm the STEP sentences of the rest
that the model of the previous round is least sure of (`seqtag.tools.select`, the library side of
`seqtag select`; its gold tags play the annotator). After every round a fresh model is trained on the
sentences so far (same settings, same seed) and its best dev F1 (valid.txt, early stopping) is recorded.

    python bench/active_learning.py                      # the documented run (minutes; writes the JSON and PNG)
    python bench/active_learning.py --tiny               # a check that it runs (seconds, meaningless numbers)

Results: bench/results/active_learning.json and docs/active_learning.png (docs/annotation.md).
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def read(path: Path, limit: int | None = None) -> list:
    from seqtag.formats.columns import read_columns

    sentences = []
    for sentence in read_columns(path):
        sentences.append(sentence)
        if limit is not None and len(sentences) >= limit:
            break
    return sentences


def write(sentences: list, path: Path) -> Path:
    path.write_text("".join("".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags)) + "\n" for s in sentences),
                    encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "ner" / "conll2003")
    parser.add_argument("--vectors", type=Path, default=SHARED / "vectors" / "glove.6B.50d.txt.gz")
    parser.add_argument("--start", type=int, default=500)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--strategy", default="entropy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--char-encoder", default="cnn")
    parser.add_argument("--keep-vectors", type=int, default=50_000)
    parser.add_argument("--tiny", action="store_true", help="40 + 20 sentences x 2 rounds, 1 epoch, 200 dev sentences")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "active_learning.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "active_learning.png")
    args = parser.parse_args()
    if args.tiny:
        args.start, args.step, args.rounds, args.epochs, args.hidden = 40, 20, 2, 1, 16
        args.char_encoder, args.keep_vectors = "none", 0
        args.json = Path(tempfile.gettempdir()) / "active_learning_tiny.json"
        args.plot = Path(tempfile.gettempdir()) / "active_learning_tiny.png"
    if not (args.data / "train.txt").exists():
        sys.exit(f"no CoNLL-2003 at {args.data} (../shared/data/ner/conll2003); nothing to measure")

    import torch

    import seqtag
    from seqtag.tools.select import select

    torch.set_num_threads(max(1, torch.get_num_threads()))
    train = read(args.data / "train.txt", 2000 if args.tiny else None)
    dev = read(args.data / "valid.txt", 200 if args.tiny else None)
    vectors = args.vectors if args.vectors.exists() and not args.tiny else None
    settings = dict(hidden=args.hidden, char_encoder=args.char_encoder, epochs=args.epochs, patience=args.patience,
                    seed=args.seed, keep_vectors=args.keep_vectors)
    order = list(range(len(train)))
    random.Random(args.seed).shuffle(order)
    start = order[: args.start]
    work = Path(tempfile.mkdtemp(prefix="active-learning-"))
    dev_path = write(dev, work / "dev.txt")

    def fit(indexes: list[int], name: str):
        began = time.perf_counter()
        result = seqtag.train(write([train[i] for i in indexes], work / f"{name}.txt"), dev_path, embeddings=vectors,
                              **settings)
        return result, time.perf_counter() - began

    began = time.perf_counter()
    first, seconds = fit(start, "start")
    f1 = first.dev_scores.get("f1", 0.0)
    curves = {
        "random": [{"sentences": len(start), "f1": f1, "tokens": sum(len(train[i]) for i in start), "train_s": seconds}],
        "selected": [{"sentences": len(start), "f1": f1, "tokens": sum(len(train[i]) for i in start), "train_s": seconds}],
    }
    print(f"round 0: {len(start)} sentences, dev F1 {100 * f1:.2f} ({seconds:.0f} s)", file=sys.stderr)
    random_set, random_rest = list(start), order[args.start :]
    chosen_set, model = list(start), first.model
    chosen_rest = set(order[args.start :])
    for round_ in range(1, args.rounds + 1):
        random_set += random_rest[: args.step]
        random_rest = random_rest[args.step :]
        pool = sorted(chosen_rest)
        picked_at = time.perf_counter()
        picked = select(model, [train[i] for i in pool], args.step, args.strategy)
        select_s = time.perf_counter() - picked_at
        index_of = {id(train[i]): i for i in pool}
        new = [index_of[id(item)] for s in picked.chosen for item in s.items]
        chosen_set += new
        chosen_rest -= set(new)
        for arm, indexes in (("random", random_set), ("selected", chosen_set)):
            result, seconds = fit(indexes, f"{arm}-{round_}")
            entry = {"sentences": len(indexes), "f1": result.dev_scores.get("f1", 0.0),
                     "tokens": sum(len(train[i]) for i in indexes), "train_s": seconds}
            if arm == "selected":
                entry["select_s"] = select_s
                model = result.model
            curves[arm].append(entry)
            print(f"round {round_} {arm}: {len(indexes)} sentences ({entry['tokens']:,} tokens), dev F1 "
                  f"{100 * entry['f1']:.2f} ({seconds:.0f} s)", file=sys.stderr)
    wall = time.perf_counter() - began
    final = curves["random"][-1]["f1"]
    reached = next((p["sentences"] for p in curves["selected"] if p["f1"] >= final), None)
    report = {
        "command": "python bench/active_learning.py" + (" --tiny" if args.tiny else ""),
        "settings": {**settings, "start": args.start, "step": args.step, "rounds": args.rounds, "strategy": args.strategy,
                     "embeddings": str(vectors.name) if vectors else None, "dev_sentences": len(dev)},
        "curves": curves,
        "selected_reaches_random_final_at": reached,
        "sentences_saved": None if reached is None else curves["random"][-1]["sentences"] - reached,
        "wall_s": round(wall, 1),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
                   f"torch {torch.__version__}, Python {platform.python_version()}",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot(curves, args.plot, report)
    print(f"{'sentences':>9} {'random F1':>10} {'selected F1':>12}")
    for r, s in zip(curves["random"], curves["selected"]):
        print(f"{r['sentences']:>9} {100 * r['f1']:>10.2f} {100 * s['f1']:>12.2f}")
    print(f"wall time {wall:.0f} s; selection reaches random's final F1 at {reached} sentences")


def plot(curves: dict, path: Path, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for arm, style in (("random", "o--"), ("selected", "s-")):
        xs = [p["sentences"] for p in curves[arm]]
        ax.plot(xs, [100 * p["f1"] for p in curves[arm]], style, label=arm if arm == "random" else
                f"selected ({report['settings']['strategy']})")
    ax.set_xlabel("annotated training sentences")
    ax.set_ylabel("dev F1 (CoNLL-2003 valid)")
    ax.set_title("Active learning: seqtag select vs random sentences")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    main()
