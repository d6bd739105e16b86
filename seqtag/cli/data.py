"""`seqtag data check`: render the data report of :func:`seqtag.tools.datacheck.check_data`."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import DataFormat, OutputFormat, Scheme, Task, UposField, choice_type, err, reports_input_errors
from seqtag.errors import InputError

data = typer.Typer(name="data", help="Look at data before training: `seqtag data check`.", no_args_is_help=True)
ExistingFile = dict(exists=True, dir_okay=False, readable=True)
ExistingData = dict(exists=True, readable=True)  # a file, or a folder (brat standoff)
_MARKS = {"ok": "[green]✔[/]", "warning": "[yellow]⚠[/]", "error": "[red]✖[/]"}


@data.command("check")
@reports_input_errors
def check(
    train: Annotated[Path, typer.Argument(help="Training data: a column / CoNLL-U file, an annotation tool's export or brat folder, or classification data.", **ExistingData)],
    dev: Annotated[Optional[Path], typer.Option(help="Dev data, checked too and against train.", **ExistingData)] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Pretrained vectors: how many train and dev words they cover.", **ExistingFile)] = None,
    config: Annotated[Optional[Path], typer.Option(help="A TOML config file; its data settings apply, as for `seqtag train`.", **ExistingFile)] = None,
    task: Annotated[Optional[Task], typer.Option(help="tag or classify. (default: auto, as `seqtag train` guesses)")] = None,
    input_format: Annotated[Optional[DataFormat], typer.Option(help="Format of TRAIN and --dev. (default: auto)")] = None,
    token_column: Annotated[Optional[int], typer.Option(help="Token column, 0-based. (default: 0)")] = None,
    tag_column: Annotated[Optional[int], typer.Option(help="Tag column, 0-based, negative from the end. (default: -1)")] = None,
    conllu_field: Annotated[Optional[UposField], typer.Option(help="Tag field of CoNLL-U files. (default: upos)")] = None,
    scheme: Annotated[Optional[Scheme], typer.Option(help="Tag scheme of the files. (default: auto)")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL: label column name or index. (default: 'label' or the first)")] = None,
    text_columns: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL: comma-separated text columns, joined. (default: 'text'/'sentence' or the rest)")] = None,
    tokenized: Annotated[Optional[bool], typer.Option("--tokenized/--untokenized", help="Classification text is already tokenized. (default: untokenized: syntok)")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the data files. (default: utf-8)")] = None,
    misaligned: Annotated[Optional[choice_type("misaligned")], typer.Option(help="Annotation tools' spans whose ends cut a token: error, expand or drop. (default: error)", show_default=False)] = None,
    overlaps: Annotated[Optional[choice_type("overlaps")], typer.Option(help="Annotation tools' spans sharing a token: error, or keep the longest. (default: error)", show_default=False)] = None,
    annotation: Annotated[Optional[choice_type("annotation")], typer.Option(help="Label Studio: the annotation of a task to read: first, last, or prediction. (default: first)", show_default=False)] = None,
    max_length: Annotated[Optional[int], typer.Option(help="Report sentences / texts longer than this many tokens. (default: 250 for tagging, 1000 for classification)", min=1)] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A readable report, or one JSON object.")] = OutputFormat.table,
    embedding_cache: Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag.")] = True,
    find_label_errors: Annotated[bool, typer.Option("--find-label-errors", help="Also train --folds models, each on the other folds of TRAIN (with --config's settings, --embeddings' vectors), and list the labels the held-out models confidently dispute, most likely errors first: cleanlab's find_label_issues on out-of-fold probabilities for classifiers, span probabilities for taggers. Takes --folds trainings.")] = False,
    folds: Annotated[Optional[int], typer.Option(help="--find-label-errors: cross-validation folds. (default: 5)")] = None,
    top: Annotated[Optional[int], typer.Option(help="--find-label-errors: list this many in the report; --format json lists all. (default: 20)", min=1)] = None,
) -> None:
    """Counts, length distribution, label set and scheme, invalid tag sequences, duplicates, train/dev
    overlap and embedding coverage. Exit status 1 when something would break training (✖ lines)."""
    from seqtag.config import build_configs, check_value, read_toml
    from seqtag.tools.datacheck import check_data

    settings: dict[str, Any] = read_toml(config) if config is not None else {}
    given = dict(task=task, input_format=input_format, token_column=token_column, tag_column=tag_column,
                 conllu_field=conllu_field, scheme=scheme, label_column=label_column, text_columns=text_columns,
                 tokenized=tokenized, encoding=encoding, misaligned=misaligned, overlaps=overlaps, annotation=annotation)
    for key, value in given.items():
        if value is not None:
            settings[key] = check_value(key, getattr(value, "value", value), f"--{key.replace('_', '-')}")
    for option, value in (("--folds", folds), ("--top", top)):
        if value is not None and not find_label_errors:
            raise InputError("is for --find-label-errors", option)
    data_config, _, _ = build_configs(settings)
    report = check_data(
        train, dev, embeddings, data_config=data_config, task=settings.get("task", "auto"), max_length=max_length,
        embedding_cache=embedding_cache,
    )
    if find_label_errors and not report.count("error"):
        from seqtag.tools.datacheck import find_label_errors as find, label_error_finding

        found = find(train, folds=5 if folds is None else folds, settings=settings, embeddings=embeddings,
                     task=report.task, embedding_cache=embedding_cache,
                     log=lambda message: err.print(message, markup=False))
        report.stats["label_errors"] = found
        report.findings.append(label_error_finding(found, str(train), "label", 20 if top is None else top))
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_render(report))
    if report.count("error"):
        raise typer.Exit(1)


def _render(report: Any) -> str:
    """The findings under one heading per section, then a summary line; colour only on a terminal."""
    from rich.console import Console
    from rich.markup import escape

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=sys.stdout.isatty(), highlight=False, soft_wrap=True)
    section = None
    for finding in report.findings:
        if finding.section != section:
            if section is not None:
                console.print()
            section = finding.section
            console.print(f"[bold]{section}[/]")
        console.print(f"{_MARKS[finding.level]} {escape(finding.message)}")
        for detail in finding.details:
            console.print(f"    {escape(detail)}", style="dim")
    errors, warnings = report.count("error"), report.count("warning")
    if errors:
        console.print(f"\n{_MARKS['error']} {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}: "
                      "fix the errors before training")
    elif warnings:
        console.print(f"\n{_MARKS['warning']} {warnings} warning{'s' * (warnings != 1)}, no errors")
    else:
        console.print(f"\n{_MARKS['ok']} no problems found")
    return buffer.getvalue()
