"""`seqtag serve` as users run it: a real uvicorn process on a free loopback port (127.0.0.1 only). Concurrent
clients share passes; the bad requests only sockets can send (slow bodies, disconnects, chunked floods, broken
HTTP) get their 4xx and the server keeps serving, without growing; Ctrl-C and SIGTERM let the request in
flight finish and exit 0. Then the page in a real headless browser (Debian's chromium through chromedriver):
text typed, entities highlighted as the API finds them, a screenshot saved under docs/. Every loop here is
bounded in count and in time."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="seqtag serve needs fastapi and uvicorn (pip install -e .)")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
DOCS = ROOT / "docs"
HOST = "127.0.0.1"
# One worker process: the batching counters of /healthz below are that process's. (Several: see the end.)
OPTIONS = ("--read-timeout", "1", "--max-body", "65536", "--max-texts", "64", "--drain-timeout", "20", "--threads", "1",
           "--workers", "1")
ADDRESS = re.compile(r"on http://127\.0\.0\.1:(\d+) ")


class Server:
    """A `seqtag serve` child process on a free port of 127.0.0.1, its stderr collected."""

    def __init__(self, *args: str, own_group: bool = False) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "seqtag", "serve", *args, "--host", HOST, "--port", "0"],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=own_group)
        self.log: list[str] = []
        self.port = 0
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                self.log.append(line)
                found = ADDRESS.search(line)
                if found:
                    self.port = int(found.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120) or not self.port:
            self.proc.kill()
            raise AssertionError("the server did not start:\n" + "".join(self.log))

    def request(self, method: str, path: str, body: object = None, timeout: float = 30) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read()
            return response.status, json.loads(text) if text.startswith((b"{", b"[")) else {"raw": text.decode("latin-1")}
        finally:
            connection.close()

    def predict(self, texts: list[str], **options) -> dict:
        status, answer = self.request("POST", "/v1/predict", {"texts": texts, **options})
        assert status == 200, answer
        return answer

    def workers(self) -> list[int]:
        """The pids of the worker processes (none with --workers 1)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def server(serve_models):
    running = Server(f"ner={serve_models['ner']}", f"cls={serve_models['cls']}", *OPTIONS)
    yield running
    code = running.stop()
    assert code == 0, "".join(running.log)


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=10)
    return sock


def head(path: str, length: int | None, extra: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def read_response(sock: socket.socket, limit: float = 10) -> tuple[int, bytes]:
    """Status and body of one response (the body up to Content-Length, or until the server closes)."""
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1]) if header.startswith(b"HTTP/") else 0
    length = re.search(rb"(?i)content-length:\s*(\d+)", header)
    while length and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def still_serving(server: Server) -> None:
    answer = server.predict(["John lives in Berlin."])
    assert answer["records"][0]["tokens"] == ["John", "lives", "in", "Berlin", "."]


# ---------------------------------------------------------------------------- over the wire


