"""The one training function for every task: the task reads the labelled data and names the labels, the
shared inputs (vocabularies, vectors) and the task's network are built, and the loop (loop.py) trains it
with checkpoints. The task-specific parts are hooks of the task's Model subclass (seqtag.tasks)."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.data.batching import Batch, bucket_batches
from seqtag.data.inputs import build_inputs, run_meta
from seqtag.tasks import task_class
from seqtag.training.checkpoint import CheckpointDir, fingerprint
from seqtag.training.distributed import main_first, predict_shared, rank_batches
from seqtag.training.loop import Callbacks, History, Runtime, fit, prepare_run, record_history, start_training


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
) -> tuple[Any, History]:
    """Read the data, build vocabularies and the network of ``model_config.task``, train with early stopping
    on dev; the model (holding the best dev epoch's weights) and the run's history.

    With ``checkpoint_dir`` the training state is saved there as it goes (:mod:`seqtag.training.checkpoint`);
    ``resume`` continues from the checkpoint in it, which must come from the same data and settings.
    Notes about the run go to ``log`` once the data has been read without error.
    """
    task = task_class(model_config.task)
    cluster = runtime.cluster
    checkpoints = CheckpointDir(checkpoint_dir, resume, writable=cluster.main) if checkpoint_dir else None
    say = log or (lambda message: None)
    notes: list[str] = []  # said once the run is known to start, so an input error stays the only output
    prepare_run(train_config)
    data = task.training_data(train, dev, data_config, model_config)
    notes.append(data.summary)
    with main_first(cluster):  # rank 0 fills the vector cache, the others read it
        inputs = build_inputs(
            (r.tokens for r in data.train), embeddings, model_config, train_config.seed, embedding_cache, notes.append
        )
    meta = {**run_meta(train, dev, embeddings, inputs), **data.meta}
    model = task.create(inputs, data, data_config, train_config, meta).to(runtime.device)
    model.net.encoder.load_pretrained(torch.from_numpy(inputs.matrix))

    token_lists = [r.tokens for r in data.train]
    resumed = None  # the checkpoint's training state when resuming
    if checkpoints is not None:
        train_items = zip(token_lists, data.targets)
        dev_items = ([r.tokens, gold] for r, gold in zip(data.dev, data.dev_gold))
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
        predicted = predict_shared(model.predict, [r.tokens for r in data.dev], cluster)
        return model.dev_scores(data.dev_gold, predicted)

    history = fit(model.net, batches, score_dev if data.dev else None, train_config, callbacks, checkpoints, state, runtime)
    record_history(meta, history)
    return model, history


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` gives back: the model (best dev epoch), the run's history and where it was saved."""

    model: Any
    history: History
    path: Path | None  # the model file, when an output was given

    @property
    def best_epoch(self) -> int:
        return self.history.best_epoch

    @property
    def dev_scores(self) -> dict[str, float]:
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
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
    **settings: Any,
) -> TrainResult:
    """Train a tagger or classifier as ``seqtag train`` does and return it (saved to ``output`` if given).

    ``settings`` are the command line's training settings as keyword arguments (``hidden=256``,
    ``cell="gru"``, ``epochs=10``, ``task="classify"`` …), over those of the TOML ``config`` file; they are
    validated as the command line validates them. The task is detected from ``train`` unless ``task`` is
    given. An existing ``output`` is replaced only with ``force=True``. ``log`` receives the run's notes.
    """
    from seqtag.config import build_configs, check_value, read_toml
    from seqtag.errors import InputError
    from seqtag.formats.registry import detect_task
    from seqtag.training.devices import resolve_device

    merged: dict[str, Any] = read_toml(Path(config)) if config is not None else {}
    for key, value in settings.items():
        merged[key] = check_value(key, value, key)
    if merged.get("task", "auto") == "auto":
        merged["task"] = detect_task(train, merged.get("encoding", "utf-8"), merged.get("input_format", "auto"))
    data_config, model_config, train_config = build_configs(merged)
    path = Path(output) if output is not None else None
    if path is not None:
        check_output(path, force)
    model, history = train_model(
        Path(train), Path(dev) if dev is not None else None, Path(embeddings) if embeddings is not None else None,
        data_config, model_config, train_config, log=log, runtime=Runtime(resolve_device(device)),
    )
    if path is not None:
        try:
            model.save(path)
        except OSError as error:
            raise InputError(f"cannot write the model file: {error.strerror or error}", path) from None
    return TrainResult(model, history, path)


def check_output(path: Path, force: bool) -> None:
    """Refuse, before any training, an output that cannot be written or would replace a model unasked."""
    from seqtag.errors import InputError

    if path.is_dir():
        raise InputError("is a directory; give a file name for the model", path)
    if not path.parent.is_dir():
        raise InputError(f"cannot write the model file: no such directory {str(path.parent)!r}", path)
    if path.exists() and not force:
        raise InputError("exists; give --force (force=True) to replace it", path)
