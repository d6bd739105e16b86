"""Two seqtag source trees side by side on the same model and data: are tagging and training as fast, and is
the output the same byte for byte?

    python bench/versions.py OLD_TREE MODEL.seqtag [--rounds 3] [--skip-train]

OLD_TREE is another checkout of seqtag (e.g. `git worktree add /tmp/old <commit>`); it runs on this tree's
virtual environment with PYTHONPATH=OLD_TREE. MODEL is a CoNLL-2003 tagger (a model file both trees read).
Rounds alternate old / new so that both meet the same machine state; the table shows the median round and
the ratio of medians (the best rounds are in the JSON too).
  - tagging: `seqtag predict MODEL test.txt` on CoNLL-2003 test (3,453 sentences), CoNLL columns, wall time
    with start-up; the old tree is given --input-format conll, the new one detects it;
  - training: `seqtag train` for one epoch on CoNLL-2003 train with GloVe 6B 50d, wall time of the epoch as
    the training table reports it (skipped with --skip-train).
Both also report the CPU seconds (user + system) of the whole command: on a shared virtual machine wall
times of identical runs spread by 20 % and more, CPU time much less.
Prints a table and writes bench/results/versions.json. Run it on an idle machine.
"""
from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, SHARED, machine, require_shared, write_results  # noqa: E402


def run(tree: Path | None, args: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system; time a virtual machine's host takes away is not in it) and
    stderr of `python -m seqtag ARGS` from ``tree`` (None: this one)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seqtag", *args], check=True, env=env, cwd=ROOT, stdout=stdout,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stderr


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python bench/versions.py OLD_TREE MODEL.seqtag [--rounds N] [--skip-train]")
    require_shared()
    old, model = Path(argv[0]).resolve(), str(Path(argv[1]).resolve())
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    conll = SHARED / "ner" / "conll2003"
    trees = {"old": old, "new": None}
    tagging: dict[str, list[float]] = {"old": [], "new": []}
    tagging_cpu: dict[str, list[float]] = {"old": [], "new": []}
    training: dict[str, list[float]] = {"old": [], "new": []}
    training_cpu: dict[str, list[float]] = {"old": [], "new": []}
    outputs: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for name, tree in trees.items():
                target = Path(scratch) / f"{name}.conll"
                extra = ["--input-format", "conll"] if name == "old" else []
                with open(target, "w") as out:
                    seconds, cpu, _ = run(tree, ["predict", model, str(conll / "test.txt"), *extra], stdout=out)
                tagging[name].append(seconds)
                tagging_cpu[name].append(cpu)
                outputs[name] = target.read_bytes()
        if "--skip-train" not in argv:
            for _ in range(rounds):
                for name, tree in trees.items():
                    out = Path(scratch) / f"{name}-train.seqtag"
                    _, cpu, log = run(tree, ["train", "--train", str(conll / "train.txt"), "--embeddings",
                                        str(SHARED / "vectors" / "glove.6B.50d.txt.gz"), "--epochs", "1",
                                        "--output", str(out), *(["--force"] if name == "new" else [])])
                    out.unlink(missing_ok=True)
                    epoch = re.search(r"^\s*1\s+\S+\s+.*?(\d+\.\d)s", log, flags=re.M)
                    training[name].append(float(epoch.group(1)))
                    training_cpu[name].append(cpu)
    same = outputs["old"] == outputs["new"]
    rows = [("tagging CoNLL-2003 test, s", tagging), ("  CPU s of the whole predict run", tagging_cpu)]
    if training["new"]:
        rows += [("training 1 epoch, s", training), ("  CPU s of the whole train run", training_cpu)]
    print(f"{'median of ' + str(rounds) + ' rounds':36} {'old':>8} {'new':>8} {'new/old':>8}")
    result = {"machine": machine(), "rounds": rounds, "identical_output": same, "old_tree": str(old)}
    for label, times in rows:
        old_median, new_median = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{label:36} {old_median:8.2f} {new_median:8.2f} {new_median / old_median:8.3f}")
        result[label.strip().split(",")[0].replace(" ", "_")] = {
            "old": times["old"], "new": times["new"], "median_ratio": new_median / old_median,
            "best_ratio": min(times["new"]) / min(times["old"]),
        }
    print(f"CoNLL output identical: {same}")
    print(f"written to {write_results('versions', result)}")


if __name__ == "__main__":
    main(sys.argv[1:])
