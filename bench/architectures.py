"""The architecture zoo of issue 10, measured: one table on CoNLL-2003 NER and UD EWT UPOS, and the gradient plot.

    python bench/architectures.py --jobs 2                 # everything (two runs at a time, one torch thread each)
    python bench/architectures.py ud_ewt --variants rnn,irnn,gru,lstm
    python bench/architectures.py --limit-sentences 200 --epochs 1 --jobs 2   # smoke test, separate result files

Each variant is `seqtag train` with otherwise default settings (GloVe 6B 50d, char CNN, 200 units, CRF,
dropout 0.5, Adam) under one fixed budget: at most 8 epochs (`--epochs 8 --patience 3`, early stopping on
dev), instead of the defaults' 50, so all 26 runs fit on the 2-core machine. Scores are therefore below what
each architecture reaches when trained to convergence; the comparison is at equal budget. Then, per run:
- test score: `seqtag evaluate` on the test split (entity F1 for CoNLL-2003, accuracy for UD EWT);
- parameters: the model file's state_dict without the word vectors (neither the trainable nor the frozen rows);
- seconds per epoch: the median over the run's epochs (training pass only);
- tagging sentences/s: `seqtag predict --input-format conll(u)` on the test file repeated 10 times (so the
  2 s start-up is a small part), whole process;
- for recurrent variants, the trained model's gradient share 10 and 20 steps back
  (`seqtag diagnose gradients MODEL test`, sentences of 30+ tokens).
With `--jobs 2` the two runs share the machine, so the speed columns compare variants with each other, not
with bench/speed.py. Finally `seqtag diagnose gradients` on untrained RNN / IRNN / GRU / LSTM networks over UD
EWT training sentences draws docs/gradients.png (bench/results/gradients.json holds the numbers).

Results accumulate in bench/results/architectures.json (a run already there is not repeated, so an interrupted
benchmark continues where it stopped) and bench/results/architectures.md holds the tables. With
--limit-sentences N the first N training sentences stand in for all three splits (a smoke test of the
pipeline, not a measurement) and the result files are named *_limitN.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import RESULTS, ROOT, SHARED, machine, require_shared, seqtag  # noqa: E402
from accuracy import DATASETS as ALL_DATASETS, GLOVE  # noqa: E402

DATASETS = {name: ALL_DATASETS[name] for name in ("conll2003", "ud_ewt")}
VARIANTS = {  # name: (what it is, extra `seqtag train` options)
    "lstm": ("BiLSTM-CRF, char CNN (the defaults)", []),
    "window": ("window MLP, ±2 words, 1 tanh layer", ["--encoder", "window"]),
    "rnn": ("BiRNN (tanh)", ["--cell", "rnn"]),
    "irnn": ("BiIRNN (ReLU, identity init)", ["--cell", "rnn", "--activation", "relu", "--identity-init"]),
    "gru": ("BiGRU", ["--cell", "gru"]),
    "uni-rnn": ("RNN (tanh), unidirectional", ["--cell", "rnn", "--no-bidirectional"]),
    "uni-irnn": ("IRNN, unidirectional", ["--cell", "rnn", "--activation", "relu", "--identity-init", "--no-bidirectional"]),
    "uni-gru": ("GRU, unidirectional", ["--cell", "gru", "--no-bidirectional"]),
    "uni-lstm": ("LSTM, unidirectional", ["--no-bidirectional"]),
    "lstm-2layers": ("BiLSTM-CRF, 2 layers", ["--layers", "2"]),
    "softmax": ("BiLSTM, softmax head", ["--head", "softmax"]),
    "char-none": ("BiLSTM-CRF, no char encoder", ["--char-encoder", "none"]),
    "char-lstm": ("BiLSTM-CRF, char BiLSTM", ["--char-encoder", "lstm"]),
}
PREDICT_COPIES = 10  # the test file is tagged this many times over for the speed figure
GRADIENT_CELLS = ("rnn", "irnn", "gru", "lstm")
GRADIENT_DISTANCES = (10, 20)  # recorded for trained recurrent models (of a 30-step curve)


def limited(source: Path, limit: int, dest: Path) -> Path:
    """The first ``limit`` blank-line-separated blocks (sentences) of a CoNLL / CoNLL-U file."""
    blocks = source.read_text(encoding="utf-8").strip("\n").split("\n\n")
    dest.write_text("\n\n".join(blocks[:limit]) + "\n\n", encoding="utf-8")
    return dest


def sentence_count(path: Path) -> int:
    blocks = path.read_text(encoding="utf-8").strip("\n").split("\n\n")
    return sum(1 for block in blocks if not block.startswith("-DOCSTART-"))


def split_files(name: str, limit: int, folder: Path) -> tuple[Path, Path, Path]:
    """Train, dev and test of a data set. With ``limit``, the first ``limit`` training sentences serve as all
    three: a pipeline check, where a cut test split could hold tags the cut training split never shows."""
    train_rel, dev_rel, test_rel, _ = DATASETS[name]
    if limit:
        cut = limited(SHARED / train_rel, limit, folder / Path(train_rel).name)
        return cut, cut, cut
    return SHARED / train_rel, SHARED / dev_rel, SHARED / test_rel


def network_parameters(state_dict: dict) -> int:
    """Numbers in the network without the word vectors, which every variant shares."""
    return sum(t.numel() for k, t in state_dict.items() if t.is_floating_point() and not k.startswith(("encoder.words.", "encoder.extra_words")))


def trained_gradients(model: Path, test: Path, folder: Path) -> list[float] | None:
    """The trained model's gradient share by distance (None when the test split has no long sentence)."""
    out = folder / "gradients.json"
    with open(out, "w") as handle, open(folder / "diagnose.log", "w") as log:
        try:
            seqtag("diagnose", "gradients", str(model), str(test), "--format", "json", stdout=handle, stderr=log)
        except subprocess.CalledProcessError:
            print(f"no gradient figures for {model.name}: {(folder / 'diagnose.log').read_text().strip()}", file=sys.stderr)
            return None
    return json.loads(out.read_text())["curves"][0]["relative"]


