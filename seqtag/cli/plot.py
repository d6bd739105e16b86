"""`seqtag plot`: pictures of a trained model (matplotlib is imported only by these commands)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqtag.cli._common import err, reports_input_errors

plot = typer.Typer(help="Draw PNG pictures of a trained model.", no_args_is_help=True)


@plot.command()
@reports_input_errors
def history(
    model: Annotated[Path, typer.Argument(help="A .seqtag model file, or the --checkpoint-dir of a training run (finished, going on or interrupted).", exists=True)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The PNG file to write.")],
) -> None:
    """Training curves from the history stored in the model: loss, dev scores and learning rate per epoch."""
    from seqtag.evaluation.plots import check_output, history_png, read_history

    check_output(output)
    epochs, source = read_history(model)
    history_png(epochs, output, source.name)
    err.print(f"wrote {output}", markup=False)
