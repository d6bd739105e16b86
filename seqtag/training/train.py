"""The one training function for every task: the task reads the labelled data and names the labels, the
shared inputs (vocabularies, vectors) and the task's network are built, and the loop (loop.py) trains it
with checkpoints. The task-specific parts are hooks of the task's Model subclass (seqtag.tasks)."""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.data.batching import Batch, bucket_batches
from seqtag.data.context import as_plain
from seqtag.data.inputs import build_inputs, run_meta
from seqtag.tasks import task_class
from seqtag.training.checkpoint import CheckpointDir, fingerprint
from seqtag.training.distributed import main_first, predict_shared, rank_batches
from seqtag.training.loop import (
    Callbacks, History, Runtime, TrainingError, fit, prepare_run, record_history, start_training,
)


def train_model(
    train: Path,
    dev: Path | None,
    embeddings: Path | None,
    data_config: DataConfig,
    model_config: ModelConfig,
    train_config: TrainConfig,
    callbacks: Callbacks | None = None,
    embedding_cache: bool = True,
    log: Any = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    runtime: Runtime = Runtime(),
    base: Any = None,
    rehearse: Path | None = None,
    data: Any = None,
) -> tuple[Any, History]:
    """Read the data, build vocabularies and the network of ``model_config.task``, train with early stopping
    on dev; the model (holding the best dev epoch's weights) and the run's history.

    With ``checkpoint_dir`` the training state is saved there as it goes (:mod:`seqtag.training.checkpoint`);
    ``resume`` continues from the checkpoint in it, which must come from the same data and settings.
    Notes about the run go to ``log`` once the data has been read without error.

    With a ``base`` model (``--init-from``), training continues from its weights and vocabularies, extended
    by the new data's words and labels (:meth:`seqtag.tasks.base.Model.extend`); ``rehearse`` is old data
    mixed into the training data.
    """
    task = task_class(model_config.task)
    cluster = runtime.cluster
    checkpoints = CheckpointDir(checkpoint_dir, resume, writable=cluster.main) if checkpoint_dir else None
    say = log or (lambda message: None)
    notes: list[str] = []  # said once the run is known to start, so an input error stays the only output
    prepare_run(train_config)
    if data is None:  # else: the data as read already (the folds of `data check --find-label-errors`)
        trains = [train] + ([rehearse] if rehearse is not None else [])
        data = task.training_data(trains if rehearse is not None else train, dev, data_config, model_config,
                                  known=base.labels.items if base is not None else ())
    notes.append(data.summary)
    if data.settings:
        model_config = dataclasses.replace(model_config, **data.settings)
        notes.append(data.settings_note)
    if base is None:
        with main_first(cluster):  # rank 0 fills the vector cache, the others read it
            inputs = build_inputs(
                (r.tokens for r in data.train), embeddings, model_config, train_config.seed, embedding_cache, notes.append
            )
        meta = {**run_meta(train, dev, embeddings, inputs), **data.meta}
        model = task.create(inputs, data, data_config, train_config, meta).to(runtime.device)
        model.net.encoder.load_pretrained(torch.from_numpy(inputs.matrix))
    else:
        meta = {"train_data": str(train), "dev_data": str(dev) if dev is not None else None,
                "embeddings": base.meta.get("embeddings"), "embedding_coverage": base.meta.get("embedding_coverage"),
                "init_from": base.meta.get("init_path"), "rehearse": str(rehearse) if rehearse is not None else None,
                **data.meta}
        model = task.extend(base, data, data_config, train_config, model_config, meta).to(runtime.device)
        added = [label for label in data.labels.items if label not in base.labels.index]
        notes.append(f"continuing {meta['init_from']}: {len(base.labels)} labels + {len(added)} new"
                     + (f" ({', '.join(added[:8])}{', …' if len(added) > 8 else ''})" if added else "")
                     + f", {model.words.trainable - base.words.trainable:,} new words")
    weighed = model.set_class_weights(data.targets)
    if weighed is not None:
        notes.append(weighed)

    token_lists = model.inputs(data.train)  # the tokens (in their document context, for such taggers)
    dev_inputs = model.inputs(data.dev)
    resumed = None  # the checkpoint's training state when resuming
    if checkpoints is not None:
        train_items = ([as_plain(item), target] for item, target in zip(token_lists, data.targets))
        dev_items = ([as_plain(item), gold] for item, gold in zip(dev_inputs, data.dev_gold))
        resumed = checkpoints.start(fingerprint(model, train_items, dev_items))
        if resumed is not None:
            notes.append(checkpoints.resume_note(resumed))
    state = start_training(model.net, train_config, resumed, checkpoints.path if checkpoints else None)
    for note in notes:
        say(note)

    lengths = [len(tokens) for tokens in token_lists]

    def batches(rng: random.Random) -> list[Batch]:
        groups = bucket_batches(
            lengths, train_config.batch_size, shuffle=True, rng=rng, max_tokens=train_config.batch_tokens or None
        )
        # Under torchrun, this rank's slice of each global batch; a loss that is a mean over tokens is
        # weighted by the slice's tokens.
        return rank_batches(
            groups, cluster,
            lambda mine: model.training_batch([token_lists[i] for i in mine], [data.targets[i] for i in mine]),
            lengths if model.loss_per_token else None,
        )

    def score_dev() -> dict[str, float]:
        predicted = predict_shared(model.dev_predict, dev_inputs, cluster)
        return model.dev_scores(data.dev_gold, predicted)

    history = fit(model.net, batches, score_dev if data.dev else None, train_config, callbacks, checkpoints, state, runtime)
    if data.dev and model.tunes_on_dev:
        with torch.inference_mode():
            model.tune_on_dev(data.dev_gold, predict_shared(model.dev_predict, dev_inputs, cluster))
    record_history(meta, history)
    return model, history


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` gives back: the model (best dev epoch of the best seed), its run's history, where
    it was saved, and every seed's best dev score."""

    model: Any
    history: History
    path: Path | None  # the model file, when an output was given (and this process saves)
    runs: list[tuple[int, float | None]]  # (seed, best dev score) per run
    ensemble_scores: dict[str, float] | None = None  # with ensemble=True: the ensemble's dev scores
    interrupted: bool = False  # Ctrl-C ended the last run (the model holds what was trained by then)

    @property
    def best_epoch(self) -> int:
        return self.history.best_epoch

    @property
    def dev_scores(self) -> dict[str, float]:
        """The model's dev scores: the best epoch's, or the ensemble's."""
        if self.ensemble_scores is not None:
            return dict(self.ensemble_scores)
        best = self.history.best
        return dict(best.dev) if best is not None else {}


def train(
    train: str | Path,
    dev: str | Path | None = None,
    *,
    embeddings: str | Path | None = None,
    output: str | Path | None = None,
    config: str | Path | None = None,
    force: bool = False,
    seeds: int = 1,
    ensemble: bool = False,
    checkpoint_dir: str | Path | None = None,
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    rehearse: str | Path | None = None,
    embedding_cache: bool = True,
    device: str = "cpu",
    amp: str = "none",
    cluster: Any = None,
    progress: Callable[[], Callbacks] | None = None,
    log: Callable[[str], None] | None = None,
    **settings: Any,
) -> TrainResult:
    """Train a tagger or classifier, as ``seqtag train`` does (it calls this), and return it.

    ``settings`` are the command line's settings as keyword arguments (``hidden=256``, ``cell="gru"``,
    ``epochs=10``, ``task="classify"`` …), over those of the TOML ``config`` file, validated as the command
    line validates them. The task is detected from ``train`` unless ``task`` is given. ``seeds`` > 1 trains
    that many times (seeds ``seed``, ``seed + 1`` …) and keeps the best on dev, or with ``ensemble`` all of
    them as one model that predicts with their mean scores (:meth:`seqtag.tasks.base.Model.ensemble`). The
    model is saved to ``output`` (an existing file is replaced only with ``force``); if that fails, it is saved beside it or
    in the temporary folder and the error names where. ``progress`` makes the callbacks of each run; ``log``
    gets the run's notes, the first of them once the data has been read without error.

    ``init_from`` (a model file) continues that model on ``train``: its task, architecture and data settings
    hold (settings of the model's architecture are errors), new words and labels extend it, and
    ``rehearse`` (labelled data of the old model, say) is mixed into the training data.
    """
    from seqtag.config import SETTINGS, build_configs, check_value, read_toml
    from seqtag.errors import InputError
    from seqtag.formats.registry import check_data_path, detect_task
    from seqtag.training.devices import resolve_device
    from seqtag.training.distributed import SINGLE, device_for, join, leave

    cluster = cluster or SINGLE
    notes: list[str] = []  # said with the first progress line, so that an input error stays the only output
    merged: dict[str, Any] = read_toml(Path(config)) if config is not None else {}
    for key, value in settings.items():
        merged[key] = check_value(key, value, SETTINGS[key].option if key in SETTINGS else key)
    base = None
    if rehearse is not None and init_from is None:
        raise InputError("mixes old data into continued training: give the old model with --init-from", "--rehearse")
    if init_from is not None:
        base = _init_model(Path(init_from), merged, embeddings)
    for option, path in (("--train", train), ("--dev", dev)):
        check_data_path(path, option)
    if merged.get("task", "auto") == "auto":
        merged["task"] = detect_task(train, merged.get("encoding", "utf-8"), merged.get("input_format", "auto"))
        notes.append(f"task: {merged['task']} (guessed from {train}; set --task to override)")
    if dev is None:
        notes.append("no --dev data: the last epoch is kept (no model selection, no early stopping)")
    data_config, model_config, train_config = build_configs(merged)
    if base is not None:  # the model's architecture and its data settings, with what was given over them
        from seqtag.config import check_architecture

        model_config = dataclasses.replace(base.model_config, **{k: merged[k] for k in CONTINUED if k in merged})
        check_architecture(model_config)
        data_config = dataclasses.replace(
            base.data_config, **{k: v for k, v in merged.items() if SETTINGS[k].section == "data"})
    path = Path(output) if output is not None else None
    if path is not None:
        check_output(path, force)
    if seeds < 1:
        raise InputError(f"must be 1 or more, got {seeds}", "--seeds")
    if ensemble and seeds < 2:
        raise InputError(f"needs 2 or more runs to average: give --seeds N (got {seeds})", "--ensemble")
    resume = Path(resume) if resume is not None else None
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume is not None and checkpoint_dir not in (None, resume):
        raise InputError("give one checkpoint directory: --resume DIR goes on saving to DIR", "--checkpoint-dir")
    if "checkpoint_every" in settings and checkpoint_dir is None and resume is None:
        raise InputError("needs --checkpoint-dir (or --resume)", "--checkpoint-every")
    runtime = Runtime(device_for(cluster, resolve_device(device)), amp, cluster)
    if runtime.amp != "none" and runtime.device.type != "cuda":
        # oneDNN has no low-precision LSTM / GRU kernels on most CPUs: autocast fails inside the RNN.
        raise InputError(f"mixed precision needs a CUDA device; this run is on {runtime.device}", "--amp")

    def say(message: str) -> None:
        if log is not None:
            for note in notes:
                log(note)
            log(message)
        notes.clear()

    join(cluster, runtime.device)
    try:
        trained = _train_seeds(
            train, dev, embeddings, data_config, model_config, train_config, seeds, embedding_cache, runtime, progress,
            say, resume, checkpoint_dir, base, Path(rehearse) if rehearse is not None else None, keep_all=ensemble,
        )
    finally:
        leave()
    runs = [(seed, score) for seed, _, _, score in trained]
    _, model, history, _ = _best(trained)
    scores = None
    if ensemble and len(trained) >= 2:
        from seqtag.tools.ensemble import combine

        model, scores = combine([run[1] for run in trained], Path(dev) if dev is not None else None)
        say(f"ensemble of {len(trained)} runs" + (f": dev score {100 * scores['score']:.2f}" if scores else ""))
    elif ensemble:
        say("only one run finished: saving it alone, not as an ensemble")
    if path is not None and cluster.main:
        save_model(model, path, resume or checkpoint_dir)
    interrupted = trained[-1][2].stopped == "interrupted"
    return TrainResult(model, history, path if cluster.main else None, runs, scores, interrupted)


def _best(runs: list[tuple[int, Any, History, float | None]]) -> tuple[int, Any, History, float | None]:
    """The run with the best dev score (the first of equals; the first run when none was scored)."""
    return max(runs, key=lambda run: float("-inf") if run[3] is None else run[3])


def _train_seeds(train: Any, dev: Any, embeddings: Any, data_config: DataConfig, model_config: ModelConfig,
                 train_config: TrainConfig, seeds: int, embedding_cache: bool, runtime: Runtime, progress: Any,
                 say: Callable[[str], None], resume: Path | None, checkpoint_dir: Path | None, base: Any = None,
                 rehearse: Path | None = None, keep_all: bool = False) -> list[tuple[int, Any, History, float | None]]:
    """Train with seeds seed … seed + seeds - 1 (until one is interrupted): each run's seed, model, history
    and best dev score. Unless ``keep_all``, only the best-dev run keeps its model in memory (the others' are
    None)."""
    from seqtag.errors import InputError
    from seqtag.training.checkpoint import seed_run

    runs: list[tuple[int, Any, History, float | None]] = []
    first = train_config.seed
    for run_seed in range(first, first + seeds):
        if seeds > 1:
            if not 0 <= run_seed < 2**32:
                raise InputError(f"seed {run_seed} is out of range [0, 2**32)", "--seeds")
            say(f"run {run_seed - first + 1} of {seeds}: seed {run_seed}")
        try:
            model, history = train_model(
                Path(train), Path(dev) if dev is not None else None, Path(embeddings) if embeddings is not None else None,
                data_config, model_config, dataclasses.replace(train_config, seed=run_seed),
                callbacks=progress() if progress is not None else None, embedding_cache=embedding_cache, log=say,
                runtime=runtime, base=base, rehearse=rehearse,
                **seed_run(resume or checkpoint_dir, resume is not None, run_seed, seeds),
            )
        except TrainingError as error:  # e.g. the loss became NaN: the message says what to try
            raise InputError(str(error)) from None
        best = history.best
        runs.append((run_seed, model, history, best.dev["score"] if best is not None and best.dev else None))
        if not keep_all:  # only the best run's model stays in memory
            top = _best(runs)
            runs = [run if run is top else (run[0], None, *run[2:]) for run in runs]
        if history.stopped == "interrupted":
            break
    return runs


# settings of the model section that --init-from lets change: they shape the loss and training, not the network
CONTINUED = ("class_weights", "dropout", "fine_tune")


def _init_model(path: Path, merged: dict[str, Any], embeddings: Any) -> Any:
    """The model ``--init-from`` names, after checking that nothing given contradicts it (its task, its
    architecture, its vectors); ``merged["task"]`` becomes its task."""
    from seqtag.config import SETTINGS
    from seqtag.errors import InputError
    from seqtag.tasks import load

    if embeddings is not None:
        raise InputError("the --init-from model keeps its own vectors; new words start from the vectors it gave them",
                         "--embeddings")
    base = load(path)
    if base.members > 1:
        raise InputError(f"is an ensemble of {base.members} models; continue a single model", "--init-from")
    task = merged.get("task", "auto")
    if task not in ("auto", base.task):
        raise InputError(f"--task {task} given, but {path} is a {base.task} model", "--init-from")
    for key in merged:
        if SETTINGS[key].section == "model" and key not in CONTINUED + ("task",):
            raise InputError(f"the network is the --init-from model's ({key.replace('_', '-')} = "
                             f"{getattr(base.model_config, key)!r}); only {', '.join(SETTINGS[k].option for k in CONTINUED)} "
                             "may change", SETTINGS[key].option)
    merged["task"] = base.task
    base.meta["init_path"] = str(path)
    return base


def check_output(path: Path, force: bool) -> None:
    """Refuse, before any training, an output that cannot be written or would replace a file unasked."""
    from seqtag.errors import InputError

    if path.is_dir():
        raise InputError("is a directory; give a file name for the model", path)
    if not path.parent.is_dir():
        # Checked now: the model file is written only after training, and would fail then.
        raise InputError(f"cannot write the model file: no such directory {str(path.parent)!r}", path)
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError("exists; give --force to replace it", path)


def save_model(model: Any, output: Path, checkpoints: Path | None = None) -> None:
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


def seed_summary(runs: list[tuple[int, float | None]]) -> str:
    """One result line per seed and the mean ± sample std of the best dev scores (in %)."""
    import statistics

    lines = [f"seed {seed}\tdev {100 * score:.2f}" if score is not None else f"seed {seed}\tdev -" for seed, score in runs]
    scores = [100 * score for _, score in runs if score is not None]
    if len(scores) >= 2:
        lines.append(f"mean\tdev {statistics.mean(scores):.2f} ± {statistics.stdev(scores):.2f} (n={len(scores)})")
    return "\n".join(lines)
