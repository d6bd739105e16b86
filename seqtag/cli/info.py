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
    """Task, architecture, labels, vocabulary sizes, embeddings, training data, dev scores, version, and every
    setting the model was trained with."""
    from seqtag.archive import load_archive
    from seqtag.tools.info import describe

    body = load_archive(model)
    summary = describe(body, model)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    settings = summary.pop("settings", [])
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        sys.stdout.write(f"{key:<{width}}  {value}\n")
    if settings:
        sys.stdout.write(f"{'settings':<{width}}  as trained, TOML values (* = not the default)\n")
        sys.stdout.write(settings_table(settings))


def settings_table(settings: list[dict]) -> str:
    """One line per setting: ``section.name``, its value as TOML writes it (``*`` if not the default), its help."""
    names = [f"{s['section']}.{s['name']}" for s in settings]
    values = [json.dumps(s["value"]) + (" *" if s["value"] != s["default"] else "") for s in settings]
    name_width, value_width = max(map(len, names)), max(map(len, values))
    return "".join(
        f"  {name:<{name_width}}  {value:<{value_width}}  {s['help']}\n" for name, value, s in zip(names, values, settings)
    )
