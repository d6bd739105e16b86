"""`seqtag predict`: tag or classify text; results on stdout, streamed in input order."""
from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import InputFormat, TagOutput, err, reports_input_errors


@reports_input_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)],
    source: Annotated[str, typer.Argument(metavar="INPUT", help="Input file, or - for stdin.")] = "-",
    input_format: Annotated[InputFormat, typer.Option(help="auto: detected from the content (CoNLL / CoNLL-U files give columns with the prediction appended; labelled classification files give labels for their texts; anything else is raw text); raw: text lines (tokenized by syntok; sentence-split for taggers); tokenized: whitespace-tokenized lines; or a labelled format, its labels ignored. Standard input on a terminal is raw text, tagged line by line.")] = InputFormat.auto,
    tokenized: Annotated[bool, typer.Option("--tokenized", help="Shortcut for --input-format tokenized: whitespace-tokenized text, one sentence or text per line.")] = False,
    output_format: Annotated[Optional[TagOutput], typer.Option("--format", help="conll: `token tag` columns (taggers) or one label per line (classifiers); jsonl: tokens, tags and character-offset spans, or class probabilities; html: one static page, entities highlighted with their probability on hover, or classes as bars (implies --confidence); label-studio, doccano, spacy, brat: pre-annotations for those tools, one document per input text with character offsets into it (label-studio with each span's probability and a model_version; brat: a folder, --output DIR). (default: conll; jsonl with --confidence, --nbest or --top-k)")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Classifiers, jsonl: keep the K most probable classes. (default: all)", min=1)] = None,
    confidence: Annotated[bool, typer.Option("--confidence", help="jsonl: posterior probability of each token's predicted entity type (CRF marginals) and of each entity; classifiers: of the label.")] = False,
    nbest: Annotated[Optional[int], typer.Option("--nbest", metavar="K", help="jsonl: the K most probable tag sequences (k-best Viterbi) or labels, with their probabilities.", min=1)] = None,
    min_confidence: Annotated[Optional[float], typer.Option("--min-confidence", metavar="P", help="Taggers, jsonl: every entity whose probability (CRF marginal) is at least P, on the best path or not, overlapping or not, each with its confidence and on_best_path; multi-label classifiers: the labels of probability >= P instead of the tuned thresholds.", show_default=False)] = None,
    token_column: Annotated[int, typer.Option(help="Token column of conll input, 0-based.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sentences per batch.", min=1)] = 256,
    chunk: Annotated[int, typer.Option(help="Sentences read, length-sorted and tagged together; output appears per chunk, so lower it for slow producers such as `tail -f`. With --workers each chunk is one task (the very chunks, and so batches, of --workers 1): an input of fewer than N × chunk sentences keeps fewer than N workers busy unless it is lowered, though smaller chunks sort less well and tag more slowly.", min=1)] = 16384,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input.")] = "utf-8",
    workers: Annotated[int, typer.Option(help="Processes that tag --chunk-sized parts of the input in parallel, each holding the model and using one torch thread, while this one reads the input and writes the results in input order: the same output as --workers 1. Pays off on inputs of many chunks; raw text is tokenized by this process, so it gains less than tokenized or column input. (default: 1, no extra processes)", min=1, show_default=False)] = 1,
    device: Annotated[str, typer.Option(help="Where the model runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N. (default: auto)")] = "auto",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The folder to write for --format brat (one .txt and .ann per text); other formats go to stdout.")] = None,
    shard: Annotated[Optional[str], typer.Option(metavar="I/N", help="Tag part I of N (counted from 0) of the input file: the sentences or texts whose first line lies in the I-th of N equal line ranges, so that `cat` of the outputs of parts 0 to N-1 is the output for the whole file (JSONL keeps the file's line numbers). For independent jobs: GNU parallel, Slurm arrays, map tasks. Needs a file, not stdin; combines with --workers. (default: the whole input)")] = None,
) -> None:
    """Tag or classify text with a trained model and write the result to stdout."""
    # oneDNN caches a kernel per tensor shape. Prediction pads to ladder shapes (models/encoders.shape_step),
    # so a file meets only ~40, but with the cache on, peak memory still grew by 7 % from 35k to 207k
    # sentences (flat without it) for 11-18 % more speed: a stream of any length keeps flat memory here.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0")
    from seqtag.tasks import load_model
    from seqtag.config import check_value
    from seqtag.errors import InputError
    from seqtag.inference.workers import WorkerDied

    check_value("encoding", encoding, "--encoding")
    from seqtag.training.devices import resolve_device

    where = resolve_device(device)
    if workers > 1 and where.type != "cpu":
        raise InputError(f"worker processes tag on the CPU; with {where}, give --workers 1 (or --device cpu)", "--workers")
    part = None
    if shard is not None:
        from seqtag.inference.shards import check_source, parse_shard

        part = parse_shard(shard)
        check_source(source)
    requested = input_format.value
    if tokenized:
        if requested not in ("auto", "raw", "tokenized"):
            raise InputError(f"is for text lines; --input-format {requested} already says how the tokens are split", "--tokenized")
        requested = "tokenized"
    interactive = source == "-" and sys.stdin.isatty()
    if interactive:
        # A person typing: each line is tagged as it is entered, not after the end of input.
        requested, chunk = ("raw" if requested == "auto" else requested), 1
    if output_format is None:  # probabilities only fit in JSONL, so asking for them picks it
        output_format = TagOutput.jsonl if (confidence or nbest or top_k or min_confidence is not None) else TagOutput.conll
    if nbest and output_format is TagOutput.html:
        raise InputError("--nbest needs --format jsonl (a page shows the best analysis only)")
    if output_format is TagOutput.html:
        confidence = True  # the page shows each entity's probability on hover
    if (confidence or nbest) and output_format is TagOutput.conll:
        raise InputError(f"{'--confidence' if confidence else '--nbest'} needs --format jsonl (probabilities have no place in CoNLL columns)")
    from seqtag.formats.annotation_writers import WRITERS

    if (output_format.value == "brat") != (output is not None):
        raise InputError("--format brat writes a folder: give it with --output DIR (other formats go to stdout)", "--output")
    if nbest and output_format.value in WRITERS:
        raise InputError(f"--nbest needs --format jsonl ({output_format.value} takes one analysis per text)")
    if min_confidence is not None and output_format.value in WRITERS:
        raise InputError(f"needs --format jsonl ({output_format.value} takes the best analysis of each text)",
                         "--min-confidence")
    try:
        with contextlib.ExitStack() as stack:
            if workers > 1:
                import torch

                # Loading under one thread starts no OpenMP pool in this process, which then forks the
                # workers (seqtag.inference.workers); it only reads and writes, so one thread is all it needs.
                stack.callback(torch.set_num_threads, torch.get_num_threads())
                torch.set_num_threads(1)
            loaded = load_model(model).to(where)
            # Streaming allocates millions of short-lived lists and strings but builds no reference cycles;
            # the cyclic collector's full passes over them cost seconds on large inputs.
            gc.freeze()
            gc.set_threshold(100_000, 50, 100)
            loaded.check_prediction_options(_written(output_format), top_k, min_confidence, confidence=confidence,
                                            nbest=nbest or 0)
            from seqtag.formats.registry import resolve

            fmt, source = resolve(source, requested, task=loaded.task, labelled=False, encoding=encoding)
            if token_column and fmt.name != "conll":
                raise InputError(f"is for CoNLL column input; this input is {fmt.looks_like}", "--token-column")
            lines = None
            if part is not None:
                from seqtag.inference.shards import count_lines

                lines = part.lines(count_lines(source))
            pool = None
            if workers > 1:
                from seqtag.inference.workers import WorkerPool

                pool = stack.enter_context(WorkerPool(loaded, model, workers))
            if output_format.value in WRITERS:  # documents for an annotation tool, with each span's probability
                _annotate(loaded, pool, source, fmt, output_format.value, lines, encoding, batch_size, chunk, output,
                          model.name)
                return
            _predict(loaded, pool, source, fmt, output_format, lines, token_column, encoding, batch_size, chunk,
                     top_k, confidence, nbest or 0, min_confidence)
    except WorkerDied as died:
        err.print(f"seqtag: error: {died}", markup=False)
        raise typer.Exit(1) from None


