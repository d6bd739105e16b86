"""Scale-out figures of issue 9: training with 1 vs 2 processes (torchrun, DistributedDataParallel over
gloo) and tagging with 1 vs 2 worker processes, on CoNLL-2003; CUDA rows when a GPU is present.

    python bench/scaling.py                 # both model sizes, training and tagging
    python bench/scaling.py --sizes default --skip-tag

Training: one epoch of `seqtag train --epochs 1` on CoNLL-2003 train (14,041 sentences, GloVe 6B 50d), at
the default size and at flair's size (`--hidden 256 --char-encoder lstm`); one process with torch's
default threads (2 here) against `--nproc 2` (two processes, one thread each, the same global batches
of 32). Seconds per epoch come from the model file's history (training pass only, no dev scoring); dev
F1 after that one epoch shows the two runs learn alike. Tagging: `seqtag predict --input-format conll`
on the CoNLL-2003 test set repeated 10 times (34,530 sentences), whole process, `--workers 1` vs 2,
with the 1-process models. Prints a table, writes bench/results/scaling.json. Run it on an
otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, SHARED, require_shared, write_results  # noqa: E402
from speed import repeated_conll  # noqa: E402

SIZES = {"default": [], "flair": ["--hidden", "256", "--char-encoder", "lstm"]}
TRAIN_SENTENCES = 14_041
TAG_SENTENCES = 34_530


def run(args: list[str], env: dict | None = None) -> float:
    """Wall seconds of `python -m seqtag ARGS` (stdout discarded, stderr kept for the log)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seqtag", *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - start


def train_row(size: str, procs: int, device: str, model: Path) -> dict:
    conll = SHARED / "ner" / "conll2003"
    args = ["train", "--train", str(conll / "train.txt"), "--dev", str(conll / "valid.txt"),
            "--embeddings", str(SHARED / "vectors" / "glove.6B.50d.txt.gz"), "--epochs", "1",
            "--device", device, "-o", str(model), *SIZES[size]]
    if procs > 1:
        args += ["--nproc", str(procs)]
    wall = run(args)
    sys.path.insert(0, str(ROOT))
    from seqtag import load_model

    epoch = load_model(model).meta["history"][0]
    return {
        "kind": "train", "size": size, "device": device, "processes": procs, "wall_s": round(wall, 1),
        "epoch_s": round(epoch["seconds"], 1), "sentences_per_s": round(TRAIN_SENTENCES / epoch["seconds"]),
        "dev_f1_after_1_epoch": round(100 * epoch["dev"]["f1"], 2),
    }


def tag_row(size: str, model: Path, data: Path, workers: int, device: str) -> dict:
    wall = run(["predict", str(model), str(data), "--input-format", "conll", "--workers", str(workers),
                "--device", device])
    return {"kind": "tag", "size": size, "device": device, "processes": workers, "wall_s": round(wall, 1),
            "sentences_per_s": round(TAG_SENTENCES / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="default,flair", help="comma-separated: default, flair (default: both)")
    parser.add_argument("--skip-train", action="store_true", help="only the tagging rows (on the models kept in --keep DIR)")
    parser.add_argument("--skip-tag", action="store_true", help="only the training rows")
    parser.add_argument("--keep", type=Path, help="keep the trained models in this directory (SIZE-DEVICE-PROCS.seqtag)")
    options = parser.parse_args()
    require_shared()
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpus = torch.cuda.device_count()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = options.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = options.sizes.split(",")
        if not options.skip_train:
            for size in sizes:
                for device in devices:
                    for procs in ([1, 2] if device == "cpu" else sorted({1, gpus})):
                        rows.append(train_row(size, procs, device, folder / f"{size}-{device}-{procs}.seqtag"))
                        print(json.dumps(rows[-1]), file=sys.stderr)
        if not options.skip_tag:
            data = folder / "test-x10.txt"
            repeated_conll(SHARED / "ner" / "conll2003" / "test.txt", TAG_SENTENCES, data)
            for size in sizes:
                model = folder / f"{size}-cpu-1.seqtag"  # tagging speed does not depend on how it was trained
                if not model.exists():
                    raise SystemExit(f"{model} is missing: the tagging rows use the 1-process training runs' models")
                for device in devices:
                    for workers in ([1, 2] if device == "cpu" else [1]):
                        rows.append(tag_row(size, model, data, workers, device))
                        print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"{'what':<6} {'size':<8} {'device':<6} {'procs':>5} {'s/epoch':>8} {'sent/s':>8} {'dev F1':>7} {'wall s':>7}")
    for row in rows:
        print(f"{row['kind']:<6} {row['size']:<8} {row['device']:<6} {row['processes']:>5} {row.get('epoch_s', '-'):>8} "
              f"{row['sentences_per_s']:>8} {row.get('dev_f1_after_1_epoch', '-'):>7} {row['wall_s']:>7}")
    path = write_results("scaling", {"command": "python " + " ".join(sys.argv), "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
