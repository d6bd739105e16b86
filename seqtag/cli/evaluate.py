"""`seqtag evaluate`: score a model on labelled data, or score a file of gold + predicted columns."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import DataFormat, Mode, OutputFormat, Scheme, UposField, fail, reports_input_errors


@reports_input_errors
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(help="A .seqtag model file.", exists=True, dir_okay=False)] = None,
    data: Annotated[Optional[str], typer.Argument(help="Labelled data to predict and score, or - for stdin.")] = None,
    predictions: Annotated[Optional[str], typer.Option("--predictions", "-p", help="Score this file of `token … gold pred` columns instead (no model); - reads stdin.")] = None,
    mode: Annotated[Mode, typer.Option(help="seqeval matching: default (conlleval-like) or strict (scheme-aware).")] = Mode.default,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A table, or one JSON object for pipelines.")] = OutputFormat.table,
    scheme: Annotated[Scheme, typer.Option(help="Tag scheme of --predictions files.")] = Scheme.auto,
    input_format: Annotated[Optional[DataFormat], typer.Option(help="Format of DATA. [default: as the training data]")] = None,
    token_column: Annotated[Optional[int], typer.Option(help="Token column of DATA. [default: as in training]")] = None,
    tag_column: Annotated[Optional[int], typer.Option(help="Gold tag column of DATA. [default: as in training]")] = None,
    conllu_field: Annotated[Optional[UposField], typer.Option(help="Tag field of CoNLL-U DATA. [default: as in training]")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Classification: label column of DATA. [default: as in training]")] = None,
    text_columns: Annotated[Optional[str], typer.Option(help="Classification: text columns of DATA. [default: as in training]")] = None,
    gold_column: Annotated[int, typer.Option(help="Gold column of --predictions files.")] = -2,
    pred_column: Annotated[int, typer.Option(help="Predicted column of --predictions files.")] = -1,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the input. [default: utf-8]")] = None,
) -> None:
    """Taggers: seqeval precision / recall / F1 per type, micro and macro averages, token accuracy.
    Classifiers: accuracy, micro / macro F1, per-class scores and the confusion matrix (scikit-learn)."""
    import dataclasses

    from seqtag.evaluation import evaluate_model, evaluate_predictions

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

        loaded = load_model(model)
        overrides = dict(input_format=input_format, token_column=token_column, tag_column=tag_column,
                         conllu_field=conllu_field, encoding=encoding, label_column=label_column,
                         text_columns=text_columns)
        overrides = {k: getattr(v, "value", v) for k, v in overrides.items() if v is not None}
        data_config = dataclasses.replace(loaded.data_config, **overrides)
        report = evaluate_model(loaded, data, data_config, mode.value)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report) + "\n")
    elif "confusion" in report:
        print_classification(report)
    else:
        print_tagging(report)


def _score_table(report: dict, per_name: dict, first: str):  # -> rich.table.Table
    """Per-type (or per-class) scores, then the micro and macro averages below a rule."""
    from rich.table import Table

    from seqtag.evaluation import score_rows

    table = Table(title=report["data"], title_justify="left", box=None, pad_edge=False)
    for column in (first, "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == first else "right")
    rows = score_rows(per_name, report)
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i == len(rows) - 3)
    return table


def _console():  # results go to stdout; no colour codes or wrapping surprises in pipes
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich exits with status 1 here; `seqtag evaluate … | head` should end like predict does (quietly, 0).
            try:
                super().on_broken_pipe()
            except SystemExit:
                raise BrokenPipeError from None

    return StdoutConsole(highlight=False, soft_wrap=True)


def print_tagging(report: dict) -> None:
    console = _console()
    console.print(_score_table(report, report["per_type"], "type"))
    console.print(
        f"{report['sentences']:,} sentences, {report['tokens']:,} tokens; scheme {report['scheme']}, "
        f"mode {report['mode']}; token accuracy {100 * report['accuracy']:.2f}"
    )


def print_classification(report: dict) -> None:
    from rich.table import Table

    console = _console()
    console.print(_score_table(report, report["per_class"], "class"))
    console.print(f"{report['examples']:,} examples; accuracy {100 * report['accuracy']:.2f}")
    matrix = Table(title="confusion (rows: gold, columns: predicted)", title_justify="left", box=None, pad_edge=False)
    matrix.add_column("")
    for label in report["labels"]:
        matrix.add_column(label, justify="right")
    for label, counts in zip(report["labels"], report["confusion"]):
        matrix.add_row(label, *map(str, counts))
    console.print(matrix)
