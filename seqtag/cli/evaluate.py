"""`seqtag evaluate`: score a model on labelled data, or score a file of gold + predicted columns."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import ColumnFormat, Mode, OutputFormat, Scheme, UposField, fail, reports_input_errors


@reports_input_errors
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)] = None,
    data: Annotated[Optional[str], typer.Argument(help="Labelled data to tag and score, or - for stdin.")] = None,
    predictions: Annotated[Optional[str], typer.Option("--predictions", "-p", help="Score this file of `token … gold pred` columns instead (no model); - reads stdin.")] = None,
    mode: Annotated[Mode, typer.Option(help="seqeval matching: default (conlleval-like) or strict (scheme-aware).")] = Mode.default,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A table, or one JSON object for pipelines.")] = OutputFormat.table,
    scheme: Annotated[Scheme, typer.Option(help="Tag scheme of --predictions files.")] = Scheme.auto,
    input_format: Annotated[Optional[ColumnFormat], typer.Option(help="Format of DATA. [default: the model's training format]")] = None,
    token_column: Annotated[Optional[int], typer.Option(help="Token column of DATA. [default: as in training]")] = None,
    tag_column: Annotated[Optional[int], typer.Option(help="Gold tag column of DATA. [default: as in training]")] = None,
    conllu_field: Annotated[Optional[UposField], typer.Option(help="Tag field of CoNLL-U DATA. [default: as in training]")] = None,
    gold_column: Annotated[int, typer.Option(help="Gold column of --predictions files.")] = -2,
    pred_column: Annotated[int, typer.Option(help="Predicted column of --predictions files.")] = -1,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the input. [default: utf-8]")] = None,
) -> None:
    """Precision / recall / F1 per entity type (seqeval), micro and macro averages, token accuracy."""
    import dataclasses

    from seqtag.evaluation import evaluate_predictions, evaluate_tagger

    if predictions is not None:
        if model is not None:
            fail("give either MODEL DATA or --predictions FILE, not both")
        report = evaluate_predictions(
            predictions, gold_column, pred_column, scheme.value, mode.value, encoding or "utf-8"
        )
    else:
        if model is None or data is None:
            fail("give MODEL and DATA to evaluate a model, or --predictions FILE to score a prediction file")
        from seqtag import load_model

        tagger = load_model(model)
        overrides = dict(input_format=input_format, token_column=token_column, tag_column=tag_column,
                         conllu_field=conllu_field, encoding=encoding)
        overrides = {k: getattr(v, "value", v) for k, v in overrides.items() if v is not None}
        if "input_format" not in overrides and data.endswith(".conllu"):
            overrides["input_format"] = "conllu"
        data_config = dataclasses.replace(tagger.data_config, **overrides)
        report = evaluate_tagger(tagger, data, data_config, mode.value)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        print_report(report)


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqtag.evaluation import as_table_rows, summary_line

    table = Table(title=f"{report['data']}", title_justify="left", box=None, pad_edge=False)
    for column in ("type", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "type" else "right")
    rows = as_table_rows(report)
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i == len(rows) - 3)
    console = Console(highlight=False)
    console.print(table)
    console.print(summary_line(report))
