"""The FastAPI application of `seqtag serve`.

Routes (documented in docs/serve.md and at /docs):

- ``GET /`` the page; ``GET /docs`` Swagger UI (its files under ``/docs/assets/``); ``GET /healthz``;
  ``GET /v1/models``; ``POST /v1/predict``;
- Label Studio's ML backend: ``POST /predict``, ``POST /setup``, ``GET /health`` (the first model), and the
  same under ``/labelstudio/{model}/``;
- Doccano's custom REST request: ``POST /doccano`` and ``/doccano/{model}`` (``{"text": …}``), or ``GET`` with
  ``?text=``.

Every refusal is a 4xx JSON object ``{"error": "<what is wrong>", "status": N}``. Bodies are read by
:class:`Guard` before any route runs: bounded in size (413), in time (408) and in content type (415). JSON is
parsed and checked by :mod:`seqtag.serve.service`, not by FastAPI, so every message names the field that
is wrong; the pydantic models of :mod:`seqtag.serve.schemas` only document the formats in the OpenAPI schema.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from seqtag._version import __version__
from seqtag.data.context import model_input
from seqtag.serve import annotators, schemas
from seqtag.serve.batching import Batcher, Closed
from seqtag.serve.limits import Limits
from seqtag.serve.pages import index_page
from seqtag.serve.service import (
    ApiError, Served, find_model, parse_json, parse_query, prepare, records, response_body,
)

log = logging.getLogger("seqtag.serve")
INLINE_CHARS = 2_000  # requests with fewer characters are read and written on the event loop; larger ones in a thread
# Swagger UI's script, style and icon, served from the fastapi-swagger wheel (FastAPI's own /docs loads them from
# a CDN): /docs works where the browser has no internet access.
SWAGGER_ASSETS = "/docs/assets"
SWAGGER_FILES = ("fastapi_swagger", "resources")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def error_response(status: int, message: str, close: bool = False) -> JSONResponse:
    headers = {"connection": "close"} if close else None
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


class Crowd:
    """How many POST requests are in the server, from their headers to their answer: a pass waits for
    company only while some are not queued yet (:mod:`seqtag.serve.batching`)."""

    def __init__(self) -> None:
        self.count = 0
        self.batcher: Batcher | None = None

    def __call__(self) -> int:
        return self.count

    def leave(self) -> None:
        self.count -= 1
        if self.batcher is not None:
            self.batcher.poke()


class Guard:
    """The outermost ASGI layer, in front of FastAPI: reads the body of POST / PUT / PATCH requests before
    the routes do, at most ``max_body`` bytes (413) within ``read_timeout`` seconds (408), and only JSON
    (415); a client that goes away meanwhile is simply dropped. The routes then get the whole body at once.
    ``POST /v1/predict``, the hot path, is answered here by :func:`predict_answer` without FastAPI's
    middleware and routing (the route declared in the app documents it and answers the same); they were a
    fifth of the event loop's time per request."""

    def __init__(self, app: Any, limits: Limits, crowd: Crowd, fast: Callable[[bytes], Awaitable[Response]]) -> None:
        self.app = app
        self.limits = limits
        self.crowd = crowd
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        self.crowd.count += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.crowd.leave()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = self.limits.max_body
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, f"bad Content-Length header {declared!r}", close=True)(scope, receive, send)
                return
            if int(declared) > limit:
                await error_response(413, f"the body has {int(declared):,} bytes; this server takes at most {limit:,} "
                                          "(--max-body)", close=True)(scope, receive, send)
                return
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and kind != "application/json" and not kind.endswith("+json"):
            await error_response(415, f"the body must be JSON (Content-Type: application/json), not {kind!r}; "
                                      "with curl: -H 'Content-Type: application/json'", close=True)(scope, receive, send)
            return
        try:
            body = await _read_body(receive, limit, self.limits.read_timeout)
        except asyncio.TimeoutError:
            await error_response(408, f"the body did not arrive within {self.limits.read_timeout:g} s "
                                      "(--read-timeout)", close=True)(scope, receive, send)
            return
        except OverflowError:
            await error_response(413, f"the body has more than {limit:,} bytes; this server takes at most {limit:,} "
                                      "(--max-body)", close=True)(scope, receive, send)
            return
        if body is None:
            return  # the client is gone: nobody to answer
        if scope["path"] == "/v1/predict" and scope["method"] == "POST":
            await (await self.fast(body))(scope, receive, send)
            return
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect comes

        scope.setdefault("state", {})["body"] = body
        await self.app(scope, replay, send)


async def _read_body(receive: Receive, limit: int, seconds: float) -> bytes | None:
    """The request's body (None if the client disconnected meanwhile): asyncio.TimeoutError when it takes
    longer than ``seconds``, OverflowError past ``limit`` bytes. One timer for the whole body, and on
    Python 3.11+ no task: a timeout per message (``asyncio.wait_for``) cost a task and a timer each."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await _body(receive, limit)
    return await asyncio.wait_for(_body(receive, limit), seconds)


async def _body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise OverflowError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _trim_memory(every: float = 10.0) -> None:
    """Every ``every`` seconds, glibc's ``malloc_trim(0)``: hand the pages freed by passes of ever new tensor
    shapes back to the system. Without it the server grew by ~8 % over 100,000 requests, with no Python
    object left behind. Elsewhere than glibc, nothing."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        await loop.run_in_executor(None, trim, 0)


