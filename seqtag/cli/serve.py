"""`seqtag serve`: keep models loaded behind an HTTP API (FastAPI on uvicorn) and a web page."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from seqtag.cli._common import err, reports_input_errors


@reports_input_errors
def serve(
    models: Annotated[list[str], typer.Argument(metavar="MODEL...", help="Model files to serve, each as MODEL (named after the file: ner.seqtag -> ner) or NAME=MODEL. The first is the default model.")],
    host: Annotated[str, typer.Option(help="Address to listen on. 127.0.0.1 answers this machine only; 0.0.0.0 every network (the server has no authentication: put it behind a proxy that has).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one (the address is printed on stderr).", min=0, max=65535)] = 8080,
    max_batch: Annotated[int, typer.Option(help="Dynamic batching: the most sentences or texts in one forward pass, gathered from concurrent requests.", min=1)] = 32,
    max_wait_ms: Annotated[float, typer.Option(help="Dynamic batching: how long a pass may wait for more requests after its first one arrived or the previous pass ended, in milliseconds (only while other requests are in the server).", min=0)] = 2.0,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes (413 above).", min=1)] = 1 << 20,
    max_texts: Annotated[int, typer.Option(help="Most texts, token lists or annotation tasks in one request (413 above).", min=1)] = 256,
    max_chars: Annotated[int, typer.Option(help="Most characters in one text, or in one token list joined by spaces (413 above).", min=1)] = 20_000,
    max_nbest: Annotated[int, typer.Option(help="Largest nbest a request may ask for (422 above).", min=1)] = 20,
    read_timeout: Annotated[float, typer.Option(help="Seconds a client has to send a request body (408 after).", min=0.001)] = 30.0,
    max_connections: Annotated[int, typer.Option(help="Most connections and requests at once; more get 503.", min=1)] = 1024,
    drain_timeout: Annotated[float, typer.Option(help="On Ctrl-C / SIGTERM: seconds to let in-flight requests finish before exiting.", min=0)] = 30.0,
    workers: Annotated[Optional[int], typer.Option(help="Server processes on the one port, each answering its share of the connections with its own batching; forked after the models are loaded, so they share the models' memory. On CPU more processes answer more clients at once (the event loop of one never holds up another's passes). Linux only above 1. (default: one per CPU core, at most 4, on CPU; 1 on a GPU)", min=1, show_default=False)] = None,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads for the forward passes of each worker. (default: the CPU cores divided among the workers)", min=1, show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Where the models run: auto (CUDA when available, else CPU), cpu, cuda or cuda:N.")] = "auto",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request on stderr.")] = False,
) -> None:
    """Serve models over HTTP: POST /v1/predict (the records of `seqtag predict --format jsonl`), GET /v1/models,
    GET /healthz, a page at / that highlights entities, OpenAPI docs at /docs, and pre-annotation endpoints for
    Label Studio (/predict) and Doccano (/doccano). Concurrent requests share forward passes. Ctrl-C or SIGTERM
    lets in-flight requests finish and exits 0. Formats: docs/serve.md."""
    import gc

    import torch

    from seqtag.serve.limits import Limits
    from seqtag.serve.service import load_served, model_specs
    from seqtag.training.devices import resolve_device

    specs = model_specs(models)
    where = resolve_device(device)
    workers = worker_count(workers, where.type)
    # libgomp runs a second thread's parallel regions at about half speed once the main thread has started
    # a team of its own: the main thread (loading, the event loop) keeps one torch thread, and the batching
    # thread, where every pass runs, gets `threads`. (And a team started before the workers fork would not
    # survive the fork.)
    threads = threads or max(1, torch.get_num_threads() // workers)
    torch.set_num_threads(1)
    served = load_served(specs, where)
    # The models' objects live as long as the server: keep them out of the cyclic collector's passes (which
    # would also write to their pages, and so copy them into every worker process).
    gc.collect()
    gc.freeze()
    limits = Limits(max_body=max_body, max_texts=max_texts, max_chars=max_chars, max_nbest=max_nbest,
                    read_timeout=read_timeout, max_batch=max_batch, max_wait_ms=max_wait_ms, threads=threads)
    from seqtag.serve.run import WorkerFailed, run

    about = ", ".join(f"{s.name} ({s.task})" for s in served)
    each = f"{threads} torch thread{'s' if threads > 1 else ''}"
    processes = f"{workers} workers × {each}" if workers > 1 else each
    try:
        run(served, limits, host, port, workers, max_connections, drain_timeout, access_log,
            lambda address: err.print(f"seqtag serve: {about} on {address} (page /, API /v1/predict, docs /docs; "
                                      f"{processes}); Ctrl-C stops", markup=False))
    except WorkerFailed as failed:
        err.print(f"seqtag: error: {failed}", markup=False)
        raise typer.Exit(1) from None


def worker_count(workers: Optional[int], device_type: str) -> int:
    """--workers, checked, or its default: one per usable CPU core, at most 4, on CPU; 1 on a GPU or off Linux
    (the workers are forked, and only Linux spreads the connections of one port over several sockets)."""
    import os
    import sys

    from seqtag.errors import InputError

    forking = sys.platform.startswith("linux")
    if workers is None:
        if device_type != "cpu" or not forking:
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(cores, 4))
    if workers > 1 and device_type != "cpu":
        raise InputError(f"worker processes serve on the CPU; with {device_type}, give --workers 1 (or --device cpu)",
                         "--workers")
    if workers > 1 and not forking:
        raise InputError(f"more than one worker needs Linux (this is {sys.platform}); give --workers 1", "--workers")
    return workers