def test_concurrent_clients_share_passes(server):
    lines = [line for line in (SAMPLE / "raw.txt").read_text().splitlines() if line.strip()][:8]
    expected = server.predict(lines)["records"]
    before = server.request("GET", "/healthz")[1]["models"]["ner"]
    results: dict[tuple[int, int], list] = {}
    deadline = time.monotonic() + 60

    def client(c: int) -> None:
        for round_ in range(10):  # bounded: 16 clients x 10 requests, and a minute at most
            if time.monotonic() > deadline:
                return
            i = (c + round_) % len(lines)
            results[(c, round_)] = (i, server.predict([lines[i]])["records"])

    threads = [threading.Thread(target=client, args=(c,)) for c in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert len(results) == 160
    by_line = {}
    for record in expected:
        by_line.setdefault(record["line"], []).append({**record, "line": 1})
    for i, records in results.values():
        assert records == by_line[i + 1]
    after = server.request("GET", "/healthz")[1]["models"]["ner"]
    passes, sentences = after["passes"] - before["passes"], after["predicted"] - before["predicted"]
    assert sentences >= 160 and passes < 160 and after["largest_pass"] > 1


def test_a_slow_body_gets_408_and_does_not_hold_up_others(server):
    sock = connect(server)
    body = json.dumps({"texts": ["John lives in Berlin."]}).encode()
    sock.sendall(head("/v1/predict", len(body)) + body[:5])
    started = time.monotonic()
    still_serving(server)  # answered while the slow client dawdles
    assert time.monotonic() - started < 1.0
    status, answer = read_response(sock)
    assert status == 408 and b"--read-timeout" in answer
    sock.close()
    still_serving(server)


def test_slow_headers_do_not_hold_up_others(server):
    sock = connect(server)
    sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
    for _ in range(3):
        started = time.monotonic()
        still_serving(server)
        assert time.monotonic() - started < 1.0
    sock.close()


@pytest.mark.parametrize("cut", ["mid-body", "before-answer", "mid-headers"])
def test_clients_that_disconnect(server, cut):
    body = json.dumps({"texts": ["Kestrel Airlines moved its office to Tokyo."] * 40, "confidence": True}).encode()
    for _ in range(20):  # bounded burst
        sock = connect(server)
        if cut == "mid-body":
            sock.sendall(head("/v1/predict", len(body)) + body[: len(body) // 2])
        elif cut == "before-answer":
            sock.sendall(head("/v1/predict", len(body)) + body)
        else:
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nContent-Le")
        sock.close()
    still_serving(server)
    health = server.request("GET", "/healthz")[1]
    assert health["status"] == "ok"


def test_chunked_flood_gets_413(server):
    sock = connect(server)
    sock.sendall(head("/v1/predict", None, "Transfer-Encoding: chunked\r\n"))
    piece = b'"' + b"x" * 8190 + b'",'
    status = 0
    try:
        for _ in range(20):  # 20 x 8 KiB > --max-body 64 KiB; the server answers before the end
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, answer = read_response(sock)
    sock.close()
    assert status == 413 and b"--max-body" in answer
    still_serving(server)


@pytest.mark.parametrize("raw, status", [
    (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
    (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", 413),
])
def test_broken_http(server, raw, status):
    sock = connect(server)
    sock.sendall(raw)
    answer_status, _ = read_response(sock)
    sock.close()
    assert answer_status == status
    still_serving(server)


def test_a_burst_of_bad_requests_leaves_no_trace(server):
    still_serving(server)
    before = server.rss_kib()
    bad = [b'{"texts": [', b'{"texts": []}', b'{"tokens": [["a b"]]}', b'{"model": "nope", "texts": ["a"]}',
           json.dumps({"texts": ["x" * 30_000]}).encode()]
    deadline = time.monotonic() + 60
    statuses = set()
    for i in range(300):  # bounded in count and time
        if time.monotonic() > deadline:
            break
        status, answer = server.request("POST", "/v1/predict", bad[i % len(bad)])
        statuses.add(status)
        assert 400 <= status < 500 and "error" in answer
    assert statuses == {400, 404, 413, 422}
    still_serving(server)
    assert server.rss_kib() - before < 30 * 1024, (before, server.rss_kib())


def test_the_address_is_refused_when_taken(serve_models):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "seqtag", "serve", str(serve_models["ner"]), "--host", HOST,
                                 "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: --port: cannot listen"), result.stderr


@pytest.mark.parametrize("sig, workers", [(signal.SIGTERM, "1"), (signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_a_signal_lets_the_request_in_flight_finish_and_exits_0(serve_models, sig, workers):
    server = Server(str(serve_models["ner"]), "--read-timeout", "20", "--workers", workers)
    try:
        body = json.dumps({"texts": ["John Smith flew to Berlin."]}).encode()
        sock = connect(server)
        sock.sendall(head("/v1/predict", len(body)) + body[:10])
        time.sleep(0.3)
        server.proc.send_signal(sig)
        time.sleep(0.5)
        assert server.proc.poll() is None, "".join(server.log)  # still draining
        with pytest.raises(OSError):  # but no longer accepting: new clients are refused at once
            socket.create_connection((HOST, server.port), timeout=2).close()
        sock.sendall(body[10:])
        status, answer = read_response(sock)
        sock.close()
        assert status == 200 and json.loads(answer)["records"][0]["tokens"][:2] == ["John", "Smith"]
        assert server.proc.wait(30) == 0, "".join(server.log)
        with pytest.raises(OSError):  # and it no longer listens
            socket.create_connection((HOST, server.port), timeout=2).close()
        assert "Traceback" not in "".join(server.log)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()


# ---------------------------------------------------------------------------- several worker processes


def test_workers_share_the_port_and_answer_alike(serve_models):
    server = Server(str(serve_models["ner"]), "--workers", "2", "--threads", "1")
    try:
        assert len(server.workers()) == 2
        assert "2 workers × 1 torch thread" in "".join(server.log)
        answers = {}
        for _ in range(40):  # new connections each: the kernel spreads them over the workers' sockets
            status, health = server.request("GET", "/healthz")
            assert status == 200 and health["workers"] == 2
            answers[health["worker"]] = server.predict(["John Smith flew to Berlin."])["records"]
        assert sorted(answers) == [1, 2]  # every one of 40 on one worker: odds 2 ** -39
        assert answers[1] == answers[2] and answers[1][0]["tags"][:2] == ["B-PER", "I-PER"]
        counts = {}  # the 40 sentences, counted by whichever worker answers
        for _ in range(40):
            health = server.request("GET", "/healthz")[1]
            counts[health["worker"]] = next(iter(health["models"].values()))
        assert sorted(counts) == [1, 2]
        assert all(c["predicted"] == c["passes"] == 40 and c["largest_pass"] == 1 for c in counts.values())
        assert sum(c["this_worker"]["predicted"] for c in counts.values()) == 40
        assert all(0 < c["this_worker"]["predicted"] < 40 for c in counts.values())
    finally:
        assert server.stop() == 0, "".join(server.log)
    assert "Traceback" not in "".join(server.log)


def test_a_worker_that_dies_is_replaced(serve_models):
    server = Server(str(serve_models["ner"]), "--workers", "2", "--threads", "1")
    try:
        first = server.workers()
        os.kill(first[0], signal.SIGKILL)
        replaced = wait_for(lambda: len(server.workers()) == 2 and set(server.workers()) != set(first) and server.workers(),
                            timeout=30)
        assert first[1] in replaced
        wait_for(lambda: any("ended with signal SIGKILL; starting another" in line for line in server.log))
        for _ in range(10):
            still_serving(server)
    finally:
        assert server.stop() == 0, "".join(server.log)


def test_ctrl_c_in_a_terminal_stops_every_worker_once(serve_models):
    # A terminal sends Ctrl-C's SIGINT to the whole process group: the parent and each worker.
    server = Server(str(serve_models["ner"]), "--workers", "2", "--threads", "1", own_group=True)
    try:
        still_serving(server)
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.proc.wait(30) == 0, "".join(server.log)
    finally:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
    log = "".join(server.log)
    assert log.count("answering the requests in flight") == 1 and "Traceback" not in log, log


def test_workers_do_not_join_a_port_in_use(serve_models):
    # Another server's SO_REUSEPORT sockets would accept more sockets of the same user on their port, and the
    # two servers would split the connections: a plain bind comes first and refuses.
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind((HOST, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "seqtag", "serve", str(serve_models["ner"]), "--host", HOST,
                                 "--port", str(port), "--workers", "2"], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"seqtag: error: --port: cannot listen on {HOST}:{port}: Address already in use"]


# ---------------------------------------------------------------------------- the page in a real browser


def browser():
    """A headless chromium driven by chromedriver, both Debian's (`make browser` installs them); skips
    without them, unless SEQTAG_BROWSER_TESTS=required (CI), where their absence fails."""
    required = os.environ.get("SEQTAG_BROWSER_TESTS") == "required"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    missing = [name for name, found in (("chromium", chromium), ("chromedriver", driver_path), ("selenium", webdriver))
               if not found]
    if missing:
        message = f"no {', '.join(missing)} here (`make browser` installs Debian's chromium and chromium-driver)"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1000,640", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def wait_for(condition, timeout: float = 20, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(step)
    raise AssertionError("timed out waiting in the browser")


def test_the_page_highlights_entities_in_a_browser(server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser()
    try:
        driver.get(f"http://{HOST}:{server.port}/")
        wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready")
        text = "John Smith flew from Berlin to New York to meet the board of Deutsche Bank and Kestrel Airlines."
        expected = [(s["text"], s["type"], s["confidence"]) for r in server.predict([text], confidence=True)["records"]
                    for s in r["spans"]]
        assert expected, "the tiny tagger finds entities in this sentence"
        box = driver.find_element(By.ID, "text")
        box.send_keys(text)
        driver.find_element(By.ID, "go").click()
        marks = wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done"
                         and driver.find_elements(By.CSS_SELECTOR, "#output mark.ent"))
        shown = [(m.text.rsplit("\n", 1)[0].removesuffix(m.get_attribute("data-label")).strip(),
                  m.get_attribute("data-label"), float(m.get_attribute("data-probability"))) for m in marks]
        assert [(t, label) for t, label, _ in shown] == [(t, label) for t, label, _ in expected]
        assert all(abs(p - q) < 1e-6 for (_, _, p), (_, _, q) in zip(shown, expected))
        for mark, (_, label, p) in zip(marks, expected):
            assert mark.get_attribute("data-tip") == f"{label} {100 * p:.1f}%"
        colours = {m.get_attribute("data-label"): m.value_of_css_property("background-color") for m in marks}
        assert len(set(colours.values())) == len(colours)  # a colour per label
        assert driver.find_element(By.ID, "output").text.replace("\n", "").count("Berlin") == 1
        ActionChains(driver).move_to_element(marks[0]).perform()  # the probability on hover
        tip = driver.execute_script("return getComputedStyle(arguments[0], '::after').content", marks[0])
        assert tip.strip('"') == f"{expected[0][1]} {100 * expected[0][2]:.1f}%"
        driver.save_screenshot(str(DOCS / "serve.png"))

        Select(driver.find_element(By.ID, "model")).select_by_value("cls")
        box.clear()
        sentence = "The striker scored twice in the final and the fans cheered."
        box.send_keys(sentence)
        driver.find_element(By.ID, "go").click()
        record = server.predict([sentence], model="cls")["records"][0]
        rows = wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done"
                        and driver.find_elements(By.CSS_SELECTOR, "#output .bars .row"))
        assert [row.get_attribute("data-label") for row in rows] == list(record["probabilities"])
        assert driver.find_element(By.CSS_SELECTOR, "#output .bars").get_attribute("data-label") == record["label"]
        widths = [float(row.find_element(By.CLASS_NAME, "fill").get_attribute("style").split("width:")[1].split("%")[0])
                  for row in rows]
        assert widths == sorted(widths, reverse=True) and abs(sum(widths) - 100) < 1
        driver.save_screenshot(str(DOCS / "serve-classifier.png"))

        box.clear()
        box.send_keys("   ")
        driver.find_element(By.ID, "go").click()
        wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "#output .row"))
    finally:
        driver.quit()


def test_the_api_browser_renders_offline(server):
    from selenium.webdriver.common.by import By

    driver = browser()
    try:
        origin = f"http://{HOST}:{server.port}"
        driver.get(f"{origin}/docs")
        paths = wait_for(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")])
        assert {"/v1/predict", "/v1/models", "/healthz", "/predict", "/doccano"} <= {p.replace("\u200b", "") for p in paths}
        assert driver.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("seqtag")
        # every script, style and schema the page loaded came from the server itself, none from a CDN
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in loaded), loaded
        assert all(url.startswith(origin + "/") for url in loaded), loaded
    finally:
        driver.quit()


def test_the_evaluation_page_filters_errors_in_a_browser(serve_models, tmp_path):
    from selenium.webdriver.common.by import By

    from seqtag.cli import app as cli
    from typer.testing import CliRunner

    page = tmp_path / "eval.html"
    result = CliRunner().invoke(cli, ["evaluate", str(serve_models["ner"]), str(SAMPLE / "ner" / "test.txt"), "--html",
                                      str(page)])
    assert result.exit_code == 0, result.output
    driver = browser()
    try:
        driver.get(page.as_uri())
        pairs = driver.find_elements(By.CSS_SELECTOR, ".pair")
        wrong = driver.find_elements(By.CSS_SELECTOR, ".pair.err")
        assert len(pairs) == 300 and 0 < len(wrong) < 300
        driver.find_element(By.ID, "only-errors").click()
        shown = wait_for(lambda: [p for p in driver.find_elements(By.CSS_SELECTOR, ".pair") if p.is_displayed()]
                         if not driver.find_elements(By.CSS_SELECTOR, ".pair.ok")[0].is_displayed() else None)
        assert len(shown) == len(wrong)
        driver.save_screenshot(str(DOCS / "serve-evaluate.png"))
    finally:
        driver.quit()
