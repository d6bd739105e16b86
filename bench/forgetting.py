"""Continued training (`seqtag train --init-from`, issue 18): how much a tagger forgets of the entity types it
knew when it goes on training on new data, with and without rehearsal of the old data.

CoNLL-2003's training sentences are split in two halves. Stage 1 trains on half A annotated with two of the
four types only (PER and LOC; ORG and MISC become O). Stage 2 continues that model on the first --new
sentences of half B, annotated with all four types, three ways: plainly (`--init-from`), with half A mixed
in (`--rehearse`), and, for reference, from scratch on the same new sentences. Every model is scored per
type on the CoNLL-2003 test set.

    python bench/forgetting.py                     # the figures of docs/beyond.md
    python bench/forgetting.py --hidden 50 --epochs 2 --new 1000 --limit 4000   # a quick look
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import SHARED, conll_sentences, require_shared, write_results  # noqa: E402

OLD_TYPES = ("PER", "LOC")
TYPES = ("PER", "LOC", "ORG", "MISC")


def sentences(path: Path) -> list[list[tuple[str, str]]]:
    """(token, tag) rows of each sentence of a CoNLL file (first and last column), -DOCSTART- dropped."""
    return [[(row[0], row[-1]) for row in rows] for rows in conll_sentences(path)]


def keep_types(sentence: list[tuple[str, str]], kept: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(token, tag if tag == "O" or tag[2:] in kept else "O") for token, tag in sentence]


def write(path: Path, data: list[list[tuple[str, str]]]) -> Path:
    path.write_text("".join("".join(f"{t} {g}\n" for t, g in s) + "\n" for s in data), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5, help="stage 1 epochs (stage 2: --epochs2)")
    parser.add_argument("--epochs2", type=int, default=3)
    parser.add_argument("--new", type=int, default=2000, help="sentences of stage 2 (from half B)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training sentences (0 = all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the models in this folder")
    args = parser.parse_args()
    require_shared()
    import seqtag

    corpus = SHARED / "ner" / "conll2003"
    vectors = SHARED / "vectors" / "glove.6B.50d.txt.gz"
    train = sentences(corpus / "train.txt")
    if args.limit:
        train = train[: args.limit]
    half_a, half_b = train[0::2], train[1::2]
    settings = dict(hidden=args.hidden, seed=args.seed)
    results: dict = {"settings": vars(args), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = write(folder / "old.txt", [keep_types(s, OLD_TYPES) for s in half_a])
        new = write(folder / "new.txt", half_b[: args.new])
        old_dev = write(folder / "old-dev.txt", [keep_types(s, OLD_TYPES) for s in sentences(corpus / "valid.txt")])
        dev = write(folder / "dev.txt", sentences(corpus / "valid.txt"))
        old_test = write(folder / "old-test.txt", [keep_types(s, OLD_TYPES) for s in sentences(corpus / "test.txt")])
        test = write(folder / "test.txt", sentences(corpus / "test.txt"))

        def record(name: str, model: Path, seconds: float, data: Path) -> None:
            scores = seqtag.evaluate(str(model), str(data)).report
            per_type = {kind: round(100 * scores["per_type"][kind]["f1"], 2) for kind in TYPES if kind in scores["per_type"]}
            results["runs"][name] = {"f1": per_type, "seconds": round(seconds, 1)}
            print(f"{name:<22} " + " ".join(f"{kind} {per_type.get(kind, float('nan')):6.2f}" for kind in TYPES)
                  + f"  ({seconds:.0f} s)", flush=True)

        started = time.perf_counter()
        first = folder / "old.seqtag"
        seqtag.train(old, old_dev, embeddings=vectors, output=first, epochs=args.epochs, **settings)
        record(f"before: {'+'.join(OLD_TYPES)} only", first, time.perf_counter() - started, old_test)
        for name, extra in (("after, no rehearsal", {}), ("after, rehearsal", {"rehearse": old})):
            started = time.perf_counter()
            output = folder / f"{name.replace(' ', '').replace(',', '')}.seqtag"
            seqtag.train(new, dev, init_from=first, output=output, epochs=args.epochs2, seed=args.seed, **extra)
            record(name, output, time.perf_counter() - started, test)
        started = time.perf_counter()
        scratch = folder / "scratch.seqtag"
        seqtag.train(new, dev, embeddings=vectors, output=scratch, epochs=args.epochs2, **settings)
        record("new data, from scratch", scratch, time.perf_counter() - started, test)
        if args.keep is not None:
            import shutil

            args.keep.mkdir(parents=True, exist_ok=True)
            for model in folder.glob("*.seqtag"):
                shutil.copy(model, args.keep / model.name)
    results["settings"]["keep"] = str(args.keep) if args.keep else None
    results["sentences"] = {"stage1": len(half_a), "stage2": min(args.new, len(half_b))}
    print(f"wrote {write_results('forgetting', results)}")


if __name__ == "__main__":
    main()
