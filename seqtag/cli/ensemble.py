"""`seqtag ensemble`: model files of one training with other seeds as ONE model predicting with their mean."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from seqtag.cli._common import err, reports_input_errors


@reports_input_errors
def ensemble(
    models: Annotated[list[Path], typer.Argument(metavar="MODEL", help="Two or more .seqtag files trained on the same data with the same settings (other --seed).", exists=True, dir_okay=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the ensemble; an existing file is replaced only with --force.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the --output file if it exists.", metavar="")] = False,
    dev_file: Annotated[Optional[Path], typer.Option("--dev", help="Score the ensemble on this dev data (printed on stdout, kept in the file); a multi-label ensemble tunes its thresholds on it.", exists=True)] = None,
) -> None:
    """Make ONE model of several runs of one training, predicting with their mean scores.

    Taggers average emission and CRF transition scores, classifiers probabilities. Train the members in
    parallel (one `seqtag train --seed S` each), then combine them here."""
    from seqtag.tools.ensemble import ensemble as make_ensemble

    start = time.perf_counter()
    model = make_ensemble(models, dev=dev_file, output=output, force=force)
    scores = model.meta.get("dev_scores")
    if dev_file is not None and scores:
        print(f"ensemble\tdev {100 * scores['score']:.2f}")
    err.print(f"saved {output} ({output.stat().st_size / 1e6:.1f} MB; ensemble of {model.members} models; "
              f"{time.perf_counter() - start:.0f} s)", markup=False)