def one_run(name: str, variant: str, budget: dict, threads: int, folder: Path) -> dict:
    """Train one variant on one data set, evaluate, time tagging, measure gradients; the model is deleted."""
    train, dev, test = split_files(name, budget["limit_sentences"], folder)
    model = folder / "model.seqtag"
    options = [*VARIANTS[variant][1], "--epochs", str(budget["epochs"]), "--patience", str(budget["patience"])]
    if threads:
        options += ["--threads", str(threads)]
    with open(folder / "train.log", "w") as log:
        wall = seqtag("train", "--train", str(train), "--dev", str(dev), "--embeddings", str(GLOVE),
                      "--output", str(model), *options, stderr=log)
    with open(folder / "evaluate.json", "w") as handle:
        seqtag("evaluate", str(model), str(test), "--format", "json", stdout=handle)
    report = json.loads((folder / "evaluate.json").read_text())
    copies = folder / f"copies{test.suffix}"
    copies.write_text((test.read_text(encoding="utf-8").strip("\n") + "\n\n") * PREDICT_COPIES, encoding="utf-8")
    fmt = "conllu" if test.suffix == ".conllu" else "conll"
    with open(os.devnull, "w") as sink:
        predict_seconds = seqtag("predict", str(model), str(copies), "--input-format", fmt, stdout=sink)
    gradients = trained_gradients(model, test, folder) if variant != "window" else None
    import torch

    body = torch.load(model, weights_only=True)
    history = body["meta"]["history"]
    return {
        "data": name,
        "variant": variant,
        "options": options,
        "test": report["score"],
        "dev": body["meta"]["dev_scores"]["score"],
        "best_epoch": body["meta"]["best_epoch"],
        "epochs": len(history),
        "epoch_seconds": statistics.median(e["seconds"] for e in history),
        "train_minutes": wall / 60,
        "parameters": network_parameters(body["state_dict"]),
        "tag_sentences_per_second": PREDICT_COPIES * sentence_count(test) / predict_seconds,
        "gradient_share": {str(d): gradients[d] for d in GRADIENT_DISTANCES} if gradients else None,
        "model_mb": model.stat().st_size / 1e6,
    }


