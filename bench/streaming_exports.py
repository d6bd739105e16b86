"""Do annotation-tool exports stream? Peak memory of `seqtag convert` and `seqtag predict` on Doccano JSONL
and Label Studio JSON exports of 10k and 100k records: if readers held the file, the 100k peak would be
far above the 10k one.

    python bench/streaming_exports.py            # writes bench/results/streaming_exports.json

Each command runs in its own process; its peak resident memory is the child's ru_maxrss. The model is a
tiny tagger trained here on the test fixtures (its size does not matter: the question is growth).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEQTAG = [sys.executable, "-m", "seqtag"]
WORDS = "the a of in Paris Berlin John Smith met said company shares rose fell on Monday after talks".split()


def record(rng: random.Random) -> tuple[str, list[tuple[int, int, str]]]:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    text = " ".join(words) + "."
    spans, at = [], 0
    for word in words:
        if word in ("Paris", "Berlin"):
            spans.append((at, at + len(word), "LOC"))
        at += len(word) + 1
    return text, spans


def write_exports(folder: Path, count: int) -> dict[str, Path]:
    rng = random.Random(count)
    doccano, studio = folder / f"doccano-{count}.jsonl", folder / f"label-studio-{count}.json"
    with open(doccano, "w", encoding="utf-8") as d, open(studio, "w", encoding="utf-8") as s:
        s.write("[\n")
        for n in range(count):
            text, spans = record(rng)
            d.write(json.dumps({"id": n, "text": text, "label": [list(x) for x in spans]}) + "\n")
            result = [{"type": "labels", "from_name": "label", "to_name": "text",
                       "value": {"start": a, "end": b, "text": text[a:b], "labels": [k]}} for a, b, k in spans]
            s.write(("" if n == 0 else ",\n") + json.dumps({"id": n, "data": {"text": text},
                                                           "annotations": [{"result": result}]}))
        s.write("\n]\n")
    return {"doccano": doccano, "label-studio": studio}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="streaming-"))
    model = folder / "tiny.seqtag"
    subprocess.run([*SEQTAG, "train", "--train", str(ROOT / "tests/fixtures/annotations/doccano_label.jsonl"),
                    "--output", str(model), "--epochs", "1", "--hidden", "16", "--char-encoder", "none"],
                   check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    rows = []
    for count in (10_000, 100_000):
        exports = write_exports(folder, count)
        for fmt, path in exports.items():
            for command, args in (
                ("convert", [*SEQTAG, "convert", str(path)]),
                ("predict", [*SEQTAG, "predict", str(model), str(path), "--format", fmt]),
            ):
                wrapped = [sys.executable, "-c", "import resource, subprocess, sys, time; t = time.perf_counter(); "
                           "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
                           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)",
                           *args]
                out = subprocess.run(wrapped, check=True, capture_output=True, text=True, cwd=ROOT).stdout.split()
                rss, seconds = float(out[0]), float(out[1])
                rows.append({"records": count, "format": fmt, "command": command, "peak_rss_mb": round(rss, 1),
                             "seconds": round(seconds, 1), "file_mb": round(path.stat().st_size / 1e6, 1)})
                print(f"{count:>7} {fmt:<13} {command:<8} {path.stat().st_size / 1e6:6.1f} MB file  "
                      f"peak {rss:6.1f} MB  {seconds:5.1f} s", flush=True)
    out_path = ROOT / "bench" / "results" / "streaming_exports.json"
    out_path.write_text(json.dumps({"command": "python bench/streaming_exports.py", "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
