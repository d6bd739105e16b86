"""`seqtag train`: parse options, merge them over the config file, call the library, save one model file."""
from __future__ import annotations

import inspect
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import Amp, choice_type, err, is_tty, reports_input_errors, silence_errors
from seqtag.config import DATA, MODEL, TRAINING

ExistingFile = dict(exists=True, dir_okay=False, readable=True)
ExistingData = dict(exists=True, readable=True)  # a file, or a folder (brat standoff)
HARDWARE = "Hardware"  # the other help panels are declared with the settings (config.py)


class ProgressCallbacks:
    """A progress bar per epoch (only on a terminal) and one table row per epoch on stderr."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.task: Any = None
        self.header_done = False

    def on_epoch_start(self, epoch: int, batches: int) -> None:
        if is_tty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn(f"epoch {epoch}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
                TimeRemainingColumn(), console=err, transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("train", total=batches, loss=0.0)

    def on_step(self, loss: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, loss=loss)

    def on_epoch_end(self, result: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if not self.header_done:
            err.print(f"{'epoch':>5} {'loss':>9} {'dev P':>7} {'dev R':>7} {'dev F1':>7} {'dev acc':>7} {'lr':>8} {'time':>7}")
            self.header_done = True
        dev = result.dev
        cells = [f"{100 * dev[k]:7.2f}" if k in dev else f"{'-':>7}" for k in ("precision", "recall", "f1", "accuracy")]
        mark = " *" if result.best else ""
        err.print(f"{result.epoch:>5} {result.loss:>9.4f} {' '.join(cells)} {result.lr:>8.2g} {result.seconds:>6.1f}s{mark}")


@reports_input_errors
def train(
    train_file: Annotated[Path, typer.Option("--train", help="Training data (CoNLL columns or CoNLL-U, an annotation tool's export or brat folder, or texts to classify).", **ExistingData)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model file; an existing file is replaced only with --force. (default: model.seqtag)", show_default=False)] = Path("model.seqtag"),
    force: Annotated[bool, typer.Option("--force", help="Replace the --output file if it exists.", metavar="")] = False,
    dev_file: Annotated[Optional[Path], typer.Option("--dev", help="Dev data for early stopping and model selection; without it the last epoch is kept.", **ExistingData)] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Pretrained vectors: word2vec .bin/.txt, GloVe .txt, fastText .vec, .gz, gensim .kv.", **ExistingFile)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file of settings (keys named like the options, e.g. char-encoder = \"lstm\"); command-line options override it.", **ExistingFile)] = None,
    # training (the settings of the config dataclasses are added to this signature below)
    seeds: Annotated[int, typer.Option(help="Train this many times (seeds SEED, SEED+1, …), print dev mean ± std on stdout, keep the best-dev model. (default: 1)", show_default=False, rich_help_panel=TRAINING)] = 1,
    ensemble: Annotated[bool, typer.Option("--ensemble", help="With --seeds N: save all N runs as ONE model that predicts with their mean scores (N × the prediction time).", metavar="", rich_help_panel=TRAINING)] = False,
    checkpoint_dir: Annotated[Optional[Path], typer.Option("--checkpoint-dir", help="Keep the whole training state in DIR/checkpoint.pt (every epoch, on Ctrl-C) so --resume DIR can continue the run.", rich_help_panel=TRAINING)] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the run checkpointed in DIR, with the same data and settings (--epochs and --patience may change); checkpoints keep going to DIR.", rich_help_panel=TRAINING)] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", metavar="MODEL", help="Continue this .seqtag model on --train: its weights, architecture and data settings; new words and labels extend its vocabularies and output layer (and CRF transitions), and until trained it predicts exactly as before.", rich_help_panel=TRAINING, **ExistingFile)] = None,
    rehearse: Annotated[Optional[Path], typer.Option("--rehearse", metavar="FILE", help="With --init-from: labelled old data mixed into --train, so the model does not forget the old labels.", rich_help_panel=TRAINING, **ExistingFile)] = None,
    # data
    embedding_cache: Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag. (default: embedding-cache)", metavar="", show_default=False, rich_help_panel=DATA)] = True,
    # hardware
    device: Annotated[str, typer.Option(help="Where to train: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; under torchrun, cuda means each process's own GPU. (default: auto)", show_default=False, rich_help_panel=HARDWARE)] = "auto",
    amp: Annotated[Amp, typer.Option(help="CUDA only: automatic mixed precision of the forward pass, bf16 or fp16 (with loss scaling) autocast; the CRF stays in float32. (default: none)", metavar="<choice>", show_default=False, rich_help_panel=HARDWARE)] = Amp.none,
    nproc: Annotated[int, typer.Option(help="Data-parallel training in N processes on this machine: runs `torchrun --standalone --nproc-per-node N -m seqtag train …` (DistributedDataParallel; gloo on CPU, NCCL on GPUs). --batch-size stays the global batch. (default: 1)", show_default=False, rich_help_panel=HARDWARE)] = 1,
    **options: Any,  # one keyword per setting (config.SETTINGS), None where not given
) -> None:
    """Train a tagger or classifier and write ONE model file (best dev epoch). Progress goes to stderr."""
    from seqtag.errors import InputError
    from seqtag.training.distributed import launched

    cluster = launched()  # under torchrun: this process's rank
    if not cluster.main:
        silence_errors()
    for name, least in (("--seeds", seeds), ("--nproc", nproc)):
        if least < 1:
            raise InputError(f"must be 1 or more, got {least}", name)
    if nproc > 1:
        if cluster.distributed:
            raise InputError("already running under torchrun; give the process count to torchrun only", "--nproc")
        raise typer.Exit(launch_torchrun(nproc))

    given = {name: value.value if isinstance(value, Enum) else value for name, value in options.items() if value is not None}
    from seqtag.training.loop import Callbacks
    from seqtag.training.train import seed_summary, train as train_model

    def log(message: str) -> None:
        if cluster.main:  # under torchrun only rank 0 speaks
            err.print(message, markup=False)

    start = time.perf_counter()
    result = train_model(
        train_file, dev_file, embeddings=embeddings, output=output, config=config, force=force, seeds=seeds, ensemble=ensemble,
        checkpoint_dir=checkpoint_dir, resume=resume, init_from=init_from, rehearse=rehearse,
        embedding_cache=embedding_cache, device=device,
        amp=amp.value, cluster=cluster, progress=ProgressCallbacks if cluster.main else Callbacks, log=log, **given,
    )
    history = result.history
    interrupted = result.interrupted
    if not cluster.main:
        if interrupted:
            raise typer.Exit(INTERRUPTED)
        return
    members = result.model.members
    summary = f"ensemble of {members} runs" if members > 1 else f"best epoch {history.best_epoch}"
    if result.dev_scores:
        summary += f", dev score {100 * result.dev_scores['score']:.2f}"
    if seeds > 1 and members == 1:
        summary += f", seed {result.model.train_config.seed}"
    where = f"{result.model.device}" + (f" × {cluster.world} processes" if cluster.distributed else "")
    err.print(
        f"saved {output} ({output.stat().st_size / 1e6:.1f} MB; {summary}; stopped by {history.stopped}; "
        f"{time.perf_counter() - start:.0f} s on {where})",
        markup=False,
    )
    if seeds > 1:
        print(seed_summary(result.runs))
    if members > 1 and result.dev_scores:
        print(f"ensemble\tdev {100 * result.dev_scores['score']:.2f}")
    if interrupted:
        checkpoints = resume or checkpoint_dir
        again = f"; continue the run with --resume {checkpoints} --force" if checkpoints is not None else ""
        err.print(f"interrupted: the model trained so far is in {output}{again}", markup=False)
        raise typer.Exit(INTERRUPTED)


INTERRUPTED = 130  # the exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it


def _setting_parameter(declared: Any) -> inspect.Parameter:
    """The keyword parameter (and typer option) of one declared setting; None means "not given"."""
    about = declared.about
    kind: Any = declared.kind
    extra: dict[str, Any] = {}
    if kind is bool:
        names = ["/".join(declared.flags)]
        extra["metavar"] = ""  # a flag takes no value: no "<bool>" column
    else:
        names = [declared.option]
        if about.choices:
            kind = choice_type(declared.name)
            extra["metavar"] = "<choice>"  # the choices are in the help text: long lists would squeeze the table
    option = typer.Option(*names, help=declared.describe(), rich_help_panel=about.panel, show_default=False, **extra)
    return inspect.Parameter(
        declared.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[kind], option]
    )


def _signature(command: Any) -> inspect.Signature:
    """``command``'s own options and one option per declared setting, in help order: the main panel, then
    the Model, Training, Data and Hardware panels (each panel's settings before its other options)."""
    from seqtag.config import declared_settings

    own = [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for parameter in inspect.signature(command, eval_str=True).parameters.values()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]

    def panel_of(parameter: inspect.Parameter) -> str | None:
        return next((getattr(m, "rich_help_panel", None) for m in getattr(parameter.annotation, "__metadata__", ())), None)

    settings = [_setting_parameter(declared) for declared in declared_settings()]
    ordered: list[inspect.Parameter] = []
    for panel in (None, MODEL, TRAINING, DATA, HARDWARE):
        ordered += [p for p in own if panel_of(p) == panel and panel is None]
        ordered += [p for p in settings if panel_of(p) == panel]
        ordered += [p for p in own if panel_of(p) == panel and panel is not None]
    assert len(ordered) == len(own) + len(settings), "a parameter in an unknown help panel"
    return inspect.Signature(ordered, return_annotation=None)


train.__signature__ = _signature(train)  # type: ignore[attr-defined]


def launch_torchrun(nproc: int) -> int:
    """Re-run this command line under ``torchrun --standalone --nproc-per-node N``; its exit code."""
    import logging
    import os
    import sys

    from seqtag.errors import InputError

    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    if not args or args[0] != "train":
        raise InputError("works from the command line (`seqtag train … --nproc N`); from Python, launch torchrun", "--nproc")
    # torchrun would set one thread per process and warn about it; share the cores out instead.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # torchrun's own launcher, in this process: its failures become exit codes rather than tracebacks,
    # and its log lines about them are left out (the rank that failed printed the reason).
    for name in ("torch.distributed.elastic", "torch.distributed.run"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    launch = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "seqtag", *args])
    try:
        run(launch)
    except ChildFailedError as failed:  # a rank failed and said why on stderr; the others were stopped
        _, first = failed.get_first_failure()
        return first.exitcode if first.exitcode and first.exitcode > 0 else 1
    except SignalException as stopped:  # Ctrl-C: the ranks saved what they had and stopped together
        return 128 + int(stopped.sigval)
    return 0


