"""`seqtag select`: the texts of a pool a model is least sure of, written as pre-annotations to correct."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import InputFormat, TagOutput, _choices, err, reports_input_errors

Strategy = _choices("Strategy", ("entropy", "least-confidence", "margin"))


@reports_input_errors
def select(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="A .seqtag model file (a tagger or a classifier).", exists=True, dir_okay=False)],
    pool: Annotated[str, typer.Argument(metavar="POOL", help="Unlabelled texts to choose from, in any format `seqtag predict` reads (raw lines, an annotation tool's export, CoNLL, …), or - for stdin.")] = "-",
    n: Annotated[int, typer.Option("--n", "-n", help="How many texts to select.", min=1)] = 100,
    strategy: Annotated[Optional[Strategy], typer.Option(help="How uncertainty is measured. entropy: taggers sum the entropy of every token's tag marginals (CRF forward-backward), classifiers take the entropy of the class probabilities; least-confidence: 1 - p(best tag sequence) or 1 - p(top class); margin: 1 - (p(best) - p(second best)) from the 2-best paths or the two top classes. (default: entropy)", show_default=False)] = None,
    max_similarity: Annotated[float, typer.Option(help="Diversity: pass over a text whose cosine similarity (lowercased word counts) to one already selected exceeds this, so the batch is not N near-duplicates; 1 = off.", min=0.0, max=1.0)] = 1.0,
    output_format: Annotated[TagOutput, typer.Option("--format", help="How to write the selection (most uncertain first) with the model's predictions: label-studio pre-annotations (each span's probability as its score, the text's as the prediction's score, and a model_version), doccano, spacy, brat (a folder: --output DIR), or jsonl / conll as `seqtag predict` writes them.")] = TagOutput("label-studio"),
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The folder for --format brat.")] = None,
    input_format: Annotated[InputFormat, typer.Option(help="Format of POOL (as for `seqtag predict`). (default: auto)", show_default=False)] = InputFormat.auto,
    encoding: Annotated[str, typer.Option(help="Text encoding of POOL.")] = "utf-8",
    batch_size: Annotated[int, typer.Option(help="Sentences per batch.", min=1)] = 256,
) -> None:
    """Active learning: rank the texts of POOL by how unsure MODEL is of them and write the N most uncertain,
    with the model's predictions, as pre-annotations to correct; a note on stderr says how they were chosen."""
    from seqtag.config import check_value
    from seqtag.errors import InputError
    from seqtag.formats.annotation_writers import SCORED, WRITERS, AnnotationOutput
    from seqtag.formats.registry import resolve
    from seqtag.tasks import load_model
    from seqtag.tasks.base import in_chunks
    from seqtag.tools.select import select as select_texts

    check_value("encoding", encoding, "--encoding")
    chosen_format = output_format.value
    if (chosen_format == "brat") != (output is not None):
        raise InputError("--format brat writes a folder: give it with --output DIR (other formats go to stdout)",
                         "--output")
    loaded = load_model(model)
    loaded.check_prediction_options(chosen_format, None)
    fmt, source = resolve(pool, input_format.value, task=loaded.task, labelled=False, encoding=encoding)
    items = loaded.prediction_input(source, fmt, encoding=encoding)
    selection = select_texts(loaded, items, n, None if strategy is None else strategy.value, max_similarity, batch_size)
    chosen = selection.chosen
    if chosen:
        note = (f"selected {len(chosen):,} of {selection.pool:,} texts by {selection.strategy} (uncertainty "
                f"{chosen[0].score:.4g} to {chosen[-1].score:.4g})")
    else:
        note = f"selected nothing: {selection.pool:,} texts in the pool"
    if selection.skipped:
        note += f"; {selection.skipped:,} passed over as too similar to a selected one (--max-similarity {max_similarity:g})"
    err.print(note, markup=False)
    scored = chosen_format in SCORED
    method, options = loaded.prediction_job(scored, 1 if scored else 0)
    from functools import partial

    results = in_chunks((item for s in chosen for item in s.items), partial(getattr(loaded, method),
                                                                          batch_size=batch_size, **options), 16384)
    out = AnnotationOutput(stream=sys.stdout, folder=output, model_version=model.name) if chosen_format in WRITERS else sys.stdout
    loaded.write_predictions(results, out, chosen_format)
