"""`seqtag predict`: tag or classify text; results on stdout, streamed in input order."""
from __future__ import annotations

import functools
import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import InputFormat, TagOutput, reports_input_errors


@reports_input_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)],
    source: Annotated[str, typer.Argument(metavar="INPUT", help="Input file, or - for stdin.")] = "-",
    input_format: Annotated[InputFormat, typer.Option(help="raw text lines (tokenized by syntok; sentence-split for taggers), tokenized lines, tagging column files, or labelled classification files (labels ignored).")] = InputFormat.raw,
    tokenized: Annotated[bool, typer.Option("--tokenized", help="Shortcut for --input-format tokenized: whitespace-tokenized text, one sentence or text per line.")] = False,
    output_format: Annotated[Optional[TagOutput], typer.Option("--format", help="conll: `token tag` columns (taggers) or one label per line (classifiers); jsonl: tokens, tags and character-offset spans, or class probabilities. (default: conll; jsonl with --confidence or --nbest)")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Classifiers, jsonl: keep the K most probable classes. (default: all)", min=1)] = None,
    confidence: Annotated[bool, typer.Option("--confidence", help="jsonl: posterior probability of each token's predicted entity type (CRF marginals) and of each entity; classifiers: of the label.")] = False,
    nbest: Annotated[Optional[int], typer.Option("--nbest", metavar="K", help="jsonl: the K most probable tag sequences (k-best Viterbi) or labels, with their probabilities.", min=1)] = None,
    token_column: Annotated[int, typer.Option(help="Token column of conll input, 0-based.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sentences per batch.", min=1)] = 256,
    chunk: Annotated[int, typer.Option(help="Sentences read, length-sorted and tagged together; output appears per chunk, so lower it for slow producers such as `tail -f`.", min=1)] = 16384,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input.")] = "utf-8",
) -> None:
    """Tag or classify text with a trained model and write the result to stdout."""
    # oneDNN caches a kernel per tensor shape, and streams bring ever new shapes: uncapped, that cache
    # grew peak memory by a third between 20k and 200k sentences. Caching buys nothing measurable here.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0")
    from seqtag import load_model
    from seqtag.config import check_value
    from seqtag.errors import InputError

    check_value("encoding", encoding, "--encoding")
    fmt = (InputFormat.tokenized if tokenized else input_format).value
    if output_format is None:  # probabilities only fit in JSONL, so asking for them picks it
        output_format = TagOutput.jsonl if (confidence or nbest) else TagOutput.conll
    if (confidence or nbest) and output_format is not TagOutput.jsonl:
        raise InputError(f"{'--confidence' if confidence else '--nbest'} needs --format jsonl (probabilities have no place in CoNLL columns)")
    loaded = load_model(model)
    # Streaming allocates millions of short-lived lists and strings but builds no reference cycles;
    # the cyclic collector's full passes over them cost seconds on large inputs.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    if loaded.task == "classify":
        from seqtag.predict import write_classified

        if fmt in ("conll", "conllu"):
            raise InputError(f"--input-format {fmt} is for taggers; this model is a classifier")
        text_format = "text" if fmt in ("raw", "tokenized") else fmt
        examples = loaded.read(source, text_format, encoding=encoding, tokenized=fmt == "tokenized")
        results = loaded.predict_stream(examples, batch_size=batch_size, chunk=chunk)
        write_classified(results, sys.stdout, output_format.value, loaded.labels.items, top_k, confidence, nbest or 0)
        return
    from seqtag.predict import in_chunks, iter_input, write_details, write_tagged

    if fmt not in ("raw", "tokenized", "conll", "conllu"):
        raise InputError(f"--input-format {fmt} is for classifiers; this model is a tagger")
    sentences = iter_input(source, fmt, encoding=encoding, token_column=token_column)
    if confidence or nbest:
        details = functools.partial(loaded.predict_details, batch_size=batch_size, confidence=confidence, nbest=nbest or 0)
        write_details(in_chunks(sentences, details, chunk), sys.stdout, loaded.data_scheme)
        return
    tagged = loaded.predict_stream(sentences, batch_size=batch_size, chunk=chunk)
    write_tagged(tagged, sys.stdout, output_format.value, loaded.data_scheme)