def _annotate(loaded, pool, source, fmt, output_format: str, lines: Optional[range], encoding: str, batch_size: int,
              chunk: int, folder: Optional[Path], model_version: str) -> None:
    """Predict and write documents for an annotation tool (seqtag.formats.annotation_writers): to stdout, or
    into ``folder`` (brat); the formats that hold probabilities get the span and document probabilities."""
    from seqtag.formats.annotation_writers import SCORED, AnnotationOutput
    from seqtag.tasks.base import in_chunks

    items = loaded.prediction_input(source, fmt, encoding=encoding, lines=lines)
    scored = output_format in SCORED
    method, options = loaded.prediction_job(scored, 1 if scored else 0)
    if pool is not None:
        results = pool.predict(items, chunk, method, batch_size=batch_size, **options)
    else:
        results = in_chunks(items, functools.partial(getattr(loaded, method), batch_size=batch_size, **options), chunk)
    loaded.write_predictions(results, AnnotationOutput(sys.stdout, folder, model_version), output_format)


def _predict(loaded, pool, source, fmt, output_format: TagOutput, lines: Optional[range], token_column: int,
             encoding: str, batch_size: int, chunk: int, top_k: Optional[int], confidence: bool, nbest: int,
             min_confidence: Optional[float] = None) -> None:
    """Read, predict (here, or by the ``pool``'s workers on the same chunks) and write to stdout."""
    from seqtag.tasks.base import in_chunks

    items = loaded.prediction_input(source, fmt, encoding=encoding, token_column=token_column, lines=lines)
    method, options = loaded.prediction_job(confidence, nbest, min_confidence)
    if pool is not None:
        results = pool.predict(items, chunk, method, batch_size=batch_size, **options)
    else:
        results = in_chunks(items, functools.partial(getattr(loaded, method), batch_size=batch_size, **options), chunk)
    page = None
    if output_format is TagOutput.html:  # the JSONL records, made into a page as they come
        from seqtag.serve.pages import PredictionPage

        page = PredictionPage(sys.stdout, "seqtag predict", loaded.labels.items)
        results = page.items(results)
    loaded.write_predictions(results, page or sys.stdout, _written(output_format), top_k=top_k, confidence=confidence, nbest=nbest,
                             min_confidence=min_confidence)
    if page is not None:
        page.close()


def _written(output_format: TagOutput) -> str:
    """The format the task writes: JSONL records for a page too (:class:`seqtag.serve.pages.PredictionPage`)."""
    return TagOutput.jsonl.value if output_format is TagOutput.html else output_format.value
