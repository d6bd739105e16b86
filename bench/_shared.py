"""Helpers for the benchmark scripts: where the shared data is, running seqtag, writing results."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"


def require_shared() -> None:
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (the benchmarks need the shared data sets)", file=sys.stderr)
        raise SystemExit(0)


def seqtag(*args: str, stdout=None, stderr=None) -> float:
    """Run `python -m seqtag ARGS`; return its wall time in seconds (raises on failure)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seqtag", *args], check=True, stdout=stdout, stderr=stderr, cwd=ROOT)
    return time.perf_counter() - start


def machine() -> dict:
    import os

    import torch

    info = open("/proc/cpuinfo").read().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))
    shown = [f for f in ("avx", "fma", "avx2", "avx512f", "avx512_bf16") if f in flags]
    return {"cpu": cpu, "flags": " ".join(shown), "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__}


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def conll_sentences(path: Path) -> list[list[list[str]]]:
    """The whitespace-split rows of each sentence of a CoNLL file, -DOCSTART- lines dropped."""
    out, rows = [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if rows:
                out.append(rows)
                rows = []
            continue
        rows.append(fields)
    return out
