"""Issue 16: `seqtag serve` under load, on the loopback interface (127.0.0.1), bounded and self-stopping.

    python bench/serve.py MODEL.seqtag [--seconds 10] [--requests 100000] [--quick]

MODEL is a CoNLL-2003 tagger (the default model of the README; see bench/speed.py). On ../shared/data's
CoNLL-2003 test sentences, sent pre-tokenized (``{"tokens": [...]}``, so the server does what `seqtag predict`
does on a CoNLL file):

  - the baseline: `seqtag predict MODEL` on the test set repeated 10 times (34,530 sentences), one process,
    start-up included, as bench/speed.py measures it;
  - one `seqtag serve` server with its default worker processes (one per core, at most 4; add
    ``--serve-option=--workers=1`` for a single process); 1, 8 and 32 concurrent clients (keep-alive connections of one asyncio client
    process, this one), each sending single sentences, then batches of 32, for ``--seconds`` each (after a
    second of warm-up): sentences/s, p50 / p99 latency, answers other than 2xx;
  - the server's RSS (its workers', summed) before and after ``--requests`` single-sentence requests from 32
    clients.

Prints a table and writes bench/results/serve.json. The clients share the machine with the server, so on 2
cores the figures are what one machine serving itself gets. Run it on an otherwise idle machine; ``--quick``
(3 s per scenario, 10,000 requests) is for a busy one, and the JSON says which it was.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import ROOT, SHARED, conll_sentences, write_results  # noqa: E402

HOST = "127.0.0.1"  # loopback only
PY = sys.executable
LENGTH = re.compile(rb"(?i)content-length:\s*(\d+)")


def sentences(path: Path) -> list[list[str]]:
    return [[row[0] for row in rows] for rows in conll_sentences(path)]


def predict_once(model: Path, data: Path) -> float:
    """Wall seconds of one `seqtag predict` process on ``data`` (start-up and model load included)."""
    start = time.perf_counter()
    subprocess.run([PY, "-m", "seqtag", "predict", str(model), str(data), "--input-format", "conll"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def baseline(model: Path, test: Path) -> dict:
    """`seqtag predict` on the test set x 10 (as bench/speed.py measures it) and on the test set itself,
    wall time with start-up (best of 2 each)."""
    blocks = [b for b in test.read_text().split("\n\n") if b.strip() and not b.startswith("-DOCSTART-")]
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "test10.txt"
        with open(big, "w") as out:
            for block in itertools.islice(itertools.cycle(blocks), 34_530):
                out.write(block.strip("\n") + "\n\n")
        seconds = min(predict_once(model, big) for _ in range(2))
    once = min(predict_once(model, test) for _ in range(2))
    count = len(blocks)
    return {"sentences": 34_530, "seconds": seconds, "sentences_per_second": 34_530 / seconds,
            "test_file": {"sentences": count, "seconds": once, "sentences_per_second": count / once}}


class Server:
    def __init__(self, model: Path, extra: list[str]) -> None:
        self.proc = subprocess.Popen([PY, "-m", "seqtag", "serve", str(model), "--host", HOST, "--port", "0", *extra],
                                     cwd=ROOT, stderr=subprocess.PIPE, text=True)
        self.port = 0
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                sys.stderr.write(line)
                found = re.search(r"on http://127\.0\.0\.1:(\d+) ", line)
                if found:
                    self.port = int(found.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(300) or not self.port:
            self.proc.kill()
            raise SystemExit("the server did not start")

    def processes(self) -> list[int]:
        """The processes that answer: the workers, or the server itself when it has none (--workers 1)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children] or [self.proc.pid]

    def rss_kib(self) -> int:
        """The answering processes' RSS, summed (pages the workers share count once per worker)."""
        total = 0
        for pid in self.processes():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(60)