def create_app(served: list[Served], limits: Limits | None = None, worker: tuple[int, int] = (1, 1)) -> Guard:
    """The ASGI application serving ``served`` (the first is the default model) under ``limits``: the
    FastAPI app (``.app``) behind its :class:`Guard`. ``worker``: this process's number among the server's
    processes, and how many there are (for /healthz)."""
    limits = limits or Limits()
    models = {s.name: s for s in served}
    if not models:
        raise ValueError("no models to serve")
    started = time.monotonic()
    crowd = Crowd()

    def run_pass(key: Any, token_lists: list[Sequence[str]]) -> list[Any]:
        name, method, options = key
        return models[name].run_pass(method, options, token_lists, limits.max_batch)

    def setup() -> None:
        if limits.threads is not None:
            import torch

            torch.set_num_threads(limits.threads)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One batching thread runs the passes of every model: passes of two models never compete for the
        # cores (two threads with torch teams of their own ran 30-40 % slower in all).
        crowd.batcher = Batcher(run_pass, limits.max_batch, limits.max_wait_ms / 1000, "models", crowd, setup)
        trimming = asyncio.ensure_future(_trim_memory())
        try:
            yield
        finally:
            trimming.cancel()
            # uvicorn gets here after the last in-flight request has been answered.
            await asyncio.get_running_loop().run_in_executor(None, crowd.batcher.close)

    app = FastAPI(
        title="seqtag",
        version=__version__,
        summary="Sequence taggers and text classifiers over HTTP, with dynamic batching.",
        description=(
            "Requests and responses are described in docs/serve.md. Every error is a JSON object "
            '`{"error": "...", "status": N}` with a 4xx status.'
        ),
        lifespan=lifespan,
        docs_url=None,  # served below, from local files
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.served = models
    app.state.limits = limits

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (the endpoints are listed at /docs)"
        elif error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}" + (f"; use {allowed}" if allowed else "")
        else:
            message = str(error.detail)
        return JSONResponse({"error": message, "status": error.status_code}, status_code=error.status_code,
                            headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("path", "query", "body"))
        return error_response(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(error).__name__}); the server log has the details")

    async def body_of(request: Request) -> Any:
        body = request.scope.get("state", {}).get("body")
        return parse_json(body if body is not None else await request.body())

    async def answer(model: Served, query: Any) -> list[str]:
        """The records for ``query`` from ``model``: read, batched with other requests, written."""
        batcher = crowd.batcher
        if batcher is None:
            raise ApiError(503, "the server is not running (start-up has not finished, or it is shutting down)")
        loop = asyncio.get_running_loop()
        big = query.chars > INLINE_CHARS or query.count > 64
        job = await loop.run_in_executor(None, prepare, model, query) if big else prepare(model, query)
        try:
            predictions = await batcher.submit(job.key, [model_input(item) for item in job.items])
        except Closed:
            raise ApiError(503, "the server is shutting down") from None
        if big:
            return await loop.run_in_executor(None, records, model, job, predictions)
        return records(model, job, predictions)

    async def predict_answer(body: bytes) -> Response:
        """The answer to a /v1/predict body: the records, or the error as JSON."""
        try:
            name, query = parse_query(parse_json(body), limits)
            model = find_model(models, name)
            lines = await answer(model, query)
            return Response(response_body(model, lines), media_type="application/json")
        except ApiError as error:
            return error_response(error.status, error.message)
        except Exception as error:  # noqa: BLE001 - a bug: said as JSON, logged with its traceback
            log.exception("internal error on POST /v1/predict")
            return error_response(500, f"internal error ({type(error).__name__}); the server log has the details")

    # ---- pages and health ----

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(index_page())

    app.mount(SWAGGER_ASSETS, StaticFiles(packages=[SWAGGER_FILES]), name="swagger-assets")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy that serves the app under a path
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} {__version__}: API",
            swagger_js_url=f"{root}{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_ASSETS}/favicon-32x32.png",
        )

    @app.get("/healthz", response_model=schemas.Health, tags=["service"])
    async def healthz() -> dict:
        """Whether the server is up, its models, the batching counters and the limits. The counters are the
        whole server's (every worker process); ``this_worker`` has those of the worker that answers (``worker``
        of ``workers``), and ``queued`` is always that worker's."""
        queued = Counter(key[0] for key in crowd.batcher.queued_keys()) if crowd.batcher else Counter()
        return {
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.monotonic() - started, 3),
            "worker": worker[0],
            "workers": worker[1],
            "models": {
                name: {
                    "task": model.task,
                    "queued": queued.get(name, 0),
                    **model.counters(),
                    "this_worker": {"passes": model.passes, "predicted": model.predicted,
                                    "largest_pass": model.largest_pass},
                }
                for name, model in models.items()
            },
            "limits": limits.describe(),
        }

    @app.get("/v1/models", response_model=schemas.Models, tags=["predict"])
    async def list_models() -> dict:
        """Each model: its name, task, whether it is the default, and what `seqtag info --format json` says."""
        return {"models": [model.describe(i == 0) for i, model in enumerate(served)]}

    # ---- prediction ----

    @app.post("/v1/predict", tags=["predict"], openapi_extra=schemas.body(schemas.PredictRequest),
              responses={200: {"model": schemas.PredictResponse}, **schemas.ERRORS})
    async def predict(request: Request) -> Response:
        """Tag or classify texts (or token lists): the records of `seqtag predict --format jsonl`."""
        body = request.scope.get("state", {}).get("body")
        return await predict_answer(body if body is not None else await request.body())

    # ---- Label Studio ----

    async def ls_predict(request: Request, model: Served) -> JSONResponse:
        tasks, where = annotators.labelstudio_request(await body_of(request), model, limits)
        texts = [text for text in tasks if text]
        lines = await answer(model, annotators.query_of(texts, model)) if texts else []
        return JSONResponse(annotators.labelstudio_response(tasks, [json.loads(line) for line in lines], where, model))

    @app.post("/predict", tags=["Label Studio"], openapi_extra=schemas.body(schemas.LabelStudioRequest),
              responses={200: {"model": schemas.LabelStudioResponse}, **schemas.ERRORS})
    async def labelstudio_default(request: Request) -> JSONResponse:
        """Label Studio ML backend: pre-annotations for tasks, from the first model."""
        return await ls_predict(request, served[0])

    @app.post("/labelstudio/{model}/predict", tags=["Label Studio"],
              openapi_extra=schemas.body(schemas.LabelStudioRequest),
              responses={200: {"model": schemas.LabelStudioResponse}, **schemas.ERRORS})
    async def labelstudio_named(model: str, request: Request) -> JSONResponse:
        """Label Studio ML backend: pre-annotations for tasks, from the model called MODEL."""
        return await ls_predict(request, find_model(models, model))

    async def ls_setup(request: Request, model: Served) -> dict:
        await body_of(request)  # checked as JSON; nothing in it changes the model
        return {"model_version": model.version}

    @app.post("/setup", tags=["Label Studio"])
    async def labelstudio_setup(request: Request) -> dict:
        """Label Studio ML backend: the model version (the project's settings change nothing)."""
        return await ls_setup(request, served[0])

    @app.post("/labelstudio/{model}/setup", tags=["Label Studio"])
    async def labelstudio_setup_named(model: str, request: Request) -> dict:
        return await ls_setup(request, find_model(models, model))

    @app.get("/health", tags=["Label Studio"])
    async def labelstudio_health() -> dict:
        """Label Studio ML backend: health."""
        return {"status": "UP", "model_class": f"seqtag {served[0].task}", "model_version": served[0].version}

    @app.get("/labelstudio/{model}/health", tags=["Label Studio"])
    async def labelstudio_health_named(model: str) -> dict:
        found = find_model(models, model)
        return {"status": "UP", "model_class": f"seqtag {found.task}", "model_version": found.version}

    # ---- Doccano ----

    async def doccano(model: Served, text: Any) -> JSONResponse:
        text = annotators.doccano_text(text, limits)
        lines = await answer(model, annotators.query_of([text], model))
        return JSONResponse(annotators.doccano_labels([json.loads(line) for line in lines]))

    @app.post("/doccano", tags=["Doccano"], openapi_extra=schemas.body(schemas.DoccanoRequest),
              responses={200: {"model": schemas.DoccanoResponse}, **schemas.ERRORS})
    async def doccano_default(request: Request) -> JSONResponse:
        """Doccano's custom REST request (body `{"text": "{{ text }}"}`), from the first model."""
        return await doccano(served[0], annotators.doccano_body(await body_of(request)))

    @app.post("/doccano/{model}", tags=["Doccano"], openapi_extra=schemas.body(schemas.DoccanoRequest),
              responses={200: {"model": schemas.DoccanoResponse}, **schemas.ERRORS})
    async def doccano_named(model: str, request: Request) -> JSONResponse:
        """Doccano's custom REST request, from the model called MODEL."""
        return await doccano(find_model(models, model), annotators.doccano_body(await body_of(request)))

    @app.get("/doccano", tags=["Doccano"])
    async def doccano_get(text: Optional[str] = None) -> JSONResponse:
        """Doccano's custom REST request as GET with the parameter `text={{ text }}`."""
        return await doccano(served[0], text)

    @app.get("/doccano/{model}", tags=["Doccano"])
    async def doccano_get_named(model: str, text: Optional[str] = None) -> JSONResponse:
        return await doccano(find_model(models, model), text)

    return Guard(app, limits, crowd, predict_answer)
