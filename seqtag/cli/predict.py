"""`seqtag predict`: tag raw text, pre-tokenized lines or column files; results on stdout, streamed."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import InputFormat, TagOutput, reports_input_errors


@reports_input_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)],
    source: Annotated[str, typer.Argument(metavar="INPUT", help="Input file, or - for stdin.")] = "-",
    input_format: Annotated[InputFormat, typer.Option(help="raw text (sentence-split and tokenized), tokenized lines, or column files.")] = InputFormat.raw,
    tokenized: Annotated[bool, typer.Option("--tokenized", help="Shortcut for --input-format tokenized: one pre-tokenized sentence per line.")] = False,
    output_format: Annotated[TagOutput, typer.Option("--format", help="conll columns, or jsonl with tokens, tags and spans with character offsets.")] = TagOutput.conll,
    token_column: Annotated[int, typer.Option(help="Token column of conll input, 0-based.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sentences per batch.", min=1)] = 256,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input.")] = "utf-8",
) -> None:
    """Tag text with a trained model and write the result to stdout."""
    from seqtag import load_model
    from seqtag.predict import iter_input, write_tagged

    fmt = InputFormat.tokenized if tokenized else input_format
    tagger = load_model(model)
    sentences = iter_input(source, fmt.value, encoding=encoding, token_column=token_column)
    tagged = tagger.predict_stream(sentences, batch_size=batch_size)
    write_tagged(tagged, sys.stdout, output_format.value, tagger.data_scheme)
