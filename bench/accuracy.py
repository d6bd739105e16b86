"""seqtag's defaults on every shared benchmark, several seeds each: the README's accuracy table.

    python bench/accuracy.py                      # every data set, seeds 1-3, plus the ablations
    python bench/accuracy.py conll2000 ud_ewt     # some data sets only
    python bench/accuracy.py --seeds 5 --jobs 2   # more seeds; two runs at a time, one torch thread each
    python bench/accuracy.py --levers --no-ablations --seeds 1 --jobs 2   # options not default yet, on dev
    python bench/accuracy.py conll2003 --lever "clip 1" --no-ablations --seeds 1   # one of them

Each run is `seqtag train` with the default settings (GloVe 6B 50d, early stopping on the dev split) and
ONE `seqtag evaluate` on test. No per-data-set tuning: the only per-data-set facts are the file names (and
CoNLL-2000's dev split, which the data set lacks: its last 1,000 training sentences are held out).
Ablations (`--head softmax`, `--char-encoder none|lstm`) run on CoNLL-2003 only, like the NCRF++ table.
Levers (`--levers`: options measured before any becomes a default) run seed 1 and are scored on dev only.
Runs made under other default settings are dropped from the record and run again.

The defaults' model files are kept in bench/models/ (not in git) so that, once every seed of a data set is
trained, `seqtag ensemble` makes them ONE model (the "ensemble" row: its dev score, one evaluation on test,
and the evaluation's wall time beside one member's).

Results accumulate in bench/results/accuracy.json (a run already there is not repeated, so an
interrupted benchmark continues where it stopped) and bench/results/accuracy.md holds the table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import RESULTS, SHARED, machine, require_shared, seqtag  # noqa: E402

GLOVE = SHARED / "vectors" / "glove.6B.50d.txt.gz"
DATASETS = {  # name: (train, dev or None = hold out the last 1,000 train sentences, test, metric)
    "conll2003": ("ner/conll2003/train.txt", "ner/conll2003/valid.txt", "ner/conll2003/test.txt", "entity F1"),
    "wnut17": ("ner/wnut17/wnut17train.conll", "ner/wnut17/emerging.dev.conll", "ner/wnut17/emerging.test.annotated", "entity F1"),
    "conll2000": ("chunk/conll2000/train.txt", None, "chunk/conll2000/test.txt", "chunk F1"),
    "ud_ewt": ("pos/ud_ewt/en_ewt-ud-train.conllu", "pos/ud_ewt/en_ewt-ud-dev.conllu", "pos/ud_ewt/en_ewt-ud-test.conllu", "UPOS accuracy"),
    "sst2": ("cls/sst2/stsa.binary.train", "cls/sst2/stsa.binary.dev", "cls/sst2/stsa.binary.test", "accuracy"),
    # the same dev and test sentences, trained on the 67k labelled phrases of the training sentences' parse
    # trees, as Kim (2014) and the GLUE version of SST-2 train
    "sst2_phrases": ("cls/sst2-phrases/train.tsv", "cls/sst2/stsa.binary.dev", "cls/sst2/stsa.binary.test", "accuracy"),
}
ALL = tuple(DATASETS)
# Ablations, one seed each: name -> (extra `seqtag train` options, data sets). The architecture ablations
# run on CoNLL-2003 (like the NCRF++ table); each option the defaults turn on is ablated where it acts.
VARIANTS = {
    "default": ([], ALL),
    "softmax": (["--head", "softmax"], ("conll2003",)),
    "no-char": (["--char-encoder", "none"], ("conll2003",)),
    "char-lstm": (["--char-encoder", "lstm"], ("conll2003",)),
}
# Options measured against the defaults before any becomes one: seed 1, scored on dev only (test is not
# looked at), on the data sets where the option acts. `--levers` runs them.
LEVERS = {
    "word dropout 0.05": (["--word-dropout", "0.05"], ALL),
    "ema 0.998": (["--ema", "0.998"], ALL),
    "document context 16": (["--document-context", "16"], ("conll2003", "ud_ewt")),
    "casing 8": (["--casing-dim", "8"], ALL),
    "locked dropout": (["--locked-dropout"], ALL),
    "pooling mean-max": (["--pooling", "mean-max"], ("sst2",)),
    "freeze": (["--freeze"], ALL),
    "layers 2": (["--layers", "2"], ALL),
    "clip 1": (["--clip", "1"], ALL),
    "char dropout 0.5": (["--char-dropout", "0.5"], ALL),
    "batch 16": (["--batch-size", "16"], ALL),
    "char filters 100": (["--char-hidden", "100"], ALL),
    "zero unknown": (["--unknown-vector", "zero"], ALL),
    # SGD (momentum 0.9) with Ma & Hovy's 1 / (1 + 0.05 t) decay instead of halving on stalls; it climbs
    # slowly, so it needs more patience than Adam
    "sgd time decay": (["--optimizer", "sgd", "--lr", "0.06", "--lr-time-decay", "0.05", "--lr-decay", "1",
                        "--patience", "10"], ALL),
}
HELD_OUT = 1000  # CoNLL-2000 dev sentences
MODELS = Path(__file__).resolve().parent / "models"  # the defaults' model files, for the ensembles
JSON_PATH = RESULTS / "accuracy.json"
MD_PATH = RESULTS / "accuracy.md"


def split_conll2000(train: Path, folder: Path) -> tuple[Path, Path]:
    """The CoNLL-2000 training file minus its last 1,000 sentences, and those sentences as dev."""
    sentences = train.read_text(encoding="utf-8").strip("\n").split("\n\n")
    head, tail = folder / "conll2000.train.txt", folder / "conll2000.dev.txt"
    head.write_text("\n\n".join(sentences[:-HELD_OUT]) + "\n\n", encoding="utf-8")
    tail.write_text("\n\n".join(sentences[-HELD_OUT:]) + "\n\n", encoding="utf-8")
    return head, tail


def one_run(name: str, variant: str, seed: int, threads: int, folder: Path) -> dict:
    """Train with the defaults (+ the variant's options) and evaluate on test once (levers: not on test)."""
    train, dev, test = paths(name, folder)
    model = folder / f"{name}.{variant.replace(', ', '+')}.{seed}.seqtag"
    lever = variant in LEVERS
    options = ["--seed", str(seed), *(LEVERS if lever else VARIANTS)[variant][0]]
    if threads:
        options += ["--threads", str(threads)]
    log = model.with_suffix(".log")
    with open(log, "w") as handle:
        wall = seqtag("train", "--train", str(train), "--dev", str(dev), "--embeddings", str(GLOVE),
                      "--output", str(model), *options, stderr=handle)
    report = {"score": None}
    if not lever:
        out = model.with_suffix(".json")
        with open(out, "w") as handle:
            seqtag("evaluate", str(model), str(test), "--format", "json", stdout=handle)
        report = json.loads(out.read_text())
    import torch

    meta = torch.load(model, weights_only=True)["meta"]
    history = meta["history"]
    size = model.stat().st_size / 1e6
    if variant == "default":  # kept for the ensemble of the seeds
        MODELS.mkdir(exist_ok=True)
        model.replace(MODELS / f"{name}.{seed}.seqtag")
    else:
        model.unlink()  # the next run's model must not pile up on disk
    return {
        "data": name,
        "variant": variant,
        "seed": seed,
        "options": options,
        "test": report["score"],
        "dev": meta["dev_scores"]["score"],
        "best_epoch": meta["best_epoch"],
        "epochs": len(history),
        "epoch_seconds": statistics.median(e["seconds"] for e in history),
        "train_minutes": wall / 60,
        "model_mb": size,
        "defaults": defaults_signature(),
        "cpu_flags": machine()["flags"],  # runs on record may come from several machines
    }


def paths(name: str, folder: Path) -> tuple[Path, Path, Path]:
    """A data set's train, dev and test files (CoNLL-2000's train and dev split into ``folder``)."""
    train_rel, dev_rel, test_rel, _ = DATASETS[name]
    train, dev = split_conll2000(SHARED / train_rel, folder) if dev_rel is None else (SHARED / train_rel, SHARED / dev_rel)
    return train, dev, SHARED / test_rel


def ensemble_run(name: str, seeds: list[int], folder: Path) -> dict:
    """`seqtag ensemble` of the defaults' models of ``seeds``, scored on dev and evaluated once on test; the
    evaluation's wall time beside the first member's (the prediction cost)."""
    _, dev, test = paths(name, folder)
    members = [MODELS / f"{name}.{seed}.seqtag" for seed in seeds]
    model = folder / f"{name}.ensemble.seqtag"
    with open(folder / "ensemble.log", "w") as handle:
        seqtag("ensemble", *map(str, members), "--output", str(model), "--dev", str(dev), "--force",
               stdout=handle, stderr=handle)
    seconds = []
    for path in (model, members[0]):
        out = path.with_suffix(".test.json")
        with open(out, "w") as handle:
            seconds.append(seqtag("evaluate", str(path), str(test), "--format", "json", stdout=handle))
    import torch

    meta = torch.load(model, weights_only=True)["meta"]
    return {
        "data": name, "variant": "ensemble", "seed": 0, "members": seeds,
        "test": json.loads(model.with_suffix(".test.json").read_text())["score"],
        "dev": meta["dev_scores"]["score"],
        "evaluate_seconds": seconds[0], "member_evaluate_seconds": seconds[1],
        "model_mb": model.stat().st_size / 1e6, "member_mb": members[0].stat().st_size / 1e6,
        "defaults": defaults_signature(),
    }


# Settings added after runs were recorded, with the value that does what seqtag did without them: while a
# setting's default is that value it stays out of the signature, so the runs on record stay valid.
ADDED_SETTINGS = {("model", "char_dropout"): 0.0, ("model", "unknown_vector"): "random", ("train", "lr_time_decay"): 0.0}


def defaults_signature() -> str:
    """A digest of seqtag's default settings: runs recorded under other defaults are run again."""
    import hashlib

    from seqtag.config import DataConfig, ModelConfig, TrainConfig, as_dict

    settings = {"data": as_dict(DataConfig()), "model": as_dict(ModelConfig()), "train": as_dict(TrainConfig())}
    for (section, name), neutral in ADDED_SETTINGS.items():
        if settings[section].get(name) == neutral:
            del settings[section][name]
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def table(runs: list[dict]) -> str:
    """Markdown: one row per data set and variant, test/dev mean ± sample std over seeds, time per run."""
    lines = [
        "| data set | variant | metric | test (mean ± std) | dev | seeds | epochs | minutes per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = [*VARIANTS, "ensemble"]
    keys = sorted({(r["data"], r["variant"]) for r in runs if r["variant"] in order},
                  key=lambda k: (list(DATASETS).index(k[0]), order.index(k[1])))
    for name, variant in keys:
        group = [r for r in runs if r["data"] == name and r["variant"] == variant]
        if variant == "ensemble":
            for r in group:
                lines.append(
                    f"| {name} | ensemble of seeds {'+'.join(map(str, r['members']))} | {DATASETS[name][3]} "
                    f"| **{100 * r['test']:.2f}** | {100 * r['dev']:.2f} | | | evaluate on test: "
                    f"{r['evaluate_seconds']:.0f} s (one member {r['member_evaluate_seconds']:.0f} s); "
                    f"{r['model_mb']:.1f} MB (one member {r['member_mb']:.1f}) |"
                )
            continue
        lines.append(
            f"| {name} | {variant} | {DATASETS[name][3]} | **{mean_std([r['test'] for r in group])}** "
            f"| {mean_std([r['dev'] for r in group])} | {', '.join(str(r['seed']) for r in sorted(group, key=lambda r: r['seed']))} "
            f"| {statistics.mean(r['epochs'] for r in group):.0f} | {statistics.mean(r['train_minutes'] for r in group):.1f} |"
        )
    return "\n".join(lines) + lever_table(runs)


def lever_table(runs: list[dict]) -> str:
    """Markdown: dev score of each lever per data set (seed 1), with its difference from the defaults' seed 1."""
    levers = [lever for lever in LEVERS if any(r["variant"] == lever for r in runs)]
    if not levers:
        return ""
    dev = {(r["data"], r["variant"]): r["dev"] for r in runs if r["seed"] == 1}
    lines = ["", "", "Levers, seed 1, dev only:", "",
             "| option | " + " | ".join(DATASETS) + " |", "|---|" + "---:|" * len(DATASETS)]
    for variant in ["default", *levers]:
        cells = []
        for name in DATASETS:
            score, base = dev.get((name, variant)), dev.get((name, "default"))
            if score is None:
                cells.append("")
            elif variant == "default" or base is None:
                cells.append(f"{100 * score:.2f}")
            else:
                cells.append(f"{100 * score:.2f} ({100 * (score - base):+.2f})")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="*", help=f"data sets: {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N per data set (default 3)")
    parser.add_argument("--ablation-seeds", type=int, default=1, help="seeds per ablation (default 1)")
    parser.add_argument("--no-ablations", action="store_true", help="skip the ablations")
    parser.add_argument("--levers", action="store_true",
                        help="also the options not (yet) default, seed 1, dev only (see LEVERS)")
    parser.add_argument("--lever", action="append", default=[], metavar="NAME",
                        help="only this lever, implies --levers (repeatable; default: every one)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time; each gets 2 // jobs torch threads")
    parser.add_argument("--no-ensembles", action="store_true",
                        help="skip the ensemble of each data set's default seeds")
    args = parser.parse_args(argv)
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(sorted(unknown))}; choose from {', '.join(DATASETS)}")
    unknown = set(args.lever) - set(LEVERS)
    if unknown:
        parser.error(f"unknown lever(s) {', '.join(sorted(unknown))}; choose from {', '.join(LEVERS)}")
    require_shared()
    names = args.datasets or list(DATASETS)
    plan = [(name, "default", seed) for name in names for seed in range(1, args.seeds + 1)]
    if not args.no_ablations:
        plan += [(name, variant, seed) for variant, (_, sets) in list(VARIANTS.items())[1:] for name in names
                 if name in sets for seed in range(1, args.ablation_seeds + 1)]
    levers = args.lever or (list(LEVERS) if args.levers else [])
    plan += [(name, lever, 1) for lever in levers for name in names if name in LEVERS[lever][1]]
    signature = defaults_signature()
    runs = json.loads(JSON_PATH.read_text())["runs"] if JSON_PATH.exists() else []
    stale = [r for r in runs if r.get("defaults") != signature]
    if stale:
        print(f"{len(stale)} runs on record were made with other defaults: dropped", file=sys.stderr)
        runs = [r for r in runs if r.get("defaults") == signature]
    done = {(r["data"], r["variant"], r["seed"]) for r in runs}
    todo = [item for item in plan if item not in done]
    print(f"{len(plan) - len(todo)} runs on record, {len(todo)} to go", file=sys.stderr)
    threads = max(1, 2 // args.jobs) if args.jobs > 1 else 0

    def record(run: dict) -> None:
        runs.append(run)
        RESULTS.mkdir(parents=True, exist_ok=True)
        JSON_PATH.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2) + "\n")
        MD_PATH.write_text(table(runs) + "\n")
        test = f"test {100 * run['test']:.2f}, " if run["test"] is not None else ""
        minutes = f", {run['train_minutes']:.1f} min" if "train_minutes" in run else ""
        print(f"{time.strftime('%H:%M')} {run['data']} {run['variant']} seed {run['seed']}: {test}"
              f"dev {100 * run['dev']:.2f}{minutes}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        folders = []
        for i, _ in enumerate(todo):
            folders.append(Path(tmp) / str(i))
            folders[-1].mkdir()
        futures = [pool.submit(one_run, name, variant, seed, threads, folder) for (name, variant, seed), folder in zip(todo, folders)]
        for future in futures:
            record(future.result())
        if not args.no_ensembles and args.seeds > 1:
            seeds = list(range(1, args.seeds + 1))
            for name in names:
                made = {(r["data"], r["variant"], tuple(r.get("members", ()))) for r in runs}
                if (name, "ensemble", tuple(seeds)) in made:
                    continue
                if not all((MODELS / f"{name}.{seed}.seqtag").exists() for seed in seeds):
                    print(f"{name}: no ensemble, the model files of seeds {seeds} are not all in {MODELS} "
                          "(delete its default runs from the record to train them again)", file=sys.stderr)
                    continue
                folder = Path(tmp) / f"ensemble-{name}"
                folder.mkdir()
                record(ensemble_run(name, seeds, folder))
    selected = [r for r in runs if r["data"] in names]
    print(table(selected))
    print(f"wrote {JSON_PATH} and {MD_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
