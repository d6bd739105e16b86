"""The `seqtag` command: one module per subcommand, each a thin layer over a library function."""
from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.26 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on top of click
    from click.exceptions import ClickException

from seqtag.cli.embeddings import app as embeddings_app
from seqtag.cli.convert import convert
from seqtag.cli.data import data
from seqtag.cli.diagnose import app as diagnose_app
from seqtag.cli.ensemble import ensemble
from seqtag.cli.evaluate import evaluate
from seqtag.cli.info import info
from seqtag.cli.plot import plot
from seqtag.cli.predict import predict
from seqtag.cli.serve import serve
from seqtag.cli.select import select
from seqtag.cli.train import train


class _OneLineErrors(TyperGroup):
    """Usage errors as one ``seqtag: error: …`` line on stderr with exit code 2 (no usage box)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as error:
            message = error.format_message()
            if not message:  # `seqtag` or `seqtag data` alone: the help was the answer
                sys.exit(0)
            sys.stderr.write(f"seqtag: error: {message}\n")
            sys.exit(2)
        except typer.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="seqtag",
    help=(
        "Neural sequence labelling (NER, POS, chunking) and text classification: train, evaluate, predict, "
        "inspect and compare models from the command line."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from seqtag._version import __version__

        sys.stdout.write(f"seqtag {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True, metavar=""
        )
    ] = False,
) -> None:
    """Neural sequence labelling (NER, POS, chunking) and text classification."""


app.command()(train)
app.command()(evaluate)
app.command()(predict)
app.command()(select)
app.command()(info)
app.command()(ensemble)
app.command()(serve)
app.add_typer(plot, name="plot")
app.add_typer(diagnose_app, name="diagnose")
app.command()(convert)
app.add_typer(data)
app.add_typer(embeddings_app, name="embeddings")


def main() -> None:
    app()
