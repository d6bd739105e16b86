"""seqtag's default settings on a shared data set: train once, evaluate on test once.

    python bench/defaults.py conll2003 [extra `seqtag train` options …]   # NER, test F1 (issue 2)
    python bench/defaults.py sst2 [extra options …]                       # SST-2, test accuracy (issue 3)

Early stopping on the dev split, GloVe 6B 50d. Prints a table and writes bench/results/defaults_<name>.json.
CoNLL-2003 takes 10-20 minutes on 2 cores, SST-2 about 4.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import SHARED, require_shared, seqtag, write_results  # noqa: E402

DATASETS = {  # name: (train, dev, test), relative to ../shared/data
    "conll2003": ("ner/conll2003/train.txt", "ner/conll2003/valid.txt", "ner/conll2003/test.txt"),
    "sst2": ("cls/sst2/stsa.binary.train", "cls/sst2/stsa.binary.dev", "cls/sst2/stsa.binary.test"),
}


def run(name: str, extra: list[str]) -> dict:
    train, dev, test = (SHARED / part for part in DATASETS[name])
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.seqtag"
        wall = seqtag(
            "train", "--train", str(train), "--dev", str(dev),
            "--embeddings", str(SHARED / "vectors" / "glove.6B.50d.txt.gz"), "--output", str(model), *extra,
        )
        out = Path(tmp) / "out.json"
        with open(out, "w") as handle:
            seqtag("evaluate", str(model), str(test), "--format", "json", stdout=handle)
        report = json.loads(out.read_text())
        with open(out, "w") as handle:
            seqtag("info", str(model), "--format", "json", stdout=handle)
        info = json.loads(out.read_text())
        import torch

        history = torch.load(model, weights_only=True)["meta"]["history"]
        size_mb = model.stat().st_size / 1e6
    return {
        "data": name,
        "extra_options": extra,
        "test_score": report["score"],  # micro F1 for taggers, accuracy for classifiers
        "test_micro": report["micro"],
        "best_dev": info["dev_scores"],
        "best_epoch": info["best_epoch"],
        "epochs_run": len(history),
        "epoch_seconds_median": statistics.median(e["seconds"] for e in history),
        "examples_per_second": statistics.median(e["sentences"] / e["seconds"] for e in history),
        "train_wall_seconds": wall,
        "model_mb": size_mb,
    }


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in DATASETS:
        raise SystemExit(f"usage: python bench/defaults.py {{{','.join(DATASETS)}}} [seqtag train options]")
    require_shared()
    result = run(argv[0], argv[1:])
    path = write_results(f"defaults_{argv[0]}", result)
    rows = [
        ("test score", f"{100 * result['test_score']:.2f}"),
        ("best dev score (epoch)", f"{100 * result['best_dev']['score']:.2f} ({result['best_epoch']} of {result['epochs_run']})"),
        ("median epoch", f"{result['epoch_seconds_median']:.1f} s ({result['examples_per_second']:.0f} examples/s)"),
        ("whole training run", f"{result['train_wall_seconds'] / 60:.1f} min"),
        ("model file", f"{result['model_mb']:.1f} MB"),
    ]
    for label, value in rows:
        print(f"{label:<24} {value}")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
