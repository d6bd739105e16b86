"""CoNLL-2003 NER with seqtag's default settings (issue 2's figure): test F1, epoch times, model size.

    python bench/tagger_conll2003.py [--seed 1] [extra `seqtag train` options …]

Trains on train.txt with early stopping on valid.txt (GloVe 6B 50d), evaluates once on test.txt, prints a
table and writes bench/results/tagger_conll2003.json. About 10-20 minutes on 2 cores.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import SHARED, require_shared, seqtag, write_results  # noqa: E402


def main(extra: list[str]) -> None:
    require_shared()
    data = SHARED / "ner" / "conll2003"
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "conll.seqtag"
        train_seconds = seqtag(
            "train", "--train", str(data / "train.txt"), "--dev", str(data / "valid.txt"),
            "--embeddings", str(SHARED / "vectors" / "glove.6B.50d.txt.gz"), "--output", str(model), *extra,
        )
        report_file = Path(tmp) / "report.json"
        with open(report_file, "w") as out:
            seqtag("evaluate", str(model), str(data / "test.txt"), "--format", "json", stdout=out)
        report = json.loads(report_file.read_text())
        with open(report_file, "w") as out:
            seqtag("info", str(model), "--format", "json", stdout=out)
        info = json.loads(report_file.read_text())
        size_mb = model.stat().st_size / 1e6
        import torch

        history = torch.load(model, weights_only=True)["meta"]["history"]
    epoch_seconds = [e["seconds"] for e in history]
    result = {
        "command": "seqtag train (defaults) + seqtag evaluate on test.txt",
        "extra_options": extra,
        "test_f1": report["micro"]["f1"],
        "test_precision": report["micro"]["precision"],
        "test_recall": report["micro"]["recall"],
        "test_per_type_f1": {k: v["f1"] for k, v in report["per_type"].items()},
        "best_dev": info["dev_scores"],
        "best_epoch": info["best_epoch"],
        "epochs_run": len(history),
        "epoch_seconds_median": statistics.median(epoch_seconds),
        "sentences_per_second": statistics.median(e["sentences"] / e["seconds"] for e in history),
        "train_wall_seconds": train_seconds,
        "model_mb": size_mb,
    }
    path = write_results("tagger_conll2003", result)
    rows = [
        ("test F1", f"{100 * result['test_f1']:.2f}"),
        ("test P / R", f"{100 * result['test_precision']:.2f} / {100 * result['test_recall']:.2f}"),
        ("best dev F1 (epoch)", f"{100 * info['dev_scores']['f1']:.2f} ({result['best_epoch']} of {result['epochs_run']})"),
        ("median epoch", f"{result['epoch_seconds_median']:.1f} s ({result['sentences_per_second']:.0f} sentences/s)"),
        ("whole run", f"{train_seconds / 60:.1f} min"),
        ("model file", f"{size_mb:.1f} MB"),
    ]
    for name, value in rows:
        print(f"{name:<22} {value}")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