def request_bytes(batch: list[list[str]]) -> bytes:
    body = json.dumps({"tokens": batch}).encode()
    return (f"POST /v1/predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def load(port: int, payloads: list[bytes], per_request: int, clients: int, seconds: float,
               max_requests: int) -> dict:
    """``clients`` keep-alive connections sending ``payloads`` in turn until ``seconds`` pass or
    ``max_requests`` have been answered; latencies and statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = itertools.count()
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                n = next(sent)
                if n >= max_requests:
                    return
                start = time.perf_counter()
                writer.write(payloads[n % len(payloads)])
                head = await reader.readuntil(b"\r\n\r\n")
                length = LENGTH.search(head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                latencies.append(time.perf_counter() - start)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    answered = len(latencies)
    return {
        "clients": clients, "sentences_per_request": per_request, "requests": answered, "seconds": elapsed,
        "sentences_per_second": answered * per_request / elapsed,
        "p50_ms": 1000 * latencies[answered // 2] if answered else None,
        "p99_ms": 1000 * latencies[min(answered - 1, int(answered * 0.99))] if answered else None,
        "mean_ms": 1000 * statistics.fmean(latencies) if answered else None,
        "non_2xx": sum(count for status, count in statuses.items() if not 200 <= status < 300),
        "5xx": sum(count for status, count in statuses.items() if status >= 500),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (after 1 s of warm-up)")
    parser.add_argument("--requests", type=int, default=100_000, help="single-sentence requests for the RSS figure")
    parser.add_argument("--quick", action="store_true", help="3 s per scenario and 10,000 requests: for a busy machine")
    parser.add_argument("--serve-option", action="append", default=[], help="an extra `seqtag serve` option (repeatable)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    test = SHARED / "ner" / "conll2003" / "test.txt"
    if not test.is_file():
        print(f"skipped: {test} is absent (this benchmark needs CoNLL-2003 from ../shared/data)", file=sys.stderr)
        raise SystemExit(0)
    if not args.model.is_file():
        print(f"skipped: no model file {args.model} (train one: see bench/speed.py)", file=sys.stderr)
        raise SystemExit(0)
    if args.quick:
        args.seconds, args.requests = 3.0, min(args.requests, 10_000)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: load average {load_before:.2f}: the machine is not idle, figures will be low", file=sys.stderr)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    corpus = sentences(test)
    single = [request_bytes([s]) for s in corpus]
    batches = [request_bytes(corpus[i : i + 32]) for i in range(0, len(corpus) - 31, 32)]
    result: dict = {"model": str(args.model.resolve()), "quick": args.quick, "load_average_at_start": load_before,
                    "seconds_per_scenario": args.seconds, "serve_options": args.serve_option}
    if not args.skip_baseline:
        print("baseline: seqtag predict on 34,530 sentences …", file=sys.stderr)
        result["predict_baseline"] = baseline(args.model, test)
    server = Server(args.model, args.serve_option)
    try:
        asyncio.run(load(server.port, single, 1, 8, 2.0, 10**9))  # warm-up: the first passes allocate
        scenarios = []
        for per_request, payloads in ((1, single), (32, batches)):
            for clients in (1, 8, 32):
                asyncio.run(load(server.port, payloads, per_request, clients, 1.0, 10**9))
                row = asyncio.run(load(server.port, payloads, per_request, clients, args.seconds, 10**9))
                scenarios.append(row)
                print(f"{clients:>3} clients x {per_request:>2} sentences: {row['sentences_per_second']:8.0f} sentences/s, "
                      f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, non-2xx {row['non_2xx']}", file=sys.stderr)
        result["scenarios"] = scenarios
        rss_before = server.rss_kib()
        started = time.perf_counter()
        memory = asyncio.run(load(server.port, single, 1, 32, 1800.0, args.requests))
        rss_after = server.rss_kib()
        result["memory"] = {"requests": memory["requests"], "seconds": time.perf_counter() - started,
                            "rss_before_kib": rss_before, "rss_after_kib": rss_after,
                            "growth": rss_after / rss_before - 1, "non_2xx": memory["non_2xx"], "5xx": memory["5xx"]}
        with urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=30) as answer:
            health = json.loads(answer.read())
        result["workers"] = health["workers"]
        result["batching"] = health["models"]  # every worker's passes together, and the answering one's
    finally:
        result["exit_status"] = server.stop()
    result["load_average_at_end"] = os.getloadavg()[0]
    result["non_2xx_total"] = sum(row["non_2xx"] for row in result["scenarios"]) + result["memory"]["non_2xx"]
    result["5xx_total"] = sum(row["5xx"] for row in result["scenarios"]) + result["memory"]["5xx"]
    path = write_results("serve", result)

    base = result.get("predict_baseline", {}).get("sentences_per_second")
    print(f"{'clients':>7} {'sent./req':>9} {'sentences/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for row in result["scenarios"]:
        print(f"{row['clients']:>7} {row['sentences_per_request']:>9} {row['sentences_per_second']:>12,.0f} "
              f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['non_2xx']:>8}")
    if base:
        once = result["predict_baseline"]["test_file"]
        print(f"seqtag predict on a file: {base:,.0f} sentences/s (34,530 sentences, start-up included); "
              f"{once['sentences_per_second']:,.0f} on the test file itself ({once['sentences']:,} sentences)")
        top = next(r for r in result["scenarios"] if r["clients"] == 32 and r["sentences_per_request"] == 1)
        print(f"32 single-sentence clients: {top['sentences_per_second'] / base:.0%} of it (floor 50%)")
    m = result["memory"]
    print(f"server: {result['workers']} worker process(es)")
    print(f"RSS {m['rss_before_kib'] / 1024:.0f} -> {m['rss_after_kib'] / 1024:.0f} MiB ({100 * m['growth']:+.1f}%) over "
          f"{m['requests']:,} requests in {m['seconds']:.0f} s; non-2xx {result['non_2xx_total']}, "
          f"5xx {result['5xx_total']}; server exit status {result['exit_status']}")
    if max(load_before, result["load_average_at_end"]) > 1.5:
        print(f"note: load average {load_before:.2f} at the start and {result['load_average_at_end']:.2f} at the end: "
              "other processes shared the cores", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