def table(runs: list[dict]) -> str:
    """Markdown: one table per data set, one row per variant in VARIANTS order."""
    parts = []
    for name in DATASETS:
        rows = sorted((r for r in runs if r["data"] == name), key=lambda r: list(VARIANTS).index(r["variant"]))
        if not rows:
            continue
        parts += [
            f"**{name}** ({DATASETS[name][3]})", "",
            "| variant | options | test | dev | epochs (best) | parameters | s / epoch | tagging sent. / s | gradient 10 / 20 steps back |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            share = r["gradient_share"] or {}
            gradient = " / ".join(f"{share[str(d)]:.2g}" if share.get(str(d)) is not None else "–" for d in GRADIENT_DISTANCES)
            options = " ".join(VARIANTS[r["variant"]][1]) or "(defaults)"
            parts.append(
                f"| {VARIANTS[r['variant']][0]} | `{options}` | **{100 * r['test']:.2f}** | {100 * r['dev']:.2f} "
                f"| {r['epochs']} ({r['best_epoch']}) | {r['parameters']:,} | {r['epoch_seconds']:.1f} "
                f"| {r['tag_sentences_per_second']:,.0f} | {gradient} |"
            )
        parts.append("")
    return "\n".join(parts)


def gradient_plot(budget: dict, plot: Path, out: Path, folder: Path) -> None:
    """`seqtag diagnose gradients` on untrained RNN / IRNN / GRU / LSTM over UD EWT training sentences."""
    train, _, _ = split_files("ud_ewt", budget["limit_sentences"], folder)
    plot.parent.mkdir(parents=True, exist_ok=True)
    cells = [arg for cell in GRADIENT_CELLS for arg in ("--cell", cell)]
    with open(out, "w") as handle:
        seqtag("diagnose", "gradients", "default", str(train), "--embeddings", str(GLOVE), *cells,
               "--sentences", "200", "--format", "json", "--plot", str(plot), stdout=handle)
    print(f"wrote {plot} and {out}", file=sys.stderr)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", help=f"data sets: {', '.join(DATASETS)} (default: both)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--epochs", type=int, default=8, help="the budget: at most this many epochs (default 8)")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience on dev (default 3)")
    parser.add_argument("--limit-sentences", type=int, default=0, help="smoke test: the first N training sentences as train, dev and test")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time; with 2, each gets one torch thread")
    parser.add_argument("--no-plot", action="store_true", help="skip the gradient plot of untrained networks")
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = (set(args.datasets) - set(DATASETS)) | (set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown data set(s) or variant(s): {', '.join(sorted(unknown))}")
    require_shared()
    budget = {"epochs": args.epochs, "patience": args.patience, "limit_sentences": args.limit_sentences}
    suffix = f"_limit{args.limit_sentences}" if args.limit_sentences else ""
    json_path, md_path = RESULTS / f"architectures{suffix}.json", RESULTS / f"architectures{suffix}.md"
    plot = RESULTS / f"gradients{suffix}.png" if suffix else ROOT / "docs" / "gradients.png"
    on_record = json.loads(json_path.read_text()) if json_path.exists() else {"budget": budget, "runs": []}
    if on_record["budget"] != budget:
        raise SystemExit(f"{json_path} holds runs with budget {on_record['budget']}, not {budget}; move it away first")
    runs = on_record["runs"]
    done = {(r["data"], r["variant"]) for r in runs}
    plan = [(name, v) for name in args.datasets or list(DATASETS) for v in variants]
    todo = [item for item in plan if item not in done]
    print(f"{len(plan) - len(todo)} runs on record, {len(todo)} to go", file=sys.stderr)
    threads = 1 if args.jobs > 1 else 0
    if threads:
        os.environ["OMP_NUM_THREADS"] = "1"  # also for evaluate / predict / diagnose, which have no --threads

    def record(run: dict) -> None:
        runs.append(run)
        RESULTS.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"machine": machine(), "budget": budget, "runs": runs}, indent=2) + "\n")
        md_path.write_text(table(runs) + "\n")
        print(f"{time.strftime('%H:%M')} {run['data']} {run['variant']}: test {100 * run['test']:.2f}, "
              f"{run['epoch_seconds']:.1f} s/epoch, {run['train_minutes']:.1f} min", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        folders = [Path(tmp) / str(i) for i, _ in enumerate(todo)]
        for folder in folders:
            folder.mkdir()
        futures = [pool.submit(one_run, name, variant, budget, threads, folder) for (name, variant), folder in zip(todo, folders)]
        for future in futures:
            record(future.result())
        if not args.no_plot and not (plot.exists() and (RESULTS / f"gradients{suffix}.json").exists()):
            gradient_plot(budget, plot, RESULTS / f"gradients{suffix}.json", Path(tmp))
    print(table([r for r in runs if (r["data"], r["variant"]) in set(plan)]))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
