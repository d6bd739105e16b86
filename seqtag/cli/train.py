"""`seqtag train`: parse options, merge them over the config file, call the library, save one model file."""
from __future__ import annotations

import dataclasses
import inspect
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import Amp, choice_type, err, is_tty, reports_input_errors, silence_errors
from seqtag.config import DATA, MODEL, TRAINING

ExistingFile = dict(exists=True, dir_okay=False, readable=True)
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
    train_file: Annotated[Path, typer.Option("--train", help="Training data (CoNLL columns or CoNLL-U, or texts to classify).", **ExistingFile)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model file; an existing file is replaced only with --force. (default: model.seqtag)", show_default=False)] = Path("model.seqtag"),
    force: Annotated[bool, typer.Option("--force", help="Replace the --output file if it exists.", metavar="")] = False,
    dev_file: Annotated[Optional[Path], typer.Option("--dev", help="Dev data for early stopping and model selection; without it the last epoch is kept.", **ExistingFile)] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Pretrained vectors: word2vec .bin/.txt, GloVe .txt, fastText .vec, .gz, gensim .kv.", **ExistingFile)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file of settings (keys named like the options, e.g. char-encoder = \"lstm\"); command-line options override it.", **ExistingFile)] = None,
    # training (the settings of the config dataclasses are added to this signature below)
    seeds: Annotated[int, typer.Option(help="Train this many times (seeds SEED, SEED+1, …), print dev mean ± std on stdout, keep the best-dev model. (default: 1)", show_default=False, rich_help_panel=TRAINING)] = 1,
    checkpoint_dir: Annotated[Optional[Path], typer.Option("--checkpoint-dir", help="Keep the whole training state in DIR/checkpoint.pt (every epoch, on Ctrl-C) so --resume DIR can continue the run.", rich_help_panel=TRAINING)] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the run checkpointed in DIR, with the same data and settings (--epochs and --patience may change); checkpoints keep going to DIR.", rich_help_panel=TRAINING)] = None,
    # data
    embedding_cache: Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag. (default: embedding-cache)", metavar="", show_default=False, rich_help_panel=DATA)] = True,
    # hardware
    device: Annotated[str, typer.Option(help="Where to train: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; under torchrun, cuda means each process's own GPU. (default: auto)", show_default=False, rich_help_panel=HARDWARE)] = "auto",
    amp: Annotated[Amp, typer.Option(help="CUDA only: automatic mixed precision of the forward pass, bf16 or fp16 (with loss scaling) autocast; the CRF stays in float32. (default: none)", metavar="<choice>", show_default=False, rich_help_panel=HARDWARE)] = Amp.none,
    nproc: Annotated[int, typer.Option(help="Data-parallel training in N processes on this machine: runs `torchrun --standalone --nproc-per-node N -m seqtag train …` (DistributedDataParallel; gloo on CPU, NCCL on GPUs). --batch-size stays the global batch. (default: 1)", show_default=False, rich_help_panel=HARDWARE)] = 1,
    **options: Any,  # one keyword per setting (config.SETTINGS), None where not given
) -> None:
    """Train a tagger or classifier and write ONE model file (best dev epoch). Progress goes to stderr."""
    from seqtag.config import SETTINGS, build_configs, check_value, read_toml
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

    settings: dict[str, Any] = read_toml(config) if config is not None else {}
    for name, value in options.items():
        if value is not None:
            value = value.value if isinstance(value, Enum) else value
            settings[name] = check_value(name, value, SETTINGS[name].option)
    notes: list[str] = []  # printed with the first progress line, so a data error stays the only stderr line
    if settings.get("task", "auto") == "auto":
        from seqtag.formats.registry import detect_task

        settings["task"] = detect_task(
            train_file, encoding=settings.get("encoding", "utf-8"), input_format=settings.get("input_format", "auto")
        )
        notes.append(f"task: {settings['task']} (guessed from {train_file}; set --task to override)")
    if dev_file is None:
        notes.append("no --dev data: the last epoch is kept (no model selection, no early stopping)")
    data_config, model_config, train_config = build_configs(settings)

    if output.is_dir():
        raise InputError("is a directory; give a file name for the model", output)
    if not output.parent.is_dir():
        # Checked now: the model file is written only after training, and would fail then.
        raise InputError(f"cannot write the model file: no such directory {str(output.parent)!r}", output)
    if (output.exists() or output.is_symlink()) and not force:
        raise InputError("exists; give --force to replace it", output)
    if resume is not None and checkpoint_dir not in (None, resume):
        raise InputError("give one checkpoint directory: --resume DIR goes on saving to DIR", "--checkpoint-dir")
    if options.get("checkpoint_every") is not None and checkpoint_dir is None and resume is None:
        raise InputError("needs --checkpoint-dir (or --resume)", "--checkpoint-every")
    from seqtag.training.devices import resolve_device
    from seqtag.training.distributed import device_for, join, leave
    from seqtag.training.loop import Runtime
    from seqtag.training.train import train_model

    runtime = Runtime(device_for(cluster, resolve_device(device)), amp.value, cluster)
    if runtime.amp != "none" and runtime.device.type != "cuda":
        # oneDNN has no low-precision LSTM / GRU kernels on most CPUs: autocast fails inside the RNN.
        raise InputError(f"mixed precision needs a CUDA device; this run is on {runtime.device}", "--amp")

    def log(message: str) -> None:
        if not cluster.main:  # under torchrun only rank 0 speaks
            return
        for note in notes:
            err.print(note, markup=False)
        notes.clear()
        err.print(message, markup=False)

    start = time.perf_counter()
    first_seed = train_config.seed
    runs: list[tuple[int, float | None]] = []  # (seed, best dev score)
    join(cluster, runtime.device)
    try:
        model, history = _train_seeds(
            train_model, seeds, first_seed, train_file, dev_file, embeddings, data_config, model_config, train_config,
            embedding_cache, log, resume, checkpoint_dir, runtime, runs,
        )
    finally:
        leave()
    interrupted = history.stopped == "interrupted"
    if not cluster.main:
        if interrupted:
            raise typer.Exit(INTERRUPTED)
        return
    checkpoints = resume or checkpoint_dir
    save_model(model, output, checkpoints)
    best = history.best
    summary = f"best epoch {history.best_epoch}"
    if best is not None and best.dev:
        summary += f", dev score {100 * best.dev['score']:.2f}"
    if seeds > 1:
        summary += f", seed {model.train_config.seed}"
    where = f"{runtime.device}" + (f" × {cluster.world} processes" if cluster.distributed else "")
    err.print(
        f"saved {output} ({output.stat().st_size / 1e6:.1f} MB; {summary}; stopped by {history.stopped}; "
        f"{time.perf_counter() - start:.0f} s on {where})",
        markup=False,
    )
    if seeds > 1:
        print(seed_summary(runs))
    if interrupted:
        again = f"; continue the run with --resume {checkpoints} --force" if checkpoints is not None else ""
        err.print(f"interrupted: the model trained so far is in {output}{again}", markup=False)
        raise typer.Exit(INTERRUPTED)


