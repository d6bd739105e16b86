"""`seqtag serve` in process (FastAPI's TestClient): /v1/predict answers with the very records of
`seqtag predict --format jsonl`; /v1/models is `seqtag info`; Label Studio and Doccano get their formats; a
catalogue of bad requests gets the right 4xx JSON and the server keeps serving; the batcher shares passes;
`predict --format html` and `evaluate --html` write pages. Real sockets and a browser: test_serve_live.py."""
from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="seqtag serve needs fastapi and uvicorn (pip install -e .)")
from typer.testing import CliRunner

from seqtag.cli import app as cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
TINY = {"hidden": 16, "epochs": 1, "char_encoder": "none", "lr": 0.02, "batch_size": 32, "seed": 1}
LIMITS = {"max_texts": 8, "max_chars": 2_000, "max_body": 256 * 1024, "max_nbest": 5}
NER_CONFIG = ('<View><Labels name="ner" toName="doc"><Label value="PER"/><Label value="LOC"/></Labels>'
              '<Text name="doc" value="$body"/></View>')
CLS_CONFIG = ('<View><Text name="txt" value="$text"/><Choices name="topic" toName="txt">'
              '<Choice value="sports"/></Choices></View>')

runner = CliRunner()


def run(*args, input: str | None = None):
    return runner.invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def client(serve_models):
    from fastapi.testclient import TestClient

    from seqtag.serve.app import create_app
    from seqtag.serve.limits import Limits
    from seqtag.serve.service import load_served

    served = load_served([("ner", serve_models["ner"]), ("cls", serve_models["cls"])])
    with TestClient(create_app(served, Limits(**LIMITS)), raise_server_exceptions=True) as test_client:
        yield test_client


def raw_lines(count: int) -> list[str]:
    return [line for line in (SAMPLE / "raw.txt").read_text(encoding="utf-8").splitlines() if line.strip()][:count]


