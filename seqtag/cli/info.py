"""`seqtag info`: what a model file is, without loading the network."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from seqtag.cli._common import OutputFormat, reports_input_errors


@reports_input_errors
def info(
    model: Annotated[Path, typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A readable summary, or JSON.")] = OutputFormat.table,
) -> None:
    """Task, architecture, labels, vocabulary sizes, embeddings, training data, dev scores, version."""
    from seqtag.archive import load_archive
    from seqtag.tools.info import describe

    body = load_archive(model)
    summary = describe(body, model)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        sys.stdout.write(f"{key:<{width}}  {value}\n")
