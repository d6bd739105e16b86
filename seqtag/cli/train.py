"""`seqtag train`: parse options, merge them over the config file, call the library, save one model file."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from seqtag.cli._common import (
    Activation,
    Amp,
    Cell,
    Encoder,
    CharEncoder,
    DataFormat,
    Pooling,
    Task,
    Head,
    Optimizer,
    Scheme,
    UposField,
    err,
    is_tty,
    reports_input_errors,
    silence_errors,
)

ExistingFile = dict(exists=True, dir_okay=False, readable=True)
MODEL = "Model"
TRAINING = "Training"
DATA = "Data"
HARDWARE = "Hardware"


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
    train_file: Annotated[Path, typer.Option("--train", help="Training data (CoNLL columns or CoNLL-U).", **ExistingFile)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model file.")] = Path("model.seqtag"),
    dev_file: Annotated[Optional[Path], typer.Option("--dev", help="Dev data for early stopping and model selection.", **ExistingFile)] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Pretrained vectors: word2vec .bin/.txt, GloVe .txt, fastText .vec, .gz, gensim .kv.", **ExistingFile)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file of settings; command-line options override it.", **ExistingFile)] = None,
    task: Annotated[Optional[Task], typer.Option(help="tag (CoNLL columns) or classify (one text per line); auto guesses from the file. (default: auto)")] = None,
    # model
    encoder: Annotated[Optional[Encoder], typer.Option(help="rnn: stacked recurrent layers; window: feed-forward layers over the ±--window words around each token. (default: rnn)", rich_help_panel=MODEL)] = None,
    window: Annotated[Optional[int], typer.Option(help="Window encoder: words on each side of a token. (default: 2)", rich_help_panel=MODEL)] = None,
    cell: Annotated[Optional[Cell], typer.Option(help="Recurrent cell. (default: lstm)", rich_help_panel=MODEL)] = None,
    activation: Annotated[Optional[Activation], typer.Option(help="Nonlinearity of the rnn cell or of the window encoder's hidden layers. (default: tanh)", rich_help_panel=MODEL)] = None,
    identity_init: Annotated[Optional[bool], typer.Option("--identity-init/--no-identity-init", help="rnn cell: start the recurrent weights as the identity and biases at 0 (IRNN, with --activation relu). (default: no)", rich_help_panel=MODEL)] = None,
    layers: Annotated[Optional[int], typer.Option(help="Stacked recurrent layers (window encoder: hidden layers). (default: 1)", rich_help_panel=MODEL)] = None,
    hidden: Annotated[Optional[int], typer.Option(help="Recurrent units per direction (window encoder: units per hidden layer). (default: 200)", rich_help_panel=MODEL)] = None,
    bidirectional: Annotated[Optional[bool], typer.Option("--bidirectional/--no-bidirectional", help="Read sentences both ways. (default: bidirectional)", rich_help_panel=MODEL)] = None,
    char_encoder: Annotated[Optional[CharEncoder], typer.Option(help="Character encoder. (default: cnn)", rich_help_panel=MODEL)] = None,
    head: Annotated[Optional[Head], typer.Option(help="Tagger output layer. (default: crf)", rich_help_panel=MODEL)] = None,
    pooling: Annotated[Optional[Pooling], typer.Option(help="Classifier pooling over time steps. (default: max)", rich_help_panel=MODEL)] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout on embeddings and RNN outputs. (default: 0.5)", rich_help_panel=MODEL)] = None,
    fine_tune: Annotated[Optional[bool], typer.Option("--fine-tune/--freeze", help="Update pretrained vectors while training. (default: fine-tune)", rich_help_panel=MODEL)] = None,
    word_dim: Annotated[Optional[int], typer.Option(help="Word vector size without --embeddings. (default: 100)", rich_help_panel=MODEL)] = None,
    keep_vectors: Annotated[Optional[int], typer.Option(help="Most frequent pretrained rows kept beside the training words, 0 = none. (default: 400000)", rich_help_panel=MODEL)] = None,
    # training
    epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs. (default: 50)", rich_help_panel=TRAINING)] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without dev improvement. (default: 5)", rich_help_panel=TRAINING)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sentences per batch. (default: 32)", rich_help_panel=TRAINING)] = None,
    batch_tokens: Annotated[Optional[int], typer.Option(help="Also cap batches at this many padded tokens, 0 = no cap (long documents). (default: 0)", rich_help_panel=TRAINING)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. (default: 0.001)", rich_help_panel=TRAINING)] = None,
    optimizer: Annotated[Optional[Optimizer], typer.Option(help="Optimizer. (default: adam)", rich_help_panel=TRAINING)] = None,
    clip: Annotated[Optional[float], typer.Option(help="Gradient-norm clipping, 0 = off. (default: 5)", rich_help_panel=TRAINING)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed. (default: 1)", rich_help_panel=TRAINING)] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Train this many times (seeds SEED, SEED+1, …), print dev mean ± std on stdout, keep the best-dev model.", rich_help_panel=TRAINING)] = 1,
    threads: Annotated[Optional[int], typer.Option(help="Torch threads, 0 = torch's default. (default: 0)", rich_help_panel=TRAINING)] = None,
    deterministic: Annotated[Optional[bool], typer.Option("--deterministic/--no-deterministic", help="Deterministic torch kernels and, unless --threads says otherwise, 1 thread: the same seed gives bit-identical weights. (default: no)", rich_help_panel=TRAINING)] = None,
    checkpoint_dir: Annotated[Optional[Path], typer.Option("--checkpoint-dir", help="Keep the whole training state in DIR/checkpoint.pt (every epoch, on Ctrl-C) so --resume DIR can continue the run.", rich_help_panel=TRAINING)] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Also checkpoint every N training steps, 0 = at epoch ends only. (default: 0)", rich_help_panel=TRAINING)] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the run checkpointed in DIR, with the same data and settings (--epochs and --patience may change); checkpoints keep going to DIR.", rich_help_panel=TRAINING)] = None,
    # data
    input_format: Annotated[Optional[DataFormat], typer.Option(help="Format of --train/--dev. (default: auto: conllu for .conllu files, else conll; classification formats are detected)", rich_help_panel=DATA)] = None,
    token_column: Annotated[Optional[int], typer.Option(help="Token column, 0-based. (default: 0)", rich_help_panel=DATA)] = None,
    tag_column: Annotated[Optional[int], typer.Option(help="Tag column, 0-based, negative from the end. (default: -1)", rich_help_panel=DATA)] = None,
    conllu_field: Annotated[Optional[UposField], typer.Option(help="Tag field of CoNLL-U files. (default: upos)", rich_help_panel=DATA)] = None,
    scheme: Annotated[Optional[Scheme], typer.Option(help="Tag scheme of the files. (default: auto)", rich_help_panel=DATA)] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of the data files. (default: utf-8)", rich_help_panel=DATA)] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL: label column name or index. (default: 'label' or the first)", rich_help_panel=DATA)] = None,
    text_columns: Annotated[Optional[str], typer.Option(help="Classification TSV/CSV/JSONL: comma-separated text columns, joined. (default: 'text'/'sentence' or the rest)", rich_help_panel=DATA)] = None,
    tokenized: Annotated[Optional[bool], typer.Option("--tokenized/--untokenized", help="Classification text is already tokenized (split on spaces). (default: untokenized: syntok)", rich_help_panel=DATA)] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Truncate classification texts to this many tokens, 0 = keep all. (default: 0)", rich_help_panel=DATA)] = None,
    embedding_cache: Annotated[bool, typer.Option("--embedding-cache/--no-embedding-cache", help="Cache converted vector files in $SEQTAG_CACHE_DIR or ~/.cache/seqtag.")] = True,
    # hardware
    device: Annotated[str, typer.Option(help="Where to train: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; under torchrun, cuda means each process's own GPU. (default: auto)", rich_help_panel=HARDWARE)] = "auto",
    amp: Annotated[Amp, typer.Option(help="CUDA only: automatic mixed precision of the forward pass, bf16 or fp16 (with loss scaling) autocast; the CRF stays in float32. (default: none)", rich_help_panel=HARDWARE)] = Amp.none,
    nproc: Annotated[int, typer.Option(min=1, help="Data-parallel training in N processes on this machine: runs `torchrun --standalone --nproc-per-node N -m seqtag train …` (DistributedDataParallel; gloo on CPU, NCCL on GPUs). --batch-size stays the global batch. (default: 1)", rich_help_panel=HARDWARE)] = 1,
) -> None:
    """Train a tagger or classifier and write ONE model file (best dev epoch). Progress goes to stderr."""
    from seqtag.config import build_configs, check_value, read_toml
    from seqtag.training.distributed import launched

    cluster = launched()  # under torchrun: this process's rank
    if not cluster.main:
        silence_errors()
    if nproc > 1:
        if cluster.distributed:
            from seqtag.errors import InputError

            raise InputError("already running under torchrun; give the process count to torchrun only", "--nproc")
        raise typer.Exit(launch_torchrun(nproc))

    settings: dict[str, Any] = read_toml(config) if config is not None else {}
    given = dict(
        task=task, pooling=pooling, batch_tokens=batch_tokens, label_column=label_column, text_columns=text_columns,
        tokenized=tokenized, max_tokens=max_tokens,
        encoder=encoder, window=window, activation=activation, identity_init=identity_init,
        cell=cell, layers=layers, hidden=hidden, bidirectional=bidirectional, char_encoder=char_encoder, head=head,
        dropout=dropout, fine_tune=fine_tune, word_dim=word_dim, keep_vectors=keep_vectors, epochs=epochs,
        patience=patience, batch_size=batch_size, lr=lr, optimizer=optimizer, clip=clip, seed=seed,
        threads=threads, deterministic=deterministic, checkpoint_every=checkpoint_every,
        input_format=input_format, token_column=token_column, tag_column=tag_column,
        conllu_field=conllu_field, scheme=scheme, encoding=encoding,
    )
    for key, value in given.items():
        if value is not None:
            value = value.value if hasattr(value, "value") else value
            settings[key] = check_value(key, value, f"--{key.replace('_', '-')}")
    notes: list[str] = []  # printed with the first progress line, so a data error stays the only stderr line
    if settings.get("task", "auto") == "auto":
        from seqtag.formats.detect import detect_task

        settings["task"] = detect_task(train_file)
        notes.append(f"task: {settings['task']} (guessed from {train_file}; set --task to override)")
    data_config, model_config, train_config = build_configs(settings)
    from seqtag.errors import InputError

    if output.is_dir():
        raise InputError("is a directory; give a file name for the model", output)
    if not output.parent.is_dir():
        # Checked now: the model file is written only after training, and would fail then.
        raise InputError(f"cannot write the model file: no such directory {str(output.parent)!r}", output)
    if resume is not None and checkpoint_dir not in (None, resume):
        raise InputError("give one checkpoint directory: --resume DIR goes on saving to DIR", "--checkpoint-dir")
    if checkpoint_every is not None and checkpoint_dir is None and resume is None:
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
    if not cluster.main:
        return
    try:
        model.save(output)
    except OSError as error:
        raise InputError(f"cannot write the model file: {error.strerror or error}", output) from None
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
