"""`seqtag evaluate`: score a model on labelled data, or a file of gold + predicted columns; list the
errors, draw the confusion matrix, or test whether one system's predictions beat another's."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import (
    DataFormat, Mode, OutputFormat, Scheme, UposField, choice_type, err, fail, reports_input_errors, stdout_console,
)


@reports_input_errors
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(help="A .seqtag model file (with --compare: optional, or the gold DATA itself).", exists=True, dir_okay=False)] = None,
    data: Annotated[Optional[str], typer.Argument(help="Labelled data to predict and score, or - for stdin.")] = None,
    predictions: Annotated[Optional[str], typer.Option("--predictions", "-p", help="Score this file of `token … gold pred` columns instead (no model); - reads stdin.")] = None,
    compare: Annotated[Optional[tuple[str, str]], typer.Option("--compare", metavar="A B", help="Significance of B - A: two systems' predictions for DATA (`seqtag predict` output: CoNLL columns, or one label per line).")] = None,
    samples: Annotated[int, typer.Option(help="--compare: bootstrap samples and randomisation shuffles.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="--compare: random seed.")] = 1,
    errors: Annotated[bool, typer.Option("--errors", help="Also list the errors: false positives / negatives, wrong types, boundaries, by type, most frequent first.")] = False,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png", help="Draw the confusion matrix (classes, or entity types per token) into this PNG.", dir_okay=False)] = None,
    html: Annotated[Optional[Path], typer.Option("--html", metavar="FILE.html", help="Write a page with gold beside predicted for every sentence (or text), errors marked, scores on top.", dir_okay=False)] = None,
    min_confidence: Annotated[Optional[float], typer.Option("--min-confidence", metavar="P", help="Also score what is at least P probable: a tagger's entities on the best path or not (as `seqtag predict --min-confidence` lists them), a multi-label classifier's labels (instead of its tuned thresholds).", show_default=False)] = None,
    pr_curve: Annotated[Optional[Path], typer.Option("--pr-curve", metavar="FILE.png", help="Draw micro precision against recall over the probability threshold (1 down to 0.01) into this PNG.", dir_okay=False)] = None,
    mode: Annotated[Mode, typer.Option(help="seqeval matching: default (conlleval-like) or strict (scheme-aware).")] = Mode.default,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A table, or one JSON object for pipelines.")] = OutputFormat.table,
    scheme: Annotated[Scheme, typer.Option(help="Tag scheme of --predictions files.")] = Scheme.auto,
    input_format: Annotated[Optional[DataFormat], typer.Option(help="Format of DATA. (default: as the training data)")] = None,
    token_column: Annotated[Optional[int], typer.Option(help="Token column of DATA. (default: as in training)")] = None,
    tag_column: Annotated[Optional[int], typer.Option(help="Gold tag column of DATA. (default: as in training)")] = None,
    conllu_field: Annotated[Optional[UposField], typer.Option(help="Tag field of CoNLL-U DATA. (default: as in training)")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Classification: label column of DATA. (default: as in training)")] = None,
    text_columns: Annotated[Optional[str], typer.Option(help="Classification: text columns of DATA. (default: as in training)")] = None,
    gold_column: Annotated[int, typer.Option(help="Gold column of --predictions files.")] = -2,
    pred_column: Annotated[int, typer.Option(help="Predicted column of --predictions and --compare files.")] = -1,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the input. (default: utf-8)")] = None,
    misaligned: Annotated[Optional[choice_type("misaligned")], typer.Option(help="Annotation tools' spans whose ends cut a token: error, expand or drop. (default: as in training)", show_default=False)] = None,
    overlaps: Annotated[Optional[choice_type("overlaps")], typer.Option(help="Annotation tools' spans sharing a token: error, or keep the longest. (default: as in training)", show_default=False)] = None,
    annotation: Annotated[Optional[choice_type("annotation")], typer.Option(help="Label Studio: the annotation of a task to read: first, last, or prediction. (default: as in training)", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Where the model runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N. (default: auto)")] = "auto",
) -> None:
    """Taggers: seqeval precision / recall / F1 per type, micro and macro averages, token accuracy.
    Classifiers: accuracy, micro / macro F1, per-class scores and the confusion matrix (scikit-learn).
    With --compare A B: paired bootstrap and approximate randomisation tests of B against A on DATA."""
    import dataclasses

    from seqtag.config import DataConfig, check_value
    from seqtag.evaluation.evaluate import evaluate as evaluate_model, read_predictions

    overrides = dict(input_format=input_format, token_column=token_column, tag_column=tag_column,
                     conllu_field=conllu_field, encoding=encoding, label_column=label_column,
                     text_columns=text_columns, misaligned=misaligned, overlaps=overlaps, annotation=annotation)
    overrides = {k: getattr(v, "value", v) for k, v in overrides.items() if v is not None}
    if encoding is not None:
        check_value("encoding", encoding, "--encoding")
    if (min_confidence is not None or pr_curve is not None) and (compare is not None or predictions is not None):
        option = "--min-confidence" if min_confidence is not None else "--pr-curve"
        fail(f"{option} needs MODEL DATA: the probabilities come from the model, not from prediction files")
    if compare is not None:
        if predictions is not None or errors or plot is not None or html is not None:
            fail("--compare works on its own: not with --predictions, --errors, --plot or --html")
        gold = data if data is not None else model
        if gold is None:
            fail("give the gold DATA the two systems predicted: seqtag evaluate DATA --compare A B")
        if model is not None and data is not None:  # a model says how to read DATA and what task it is
            from seqtag.tasks import load_model

            loaded = load_model(model)
            task, base = loaded.task, loaded.data_config
        else:
            from seqtag.formats.registry import detect_task

            base = dataclasses.replace(DataConfig(), **overrides)
            task = detect_task(Path(gold), base.encoding, base.input_format)
        from seqtag.evaluation.evaluate import compare_systems

        result = compare_systems(gold, *compare, task, dataclasses.replace(base, **overrides), pred_column,
                                 scheme.value, mode.value, samples, seed)
        if output_format is OutputFormat.json:
            sys.stdout.write(json.dumps(result) + "\n")
        else:
            print_comparison(result)
        return
    for picture in (plot, pr_curve):
        if picture is not None:
            from seqtag.evaluation.plots import check_output

            check_output(picture)  # before minutes of tagging, not after
    if html is not None and not html.parent.is_dir():
        fail(f"{html.parent}: no such folder for the page")
    if predictions is not None:
        if model is not None:
            fail("give either MODEL DATA or --predictions FILE, not both")
        outcome = read_predictions(predictions, gold_column, pred_column, scheme.value, mode.value, encoding or "utf-8")
        report = outcome.scores(mode.value)
        if errors:
            report["errors"] = outcome.errors()
    else:
        if model is None or data is None:
            fail("give MODEL and DATA to evaluate a model, or --predictions FILE to score a prediction file")
        result = evaluate_model(model, data, mode=mode.value, errors=errors, device=device,
                                min_confidence=min_confidence, pr_curve=pr_curve is not None, **overrides)
        outcome, report = result.outcome, result.report
    if pr_curve is not None:
        from seqtag.evaluation.plots import pr_curve_png

        marks = {"best path": (report["micro"]["recall"], report["micro"]["precision"])}
        if min_confidence is not None:
            above = report["min_confidence"]["micro"]
            marks[f"P ≥ {min_confidence:g}"] = (above["recall"], above["precision"])
        pr_curve_png(report["pr_curve"], pr_curve, f"{report['data']}: precision and recall over the threshold", marks)
        err.print(f"wrote {pr_curve}", markup=False)
    if plot is not None:
        from seqtag.evaluation.plots import confusion_png

        labels, matrix, what = outcome.confusion()
        confusion_png(labels, matrix, plot, f"{report['data']}: {what}")
        err.print(f"wrote {plot}", markup=False)
    if html is not None:
        from seqtag.fileio import atomic_write
        from seqtag.serve.pages import evaluation_page

        with atomic_write(html) as stream:
            stream.write(evaluation_page(outcome, report, f"seqtag evaluate: {report['data']}").encode("utf-8"))
        err.print(f"wrote {html}", markup=False)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    if "per_class" in report:
        print_classification(report)
    else:
        print_tagging(report)
    if min_confidence is not None:
        print_threshold(report["min_confidence"], report["data"])
    if errors:
        print_errors(report["errors"])


def _score_table(report: dict, per_name: dict, first: str):  # -> rich.table.Table
    """Per-type (or per-class) scores, then the micro and macro averages below a rule."""
    from rich.table import Table

    from seqtag.evaluation.evaluate import score_rows

    table = Table(title=report["data"], title_justify="left", box=None, pad_edge=False)
    for column in (first, "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == first else "right")
    rows = score_rows(per_name, report)
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i == len(per_name) - 1)
    return table


def print_tagging(report: dict) -> None:
    console = stdout_console()
    console.print(_score_table(report, report["per_type"], "type"))
    console.print(
        f"{report['sentences']:,} sentences, {report['tokens']:,} tokens; scheme {report['scheme']}, "
        f"mode {report['mode']}; token accuracy {100 * report['accuracy']:.2f}"
    )


def print_threshold(scores: dict, data: str) -> None:
    """The scores of what is at least ``--min-confidence`` probable, below the main table."""
    console = stdout_console()
    console.print()
    title = f"{data}: probability >= {scores['threshold']:g}"
    console.print(_score_table({**scores, "data": title}, scores["per_type"], "label" if "samples" in scores else "type"))
    console.print(f"{scores['spans']:,} predicted with probability >= {scores['threshold']:g}")


def print_classification(report: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    console.print(_score_table(report, report["per_class"], "class" if "confusion" in report else "label"))
    if "confusion" not in report:  # multi-label: the share of texts whose whole label set is right
        thresholds = sorted(set(report["thresholds"].values()))
        shown = ", ".join(f"{t:g}" for t in thresholds[:6]) + (", …" if len(thresholds) > 6 else "")
        console.print(f"{report['examples']:,} examples; exact match {100 * report['accuracy']:.2f}; "
                      f"label thresholds {shown}")
        return
    console.print(f"{report['examples']:,} examples; accuracy {100 * report['accuracy']:.2f}")
    matrix = Table(title="confusion (rows: gold, columns: predicted)", title_justify="left", box=None, pad_edge=False)
    matrix.add_column("")
    for label in report["labels"]:
        matrix.add_column(label, justify="right")
    for label, counts in zip(report["labels"], report["confusion"]):
        matrix.add_row(label, *map(str, counts))
    console.print(matrix)


def print_errors(report: dict) -> None:
    """Per kind of error: a line per group (type, count, gold and predicted strings, the first sentence and
    how many more), in plain aligned columns: a sentence runs on rather than being wrapped into a cell."""
    header = ("type", "count", "gold", "predicted", "first occurrence")
    for kind, by_type in report["errors"].items():
        sys.stdout.write(f"{kind.replace('_', ' ')}: {sum(report['counts'][kind].values()):,}\n")
        rows = []
        for kind_type, groups in by_type.items():
            for group in groups:
                first, more = group["examples"][0], len(group["examples"]) - 1
                rows.append((
                    kind_type, str(group["count"]), _described(group, "gold"), _described(group, "predicted"),
                    f"{first['line']}: {first['text']}" + (f" (+{more} more)" if more else ""),
                ))
        if not rows:
            continue
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]
            sys.stdout.write("  ".join(cells) + "\n")


def _described(group: dict[str, Any], side: str) -> str:
    """``text [TYPE]`` for one side of an error, or ``-`` where that side has nothing."""
    text = group.get(side)
    if text is None:
        return "-"
    kind = group.get(f"{side}_type")
    return f"{text} [{kind}]" if kind else text


def print_comparison(result: dict) -> None:
    from rich.table import Table

    console = stdout_console()
    title = f"{result['data']}: A = {result['a']}, B = {result['b']}"
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in ("metric", "A", "B", "B - A", "95% interval", "p boot", "p rand"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, row in result["metrics"].items():
        low, high = row["ci95"]
        table.add_row(
            name, f"{100 * row['a']:.2f}", f"{100 * row['b']:.2f}", f"{100 * row['difference']:+.2f}",
            f"[{100 * low:+.2f}, {100 * high:+.2f}]", f"{row['p_bootstrap']:.4f}", f"{row['p_randomization']:.4f}",
        )
    console.print(table)
    console.print(
        f"p boot: paired bootstrap, p rand: approximate randomisation; over {result['items']:,} {result['unit']}, "
        f"{result['samples']:,} samples each, seed {result['seed']}; scores in percent"
    )