def cli_records(model: Path, lines: list[str], *options: str) -> list[dict]:
    result = run("predict", model, "-", "--format", "jsonl", *options, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def post(client, body, path: str = "/v1/predict", **kwargs):
    return client.post(path, json=body, **kwargs)


# ---------------------------------------------------------------------------- the records are predict's


@pytest.mark.parametrize("options", [{}, {"confidence": True}, {"confidence": True, "nbest": 2}, {"min_confidence": 0.2}])
def test_tagger_records_are_those_of_predict_jsonl(client, serve_models, options):
    lines = raw_lines(6)
    response = post(client, {"texts": lines, **options})
    assert response.status_code == 200, response.text
    answer = response.json()
    flags = (["--confidence"] if options.get("confidence") else []) + (["--nbest", "2"] if options.get("nbest") else [])
    flags += ["--min-confidence", str(options["min_confidence"])] if "min_confidence" in options else []
    assert answer["model"] == "ner" and answer["task"] == "tag"
    assert answer["records"] == cli_records(serve_models["ner"], lines, *flags)
    assert any(record["spans"] for record in answer["records"]), "the tiny tagger should find some entities"


def test_tokens_are_read_as_predict_tokenized_reads_them(client, serve_models):
    rows = [["Kestrel", "Airlines", "moved", "to", "Tokyo", "."], ["John", "Smith", "flew", "to", "Berlin"]]
    answer = post(client, {"model": "ner", "tokens": rows, "confidence": True}).json()
    assert answer["records"] == cli_records(serve_models["ner"], [" ".join(r) for r in rows], "--tokenized", "--confidence")
    assert [record["tokens"] for record in answer["records"]] == rows


@pytest.mark.parametrize("options, flags", [({}, []), ({"top_k": 2, "confidence": True, "nbest": 2},
                                                         ["--top-k", "2", "--confidence", "--nbest", "2"])])
def test_classifier_records_are_those_of_predict_jsonl(client, serve_models, options, flags):
    texts = ["The striker scored twice in the final.", "Shares fell sharply after the bank cut its forecast."]
    answer = post(client, {"model": "cls", "texts": texts, **options}).json()
    assert answer["task"] == "classify"
    assert answer["records"] == cli_records(serve_models["cls"], texts, *flags)
    assert answer["records"][0]["line"] == 1 and answer["records"][1]["line"] == 2


def test_a_text_is_one_document_and_offsets_index_it_as_sent(client):
    text = "John Smith flew from Berlin\nto New York.\r\n\nKestrel Airlines moved its office to Tokyo."
    flat = text.replace("\n", " ").replace("\r", " ")
    for records in (post(client, {"texts": [text]}).json()["records"], post(client, {"texts": [flat]}).json()["records"]):
        for record in records:
            assert record["line"] == 1
            for span in record["spans"]:
                assert span["text"] == text[span["start"] : span["end"]]
    as_sent = post(client, {"texts": [text]}).json()["records"]
    assert [r["tags"] for r in as_sent] == [r["tags"] for r in post(client, {"texts": [flat]}).json()["records"]]


def test_a_byte_order_mark_and_unicode_survive(client):
    for text in ["\ufeffJohn Smith flew to Zürich ☃ with Kestrel Airlines.", "John Smith\u2028flew to Berlin\x85 ."]:
        response = post(client, {"texts": [text], "confidence": True})
        assert response.status_code == 200, response.text
        records = response.json()["records"]
        assert {record["line"] for record in records} == {1}
        for span in [s for record in records for s in record["spans"]]:
            assert text[span["start"] : span["end"]] == span["text"]


def test_models_say_what_seqtag_info_says(client, serve_models):
    answer = client.get("/v1/models").json()
    assert [(m["name"], m["task"], m["default"]) for m in answer["models"]] == [("ner", "tag", True), ("cls", "classify", False)]
    for entry, name in zip(answer["models"], ("ner", "cls")):
        result = run("info", serve_models[name], "--format", "json")
        assert entry["info"] == json.loads(result.stdout)
        assert re.fullmatch(rf"{name}@[0-9a-f]{{12}}", entry["version"])


def test_health_docs_and_page(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and set(health["models"]) == {"ner", "cls"}
    assert health["limits"]["max_texts"] == LIMITS["max_texts"]
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"texts", "tokens", "confidence", "nbest", "top_k", "model"} <= set(body["properties"])
    assert {"/predict", "/doccano", "/v1/models", "/healthz"} <= set(schema["paths"])
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # one file, plain JavaScript, nothing from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)
    assert "<script>" in page.text and "fetch(\"v1/predict\"" in page.text


def test_the_api_browser_needs_nothing_from_elsewhere(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    linked = re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", docs.text)
    assert {"/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(linked)
    assert not [url for url in linked if "//" in url], linked  # no CDN: every file comes from the server
    for url, kind in (("/docs/assets/swagger-ui-bundle.js", "javascript"), ("/docs/assets/swagger-ui.css", "text/css"),
                      ("/docs/assets/favicon-32x32.png", "image/png")):
        answer = client.get(url)
        assert answer.status_code == 200 and kind in answer.headers["content-type"] and len(answer.content) > 500
    missing = client.get("/docs/assets/nope.js")
    assert missing.status_code == 404 and missing.json()["status"] == 404



def test_the_api_browser_behind_a_proxy_keeps_its_path(client):
    from fastapi.testclient import TestClient

    # A proxy that serves the app under /nlp (uvicorn --root-path): every link of /docs starts with it.
    docs = TestClient(client.app, root_path="/nlp").get("/docs").text
    linked = re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", docs)
    assert {"/nlp/openapi.json", "/nlp/docs/assets/swagger-ui-bundle.js", "/nlp/docs/assets/swagger-ui.css"} <= set(linked)


def test_the_page_and_the_static_pages_share_their_colours():
    from seqtag.serve.pages import PALETTE, index_page

    listed = re.search(r"const PALETTE = (\[[^\]]*\])", index_page()).group(1)
    assert json.loads(listed) == PALETTE


# ---------------------------------------------------------------------------- annotation tools


def test_label_studio_predictions(client):
    text = "John Smith flew from Berlin to New York to meet the board of Deutsche Bank."
    spans = [s for r in post(client, {"texts": [text], "confidence": True}).json()["records"] for s in r["spans"]]
    tasks = [{"id": 7, "data": {"body": text}}, {"id": 8, "data": {"body": "  "}}]
    response = post(client, {"tasks": tasks, "label_config": NER_CONFIG, "project": "3.1700000000"}, "/predict")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert len(answer["results"]) == 2 and answer["model_version"].startswith("ner@")
    regions = answer["results"][0]["result"]
    assert [(r["value"]["start"], r["value"]["end"], r["value"]["text"], r["value"]["labels"]) for r in regions] == [
        (s["start"], s["end"], s["text"], [s["type"]]) for s in spans]
    for region, span in zip(regions, spans):
        assert (region["from_name"], region["to_name"], region["type"]) == ("ner", "doc", "labels")
        assert region["score"] == span["confidence"]
    assert 0 < answer["results"][0]["score"] <= 1
    assert answer["results"][1] == {"result": [], "score": 0.0, "model_version": answer["model_version"]}
    default = post(client, {"tasks": [{"data": {"text": text}}]}, "/labelstudio/ner/predict").json()
    assert [(r["from_name"], r["to_name"]) for r in default["results"][0]["result"]] == [("label", "text")] * len(spans)
    assert client.get("/health").json()["status"] == "UP"
    assert post(client, {"project": "1", "schema": NER_CONFIG}, "/setup").json() == {"model_version": answer["model_version"]}


def test_label_studio_choices_from_a_classifier(client):
    text = "The striker scored twice in the final."
    record = post(client, {"model": "cls", "texts": [text], "confidence": True}).json()["records"][0]
    answer = post(client, {"tasks": [{"id": 1, "data": {"text": text}}], "label_config": CLS_CONFIG},
                  "/labelstudio/cls/predict").json()
    (region,) = answer["results"][0]["result"]
    assert region["type"] == "choices" and region["value"] == {"choices": [record["label"]]}
    assert (region["from_name"], region["to_name"]) == ("topic", "txt")
    assert answer["results"][0]["score"] == record["confidence"]


def test_doccano_labels(client):
    text = "Kestrel Airlines moved its office to Tokyo."
    spans = [s for r in post(client, {"texts": [text]}).json()["records"] for s in r["spans"]]
    expected = [{"label": s["type"], "start_offset": s["start"], "end_offset": s["end"]} for s in spans]
    assert post(client, {"text": text}, "/doccano").json() == expected
    assert post(client, {"text": text}, "/doccano/ner").json() == expected
    assert client.get("/doccano", params={"text": text}).json() == expected
    label = post(client, {"model": "cls", "texts": [text]}).json()["records"][0]["label"]
    assert post(client, {"text": text}, "/doccano/cls").json() == [{"label": label}]


# ---------------------------------------------------------------------------- the bad-request catalogue

OK_BODY = {"texts": ["John lives in Berlin."]}
BAD = [
    # (name, method, path, body bytes or JSON value, headers, status, fragment of the error)
    ("malformed JSON", "POST", "/v1/predict", b'{"texts": [', {}, 400, "malformed JSON"),
    ("trailing garbage", "POST", "/v1/predict", b'{"texts": ["a"]} x', {}, 400, "malformed JSON"),
    ("empty body", "POST", "/v1/predict", b"", {}, 400, "body is empty"),
    ("not UTF-8", "POST", "/v1/predict", b'{"texts": ["\xff\xfe"]}', {}, 400, "not UTF-8"),
    ("arrays nested 100k deep", "POST", "/v1/predict", b"[" * 100_000 + b"]" * 100_000, {}, 400, "nested too deeply"),
    ("objects nested 20k deep", "POST", "/v1/predict", b'{"a":' * 20_000 + b"1" + b"}" * 20_000, {}, 400,
     "nested too deeply"),
    ("a 5000-digit number", "POST", "/v1/predict", b'{"texts": ["a"], "nbest": ' + b"9" * 5000 + b"}", {}, 400, "malformed JSON"),
    ("an array body", "POST", "/v1/predict", ["John"], {}, 422, "must be a JSON object"),
    ("unknown field", "POST", "/v1/predict", {"textz": ["a"]}, {}, 422, "unknown field 'textz'"),
    ("texts a string", "POST", "/v1/predict", {"texts": "John lives here"}, {}, 422, "texts: expected an array"),
    ("a text a number", "POST", "/v1/predict", {"texts": ["a", 3]}, {}, 422, "texts[1]: expected a string, got a number"),
    ("a text null", "POST", "/v1/predict", {"texts": [None]}, {}, 422, "texts[0]: expected a string, got null"),
    ("no texts", "POST", "/v1/predict", {"texts": []}, {}, 422, "texts is empty"),
    ("an empty text", "POST", "/v1/predict", {"texts": ["ok", ""]}, {}, 422, "texts[1] is empty"),
    ("a blank text", "POST", "/v1/predict", {"texts": [" \n\t "]}, {}, 422, "texts[0] is empty"),
    ("texts and tokens", "POST", "/v1/predict", {"texts": ["a"], "tokens": [["a"]]}, {}, 422, "not both"),
    ("neither", "POST", "/v1/predict", {"confidence": True}, {}, 422, "give either texts"),
    ("a token a number", "POST", "/v1/predict", {"tokens": [["a", 1]]}, {}, 422, "tokens[0][1]: expected a token"),
    ("an empty token list", "POST", "/v1/predict", {"tokens": [["a"], []]}, {}, 422, "tokens[1] is empty"),
    ("a token with a space", "POST", "/v1/predict", {"tokens": [["New York"]]}, {}, 422, "holds whitespace"),
    ("an empty token", "POST", "/v1/predict", {"tokens": [["a", ""]]}, {}, 422, "tokens[0][1] is empty"),
    ("a 100k-char token", "POST", "/v1/predict", {"tokens": [["x" * 100_000]]}, {}, 413, "--max-chars"),
    ("a 100k-char text", "POST", "/v1/predict", {"texts": ["x" * 100_000]}, {}, 413, "--max-chars"),
    ("too many texts", "POST", "/v1/predict", {"texts": ["a"] * 9}, {}, 413, "--max-texts"),
    ("a huge body", "POST", "/v1/predict", {"texts": ["word " * 200] * 300}, {}, 413, "--max-body"),
    ("confidence a string", "POST", "/v1/predict", {"texts": ["a"], "confidence": "yes"}, {}, 422, "confidence: expected true or false"),
    ("nbest zero", "POST", "/v1/predict", {"texts": ["a"], "nbest": 0}, {}, 422, "nbest: expected at least 1"),
    ("nbest over the limit", "POST", "/v1/predict", {"texts": ["a"], "nbest": 1000}, {}, 422, "--max-nbest"),
    ("nbest a fraction", "POST", "/v1/predict", {"texts": ["a"], "nbest": 1.5}, {}, 422, "nbest: expected a whole number"),
    ("nbest a boolean", "POST", "/v1/predict", {"texts": ["a"], "nbest": True}, {}, 422, "expected a whole number, got a boolean"),
    ("min_confidence a string", "POST", "/v1/predict", {"texts": ["a"], "min_confidence": "0.5"}, {}, 422,
     "min_confidence: expected a probability"),
    ("min_confidence above 1", "POST", "/v1/predict", {"texts": ["a"], "min_confidence": 1.5}, {}, 422,
     "min_confidence: must be a probability in (0, 1]"),
    ("min_confidence on a classifier", "POST", "/v1/predict", {"model": "cls", "texts": ["a"], "min_confidence": 0.5},
     {}, 422, "min_confidence: is for taggers"),
    ("top_k on a tagger", "POST", "/v1/predict", {"texts": ["a"], "top_k": 2}, {}, 422, "top_k: is for classifiers"),
    ("an unknown model", "POST", "/v1/predict", {"model": "nope", "texts": ["a"]}, {}, 404, "no model called 'nope'"),
    ("a model number", "POST", "/v1/predict", {"model": 1, "texts": ["a"]}, {}, 422, "model: expected a model name"),
    ("an unpaired surrogate", "POST", "/v1/predict", b'{"texts": ["ab\\ud800c"]}', {}, 422, "unpaired surrogate"),
    ("not JSON", "POST", "/v1/predict", b"texts=John", {"content-type": "application/x-www-form-urlencoded"}, 415,
     "Content-Type: application/json"),
    ("GET on predict", "GET", "/v1/predict", None, {}, 405, "use POST"),
    ("no such endpoint", "POST", "/v2/predict", OK_BODY, {}, 404, "no such endpoint"),
    ("Label Studio without tasks", "POST", "/predict", {"label_config": NER_CONFIG}, {}, 422, "tasks: expected an array"),
    ("Label Studio bad XML", "POST", "/predict", {"tasks": [{"data": {"text": "a"}}], "label_config": "<View>"}, {}, 422,
     "not valid XML"),
    ("Label Studio without Labels", "POST", "/predict", {"tasks": [{"data": {"text": "a"}}], "label_config": CLS_CONFIG},
     {}, 422, "no <Labels> tag"),
    ("Label Studio task without the text", "POST", "/predict", {"tasks": [{"data": {"txt": "a"}}]}, {}, 422,
     "has no 'text'"),
    ("Label Studio unknown model", "POST", "/labelstudio/nope/predict", {"tasks": [{"data": {"text": "a"}}]}, {}, 404,
     "no model called"),
    ("Doccano without text", "POST", "/doccano", {"txt": "a"}, {}, 422, "unknown field 'txt'"),
    ("Doccano GET without text", "GET", "/doccano", None, {}, 422, "text is missing"),
]


@pytest.mark.parametrize("name, method, path, body, headers, status, fragment", BAD, ids=[case[0] for case in BAD])
def test_bad_request_catalogue(client, name, method, path, body, headers, status, fragment):
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json", **headers} if content is not None else headers
    response = client.request(method, path, content=content, headers=headers)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["status"] == status and fragment in answer["error"], answer
    assert "Traceback" not in response.text
    again = post(client, OK_BODY)  # still serving
    assert again.status_code == 200 and again.json()["records"][0]["tokens"] == ["John", "lives", "in", "Berlin", "."]


def test_the_catalogue_is_large_enough():
    assert len(BAD) >= 25


# ---------------------------------------------------------------------------- dynamic batching


def test_the_batcher_shares_passes_keeps_order_and_isolates_failures():
    from seqtag.serve.batching import Batcher, Closed

    passes: list[int] = []

    def run(key, token_lists):
        if any(tokens == ["boom"] for tokens in token_lists):
            raise ValueError("boom")
        passes.append(len(token_lists))
        time.sleep(0.01)
        return [(key, " ".join(tokens)) for tokens in token_lists]

    batcher = Batcher(run, max_batch=8, max_wait=0.05, name="test", crowd=lambda: 13)  # 13 requests in the server

    async def main():
        async def one(i: int, key: str):
            return await batcher.submit(key, [[f"t{i}", "a"], [f"t{i}", "b"]])

        async def bad():
            return await batcher.submit("k", [["boom"]])

        jobs = [one(i, "k" if i % 3 else "other") for i in range(12)] + [bad()]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    for i, result in enumerate(results[:12]):
        key = "k" if i % 3 else "other"
        assert result == [(key, f"t{i} a"), (key, f"t{i} b")]
    assert isinstance(results[12], ValueError)
    assert len(passes) < 12 and max(passes) <= 8 and sum(passes) == 24
    batcher.close(timeout=5)
    with pytest.raises(Closed):
        asyncio.run(batcher.submit("k", [["late"]]))


def test_jobs_queued_during_a_pass_wait_for_the_clients_it_answered():
    """The wait for company counts from the end of the last pass: a job that queued during a long pass
    still waits (up to max_wait) for the requests that pass has just answered, instead of running alone."""
    from seqtag.serve.batching import Batcher

    passes: list[list[str]] = []
    release = threading.Event()

    def run(key, token_lists):
        passes.append([tokens[0] for tokens in token_lists])
        if len(passes) == 1:
            release.wait(5)  # the first pass lasts far longer than max_wait
        return token_lists

    batcher = Batcher(run, max_batch=8, max_wait=0.5, name="test", crowd=lambda: 3)  # more requests are on their way

    async def main():
        first = asyncio.ensure_future(batcher.submit("k", [["a"]]))
        while not passes:
            await asyncio.sleep(0.005)
        queued = asyncio.ensure_future(batcher.submit("k", [["b"]]))  # arrives during the first pass
        await asyncio.sleep(0.7)  # longer than max_wait: b's own wait has run out
        release.set()
        await first
        await asyncio.sleep(0.05)  # the answered client sends its next request
        later = asyncio.ensure_future(batcher.submit("k", [["c"]]))
        return await asyncio.gather(queued, later)

    assert asyncio.run(main()) == [[["b"]], [["c"]]]
    batcher.close(timeout=5)
    assert passes == [["a"], ["b", "c"]]


def test_the_batcher_sets_up_its_thread_before_the_first_pass():
    """`seqtag serve` sets the torch threads in the batching thread (Limits.threads), never in the main one."""
    from seqtag.serve.batching import Batcher

    seen: list[tuple[str, str]] = []
    batcher = Batcher(lambda key, lists: seen.append(("run", threading.current_thread().name)) or lists,
                      setup=lambda: seen.append(("setup", threading.current_thread().name)))
    assert asyncio.run(batcher.submit("k", [["a"]])) == [["a"]]
    batcher.close(timeout=5)
    assert [what for what, _ in seen] == ["setup", "run"]
    assert seen[0][1] == seen[1][1] != threading.main_thread().name


def test_one_batching_thread_serves_every_model_and_counts_each(serve_models):
    from fastapi.testclient import TestClient

    from seqtag.serve.app import create_app
    from seqtag.serve.limits import Limits
    from seqtag.serve.service import load_served

    served = load_served([("ner", serve_models["ner"]), ("cls", serve_models["cls"])])
    lines = raw_lines(6)
    before = set(threading.enumerate())  # other tests' servers may still run
    with TestClient(create_app(served, Limits(max_batch=64, max_wait_ms=50))) as test_client:
        batchers = [t for t in set(threading.enumerate()) - before if t.name.startswith("seqtag-batcher")]
        answers: dict[tuple[str, int], dict] = {}

        def ask(model: str, i: int) -> None:
            answers[model, i] = post(test_client, {"model": model, "texts": [lines[i]]}).json()

        threads = [threading.Thread(target=ask, args=(m, i)) for m in ("ner", "cls") for i in range(len(lines))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        health = test_client.get("/healthz").json()["models"]
    assert len(batchers) == 1
    assert all(answers["ner", i]["task"] == "tag" and answers["cls", i]["task"] == "classify" for i in range(len(lines)))
    assert health["cls"]["predicted"] == len(lines)  # a text each
    assert health["ner"]["predicted"] >= len(lines)  # a sentence or more each
    assert health["ner"]["passes"] + health["cls"]["passes"] < 2 * len(lines)  # shared passes, one model each


def test_concurrent_requests_share_forward_passes(serve_models):
    from fastapi.testclient import TestClient

    from seqtag.serve.app import create_app
    from seqtag.serve.limits import Limits
    from seqtag.serve.service import load_served

    served = load_served([("ner", serve_models["ner"])])
    lines = raw_lines(16)
    answers: dict[int, dict] = {}
    with TestClient(create_app(served, Limits(max_batch=16, max_wait_ms=200))) as test_client:
        def ask(i: int) -> None:
            answers[i] = post(test_client, {"texts": [lines[i]]}).json()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(lines))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        health = test_client.get("/healthz").json()["models"]["ner"]
        alone = post(test_client, {"texts": lines}).json()["records"]
    assert health["predicted"] >= len(lines) and health["largest_pass"] > 1 and health["passes"] < len(lines)
    together = [record for i in range(len(lines)) for record in answers[i]["records"]]
    assert [r["tags"] for r in together] == [r["tags"] for r in alone]


# ---------------------------------------------------------------------------- the command and the pages


def test_serve_refuses_bad_arguments_in_one_line(serve_models, tmp_path):
    for args, fragment in [
        ((tmp_path / "missing.seqtag",), "no such model file"),
        ((serve_models["ner"], f"ner={serve_models['cls']}"), "two models are called 'ner'"),
        ((SAMPLE / "ner" / "train.txt",), "train.txt"),
    ]:
        result = run("serve", *args, "--port", "0")
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("seqtag: error: ") and fragment in lines[0], result.stderr


def test_worker_count_defaults_and_refusals(monkeypatch):
    from seqtag.cli.serve import worker_count
    from seqtag.errors import InputError

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert worker_count(None, "cpu") == 4 and worker_count(None, "cuda") == 1 and worker_count(3, "cpu") == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert worker_count(None, "cpu") == 1
    with pytest.raises(InputError, match="worker processes serve on the CPU") as refused:
        worker_count(2, "cuda")
    assert refused.value.path == "--workers"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert worker_count(None, "cpu") == 1 and worker_count(1, "cpu") == 1
    with pytest.raises(InputError, match="needs Linux"):
        worker_count(2, "cpu")


def test_predict_format_html(serve_models):
    lines = raw_lines(5)
    result = run("predict", serve_models["ner"], "-", "--format", "html", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    spans = [(s["text"], s["type"], s["confidence"]) for r in cli_records(serve_models["ner"], lines, "--confidence")
             for s in r["spans"]]
    marks = re.findall(r'<mark class="ent" style="[^"]*" data-label="([^"]*)" data-probability="([^"]*)" '
                       r'data-tip="([^"]*)">(.*?)<span class="lbl">', page)
    assert [(text, label, round(float(p), 6)) for label, p, _, text in marks] == spans
    assert all(tip == f"{label} {100 * float(p):.1f}%" for label, p, tip, _ in marks)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    clf = run("predict", serve_models["cls"], "-", "--format", "html", input="The striker scored twice.\n")
    assert clf.exit_code == 0 and 'class="bars"' in clf.stdout and "The striker scored twice." in clf.stdout
    refused = run("predict", serve_models["ner"], "-", "--format", "html", "--nbest", "2", input="a\n")
    assert refused.exit_code == 2 and "--nbest needs --format jsonl" in refused.stderr


def test_evaluate_html(serve_models, tmp_path):
    page_path = tmp_path / "eval.html"
    result = run("evaluate", serve_models["ner"], SAMPLE / "ner" / "test.txt", "--html", page_path, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    page = page_path.read_text(encoding="utf-8")
    pairs = re.findall(r'<div class="pair (err|ok)" data-line="(\d+)">', page)
    assert len(pairs) == report["sentences"]
    wrong = sum(kind == "err" for kind, _ in pairs)
    assert 0 < wrong < len(pairs) and f"({wrong:,} of {len(pairs):,})" in page
    assert page.count('class="ent fp"') + page.count('class="ent fn"') >= wrong
    cls_page = tmp_path / "cls.html"
    result = run("evaluate", serve_models["cls"], SAMPLE / "cls" / "test.tsv", "--html", cls_page)
    assert result.exit_code == 0, result.output
    assert cls_page.read_text().count('<tr class="') == 150
    missing = run("evaluate", serve_models["ner"], SAMPLE / "ner" / "test.txt", "--html", tmp_path / "no" / "x.html")
    assert missing.exit_code == 2 and "no such folder" in missing.stderr


def test_a_plain_tag_model(tmp_path):
    """Plain tags (POS-like: the sample's entity types without B-/I-): records as predict writes them, tokens
    over their tags on the page, and Label Studio refused in one line (no entities to pre-annotate)."""
    from fastapi.testclient import TestClient

    import seqtag
    from seqtag.serve.app import create_app
    from seqtag.serve.service import load_served

    rows = (SAMPLE / "ner" / "train.txt").read_text(encoding="utf-8").split("\n\n")[:300]
    plain = "\n\n".join("\n".join(re.sub(r" [BI]-(\w+)$", r" \1", line) for line in block.splitlines()) for block in rows)
    train = tmp_path / "train.txt"
    train.write_text(plain + "\n", encoding="utf-8")
    path = tmp_path / "plain.seqtag"
    seqtag.train(train=train, output=path, **TINY)
    lines = raw_lines(3)
    with TestClient(create_app(load_served([("pos", path)]))) as test_client:
        records = post(test_client, {"texts": lines}).json()["records"]
        assert records == cli_records(path, lines)
        assert all(record["spans"] == [] and record["tags"] for record in records)
        refused = post(test_client, {"tasks": [{"data": {"text": lines[0]}}]}, "/predict")
        assert refused.status_code == 422 and "plain tags" in refused.json()["error"]
    page = run("predict", path, "-", "--format", "html", input=lines[0] + "\n").stdout
    first = sum(len(record["tokens"]) for record in records if record["line"] == 1)
    assert page.count('<span class="tok">') == first and "<mark" not in page.split("<h1>")[1]