INTERRUPTED = 130  # the exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it


def save_model(model: Any, output: Path, checkpoints: Path | None) -> None:
    """``model.save(output)``; if that fails, the weights go to a file beside ``output`` or in the temporary
    folder, and the error names it (and the checkpoint directory, if any): a finished run is never lost."""
    from seqtag.errors import InputError

    try:
        model.save(output)
        return
    except Exception as error:  # disk full, no permission, a file system that refuses renames, …
        reason = (error.strerror or str(error)) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
    kept = None
    for fallback in fallback_paths(output):
        try:
            model.save(fallback)
        except Exception:
            continue
        kept = fallback
        break
    message = f"cannot write the model file: {reason}; " + (
        f"the trained model is saved in {kept} instead" if kept is not None else "saving it elsewhere failed too"
    )
    if checkpoints is not None:
        message += f"; the checkpoint in {checkpoints} keeps the training state (--resume {checkpoints})"
    raise InputError(message, output)


def fallback_paths(output: Path) -> list[Path]:
    """Where :func:`save_model` tries to keep a model it could not write to ``output``, in order."""
    import os
    import tempfile

    name = f"{output.stem}.partial-{os.getpid()}{output.suffix or '.seqtag'}"
    paths = [output.with_name(name), Path(tempfile.gettempdir()) / name]
    return paths if paths[0].parent.resolve() != paths[1].parent.resolve() else paths[:1]


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


def _train_seeds(
    train_model: Any, seeds: int, first_seed: int, train_file: Path, dev_file: Path | None, embeddings: Path | None,
    data_config: Any, model_config: Any, train_config: Any, embedding_cache: bool, log: Any, resume: Path | None,
    checkpoint_dir: Path | None, runtime: Any, runs: list[tuple[int, float | None]],
) -> tuple[Any, Any]:
    """Train with seeds first_seed … first_seed + seeds - 1 (appending (seed, best dev score) to ``runs``);
    the (model, history) of the best-dev run."""
    from seqtag.training.checkpoint import seed_run
    from seqtag.errors import InputError
    from seqtag.training.loop import Callbacks, TrainingError

    kept: Any = None  # (model, history, score) of the best run so far
    for run_seed in range(first_seed, first_seed + seeds):
        if seeds > 1:
            if not 0 <= run_seed < 2**32:
                raise InputError(f"seed {run_seed} is out of range [0, 2**32)", "--seeds")
            log(f"run {run_seed - first_seed + 1} of {seeds}: seed {run_seed}")
        run_config = dataclasses.replace(train_config, seed=run_seed)
        try:
            model, history = train_model(
                train_file, dev_file, embeddings, data_config, model_config, run_config,
                callbacks=ProgressCallbacks() if runtime.cluster.main else Callbacks(), embedding_cache=embedding_cache,
                log=log, runtime=runtime, **seed_run(resume or checkpoint_dir, resume is not None, run_seed, seeds),
            )
        except TrainingError as error:  # e.g. the loss became NaN: the message says what to try
            raise InputError(str(error)) from None
        best = history.best
        score = best.dev["score"] if best is not None and best.dev else None
        runs.append((run_seed, score))
        if kept is None or (score is not None and score > kept[2]):
            kept = (model, history, score if score is not None else float("-inf"))
        if history.stopped == "interrupted":
            break
    model, history, _ = kept
    return model, history


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


def seed_summary(runs: list[tuple[int, float | None]]) -> str:
    """One result line per seed and the mean ± sample std of the best dev scores (in %)."""
    import statistics

    lines = [f"seed {seed}\tdev {100 * score:.2f}" if score is not None else f"seed {seed}\tdev -" for seed, score in runs]
    scores = [100 * score for _, score in runs if score is not None]
    if len(scores) >= 2:
        lines.append(f"mean\tdev {statistics.mean(scores):.2f} ± {statistics.stdev(scores):.2f} (n={len(scores)})")
    return "\n".join(lines)
