"""`seqtag diagnose`: measurements inside a network. `gradients`: the vanishing-gradient picture on real sentences."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import DiagnoseCell, OutputFormat, err, reports_input_errors

app = typer.Typer(help="Look inside networks: gradient flow through the recurrence.", no_args_is_help=True)

DEFAULT_SOURCE = "default"  # MODEL_OR_CONFIG value for fresh networks with the default settings


def _cell_config(model_config: Any, cell: str) -> Any:
    """The config with its recurrent cell replaced; rnn / gru / lstm get their standard settings."""
    irnn = cell == "irnn"
    return dataclasses.replace(
        model_config, cell="rnn" if irnn else cell, activation="relu" if irnn else "tanh", identity_init=irnn
    )


@app.command()
@reports_input_errors
def gradients(
    source: Annotated[str, typer.Argument(metavar="MODEL_OR_CONFIG", help=f"A .seqtag model file; a .toml config file (fresh, untrained networks); or `{DEFAULT_SOURCE}` for fresh networks with the default settings.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Sentences to measure on: CoNLL / CoNLL-U (tags not needed), or a classifier's text format.", exists=True, dir_okay=False)],
    cell: Annotated[Optional[list[DiagnoseCell]], typer.Option(help="Fresh networks: the recurrent cell; repeat to compare (--cell rnn --cell irnn --cell gru --cell lstm). irnn = rnn with ReLU and identity init. (default: the config's)")] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Fresh networks: recurrent units. (default: the config's, 200)")] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Fresh networks: pretrained vectors for the words (else random).", exists=True, dir_okay=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Fresh networks: initialisation seed. (default: the config's, 1)")] = None,
    min_length: Annotated[int, typer.Option(help="Use sentences of at least this many tokens; distances 0 … N-1 are reported.", min=2)] = 30,
    sentences: Annotated[int, typer.Option(help="Use at most this many such sentences (the first in DATA).", min=1)] = 100,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="A table, or one JSON object.")] = OutputFormat.table,
    plot: Annotated[Optional[Path], typer.Option(help="Also draw the curves into this PNG file (log-scale y).", dir_okay=False)] = None,
    embedding_cache: Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag.")] = True,
) -> None:
    """Norm of d‖h_T‖ / dh_t for t = T, T-1, … back from a sentence's last step, averaged over long sentences.

    h_t are the first recurrent layer's forward-direction states (eval mode); ‖h_T‖ stands in for the loss at
    the last step, so distance 0 is exactly 1 and each row is the share of that gradient reaching d steps
    back. For a model file, or for fresh untrained networks (compare cells with several --cell options).
    """
    from seqtag.config import check_value, read_toml
    from seqtag.errors import InputError

    if plot is not None and not plot.parent.is_dir():
        raise InputError(f"cannot write the plot: no such directory {str(plot.parent)!r}", plot)
    fresh = (source == DEFAULT_SOURCE and not Path(source).exists()) or source.endswith(".toml")
    if fresh:
        settings: dict[str, Any] = {} if source == DEFAULT_SOURCE else read_toml(Path(source))
        for key, value in (("hidden", hidden), ("seed", seed)):
            if value is not None:
                settings[key] = check_value(key, value, f"--{key}")
        cells = [c.value for c in cell or []]
        curves, title = _fresh_curves(settings, data, cells, embeddings, min_length, sentences, embedding_cache)
    else:
        options = (("--cell", cell or None), ("--hidden", hidden), ("--embeddings", embeddings), ("--seed", seed))
        given = [name for name, value in options if value is not None]
        if given:
            raise InputError(f"{given[0]} is for fresh networks (a .toml config or `{DEFAULT_SOURCE}`); a model file has its own", source)
        curves, title = _model_curves(Path(source), data, min_length, sentences)
    count = curves[0].sentences
    if plot is not None:
        from seqtag.tools.diagnose import plot_curves

        try:
            plot_curves(curves, plot, f"{title}; {data.name}, {count} sentences of ≥ {min_length} tokens")
        except OSError as error:
            raise InputError(f"cannot write the plot: {error.strerror or error}", plot) from None
    if output_format is OutputFormat.json:
        payload = {
            "measure": "norm of d|h_T| / dh_(T-d), first layer's forward states, mean over sentences",
            "source": source, "data": str(data), "min_length": min_length, "sentences": count,
            "curves": [{"label": c.label, "mean_norm": c.mean_norm, "relative": c.relative} for c in curves],
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    err.print(f"{title}: d‖h_T‖/dh_(T-d) over {count} sentences of ≥ {min_length} tokens from {data}", markup=False)
    header = ["distance"] + [f"{c.label} {kind}" for c in curves for kind in ("norm", "rel")]
    width = max(10, *(len(h) for h in header))
    lines = ["  ".join(f"{h:>{width}}" for h in header)]
    for d in range(min_length):
        row = [f"{d:>{width}}"]
        for curve in curves:
            rel = curve.relative[d]
            row += [f"{curve.mean_norm[d]:>{width}.3e}", f"{rel:>{width}.3e}" if rel is not None else f"{'-':>{width}}"]
        lines.append("  ".join(row))
    sys.stdout.write("\n".join(lines) + "\n")


def _selected(data: Path, data_config: Any, task: str, min_length: int, limit: int) -> list[list[str]]:
    from seqtag.tools.diagnose import long_sentences, read_token_lists
    from seqtag.errors import InputError

    found = long_sentences(read_token_lists(data, data_config, task), min_length, limit)
    if not found:
        raise InputError(f"no sentence has {min_length} or more tokens; lower --min-length", data)
    return found


def _model_curves(source: Path, data: Path, min_length: int, limit: int) -> tuple[list[Any], str]:
    """The one curve of a trained model, and a title."""
    from seqtag.tasks import load_model
    from seqtag.tools.diagnose import cell_label, gradient_curve

    model = load_model(source)
    found = _selected(data, model.data_config, model.task, min_length, limit)
    curve = gradient_curve(model.net.encoder, model.collate, found, min_length, cell_label(model.model_config))
    return [curve], f"{source.name} ({curve.label})"


def _fresh_curves(settings: dict[str, Any], data: Path, cells: list[str], embeddings: Path | None,
                  min_length: int, limit: int, cache: bool) -> tuple[list[Any], str]:
    """One curve per cell (or the config's own) of untrained networks sharing vocabularies and seed, and a title."""
    from seqtag.data.batching import Collator
    from seqtag.config import build_configs
    from seqtag.tools.diagnose import cell_label, fresh_encoder, gradient_curve
    from seqtag.data.inputs import build_inputs

    data_config, model_config, train_config = build_configs(settings)
    task = model_config.task
    if task == "auto":
        from seqtag.formats.registry import detect_task

        task = detect_task(data)
    found = _selected(data, data_config, task, min_length, limit)
    inputs = build_inputs(found, embeddings, model_config, train_config.seed, cache, lambda message: err.print(message, markup=False))
    collate = Collator(inputs.words, inputs.chars, None, casing=model_config.casing_dim > 0)
    configs = [_cell_config(model_config, c) for c in cells] or [model_config]
    curves = []
    for config in configs:
        encoder = fresh_encoder(inputs, config, train_config.seed)
        curves.append(gradient_curve(encoder, collate, found, min_length, cell_label(config)))
    return curves, "untrained networks" if len(curves) > 1 else f"untrained {curves[0].label}"
