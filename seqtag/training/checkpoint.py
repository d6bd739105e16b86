"""Training checkpoints: everything needed to continue a run exactly, in one atomically replaced file.

``seqtag train --checkpoint-dir DIR`` keeps ``DIR/checkpoint.pt`` up to date (at every epoch end, every
``checkpoint_every`` steps and on Ctrl-C); ``--resume DIR`` continues from it. Like a model file, the
checkpoint is one ``torch.save`` of a plain dict of tensors and JSON-able values, read back with
``torch.load(weights_only=True)`` (a crafted checkpoint cannot run code), and it is written through
:func:`~seqtag.fileio.atomic_write`, so a kill at any instant leaves the previous checkpoint intact.

Layout (``version`` 1)::

    {"format": "seqtag-checkpoint", "version": 1, "seqtag_version": str,
     "fingerprint": {...},  # what the run is made of: settings, digests of the data and vocabularies
     "state": {             # what seqtag.training.loop.fit needs to go on
        "weights": {name: tensor}, "best_weights": {name: tensor} | None, "optimizer": {...},
        "average": {"values": {name: tensor}, "updates": int} | None (with --ema),
        "progress": {"epoch", "step", "loss", "seen", "seconds", "lr", "best_score", "stalled", "done"},
        "history": {"epochs": [...], "best_epoch": int},
        "rng": {"python": [...], "numpy": [...], "torch": uint8 tensor, "batches": [...]}}}

The frozen pretrained word rows (``*extra_words`` buffers) are left out of ``weights``: they never
change and are rebuilt from the vector file, whose content the fingerprint covers.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seqtag._version import __version__
from seqtag.archive import read_versioned
from seqtag.config import as_dict
from seqtag.errors import InputError
from seqtag.fileio import atomic_write, stale_temporaries
from seqtag.vectors.compact import FROZEN_SUFFIX

if TYPE_CHECKING:
    from seqtag.tasks.base import Model

FORMAT = "seqtag-checkpoint"
VERSION = 1
FILE_NAME = "checkpoint.pt"
# Training settings a resumed run may change: they decide how long it goes on or how fast, not what it computes.
RESUMABLE = ("epochs", "patience", "threads", "deterministic", "checkpoint_every")
_STATE_KEYS = {"weights": dict, "optimizer": dict, "progress": dict, "history": dict, "rng": dict}
_DIFFERENCES = {  # fingerprint entries compared as a whole, and how a mismatch is described
    "task": "the task differs",
    "train_data": "the training examples differ",
    "dev_data": "the dev examples differ",
    "vocabulary": "the vocabularies (words, characters or labels) differ",
    "frozen_vectors": "the pretrained vectors differ",
}


def trained_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state_dict`` without the frozen pretrained rows (what a checkpoint stores)."""
    return {name: tensor for name, tensor in state_dict.items() if not name.endswith(FROZEN_SUFFIX)}


def digest(items: Iterable[Any]) -> str:
    """SHA-256 of JSON-able items, one per line: equal data give equal digests whatever the file layout."""
    sha = hashlib.sha256()
    for item in items:
        sha.update(json.dumps(item, ensure_ascii=False).encode("utf-8"))
        sha.update(b"\n")
    return sha.hexdigest()


def fingerprint(model: Model, train: Iterable[Any], dev: Iterable[Any]) -> dict[str, Any]:
    """What a run is made of: a resumed run must match it (see :func:`check_fingerprint`).

    ``train`` and ``dev`` are the examples as the network sees them (e.g. ``[tokens, tags]`` pairs), so
    moving or re-saving a data file does not matter but any change to its content does.
    """
    frozen = hashlib.sha256()
    for name, tensor in model.net.state_dict().items():
        if name.endswith(FROZEN_SUFFIX):
            frozen.update(tensor.detach().contiguous().numpy())  # hashed in place, not copied
    train_settings = {k: v for k, v in as_dict(model.train_config).items() if k not in RESUMABLE}
    chars = model.chars.items if model.chars is not None else None
    return {  # in the order differences are reported: a change of data first, not the vocabulary it entails
        "task": model.task,
        "train_data": digest(train),
        "dev_data": digest(dev),
        "data": as_dict(model.data_config),
        "model": as_dict(model.model_config),
        "train": train_settings,
        "vocabulary": digest([model.words.items, model.words.trainable, chars, model.labels.items]),
        "frozen_vectors": frozen.hexdigest(),
    }


def check_fingerprint(saved: dict[str, Any], current: dict[str, Any], where: Path) -> None:
    """Refuse to resume a run whose data or settings differ from the checkpoint's, naming the first difference."""
    advice = f"resume with the same data and settings (only {', '.join(RESUMABLE)} may change), or start a new run"
    for key in [*current, *(k for k in saved if k not in current)]:
        old, new = saved.get(key), current.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            name = next(n for n in sorted(set(old) | set(new)) if old.get(n) != new.get(n))
            raise InputError(
                f"cannot resume: {name} is {new.get(name)!r} in this run but {old.get(name)!r} in the checkpoint's; {advice}",
                where,
            )
        difference = _DIFFERENCES.get(key, f"{key} differs")
        raise InputError(f"cannot resume: {difference} from the checkpoint's run; {advice}", where)


def python_rng_state(state: tuple) -> list:
    """``random.getstate()`` as JSON-able lists."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def python_rng_tuple(saved: list) -> tuple:
    """The inverse of :func:`python_rng_state`, for ``random.setstate``."""
    version, internal, gauss = saved
    return version, tuple(internal), gauss


def capture_rngs() -> dict[str, Any]:
    """The global Python, NumPy and torch random states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": python_rng_state(random.getstate()),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }


def restore_rngs(saved: dict[str, Any]) -> None:
    """Set the global random states to :func:`capture_rngs` output (a malformed one raises an Exception)."""
    random.setstate(python_rng_tuple(saved["python"]))
    kind, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(saved["torch"])


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint file's body, checked for format, version and the shape of its entries."""
    path = Path(path)
    body = read_versioned(path, "checkpoint", "checkpoint", FORMAT, VERSION)
    state = body.get("state")
    if not isinstance(body.get("fingerprint"), dict) or not isinstance(state, dict):
        raise InputError("checkpoint lacks its fingerprint or state (corrupted?)", path)
    for key, kind in _STATE_KEYS.items():
        if not isinstance(state.get(key), kind):
            raise InputError(f"checkpoint has a missing or malformed {key!r} entry (corrupted?)", path)
    for name in ("weights", "best_weights"):
        weights = state.get(name) or {}
        if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
            raise InputError(f"checkpoint has a malformed {name!r} entry (corrupted?)", path)
    return body


def _on_cpu(value: Any) -> Any:
    """``value`` with every tensor in it on the CPU (a no-op there), so a GPU run's checkpoint loads anywhere."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def seed_run(directory: Path | None, resume: bool, seed: int, seeds: int) -> dict[str, Any]:
    """``checkpoint_dir`` and ``resume`` for one run of a training over ``seeds`` seeds.

    One seed keeps its checkpoint in ``directory`` itself; several keep theirs in ``directory/seed-N``,
    and when resuming, a seed whose run had not started yet starts afresh.
    """
    if directory is None:
        return {"checkpoint_dir": None, "resume": False}
    if seeds == 1:
        return {"checkpoint_dir": directory, "resume": resume}
    own = directory / f"seed-{seed}"
    return {"checkpoint_dir": own, "resume": resume and (own / FILE_NAME).exists()}


class CheckpointDir:
    """A run's checkpoint directory: checked before any data is read, matched against the run, then written.

    With ``resume`` the directory must hold a checkpoint, which is read at once; without, it must not
    (a new run would silently replace another run's checkpoint). Nothing is written before :meth:`save`.
    """

    def __init__(self, directory: str | Path, resume: bool = False, writable: bool = True) -> None:
        self.directory = Path(directory)
        self.writable = writable  # False on torchrun's ranks other than 0: they read, only rank 0 writes
        self.path = self.directory / FILE_NAME
        self.saved_at: tuple[int, int] | None = None  # (epoch, steps done) of the checkpoint on disk
        self._fingerprint: dict[str, Any] | None = None
        self._body: dict[str, Any] | None = None
        self._prepared = False  # directory made and stale temporary files cleared
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError("is a file; a checkpoint directory is needed", self.directory)
        if resume:
            if not self.path.is_file():
                raise InputError(f"no checkpoint to resume from ({FILE_NAME} is missing)", self.directory)
            self._body = read_checkpoint(self.path)
            progress = self._body["state"]["progress"]
            self.saved_at = (progress.get("epoch"), progress.get("step"))
        elif self.path.exists():
            raise InputError("holds a checkpoint already: continue it with --resume, or choose another directory", self.directory)

    def start(self, run_fingerprint: dict[str, Any]) -> dict[str, Any] | None:
        """Check that this run is the checkpoint's; the state to resume from (None for a new run)."""
        if self._body is not None:
            check_fingerprint(self._body["fingerprint"], run_fingerprint, self.path)
        self._fingerprint = run_fingerprint
        return self._body["state"] if self._body is not None else None

    def resume_note(self, state: dict[str, Any]) -> str:
        """One line saying where a resumed run picks up."""
        progress = state["progress"]
        if progress.get("done"):
            return f"resuming from {self.path}: the run had stopped early; nothing is left to train"
        return f"resuming from {self.path}: epoch {progress.get('epoch')}, after {progress.get('step')} steps of it"

    def save(self, state: dict[str, Any]) -> None:
        """Replace the checkpoint atomically with ``state`` (see the module docstring for its layout).

        The first save makes the directory and clears the temporary files of writes a kill cut short.
        """
        if self._fingerprint is None:
            raise RuntimeError("CheckpointDir.save() called before start()")
        if not self.writable:
            return
        if not self._prepared:
            self._prepare()
        body = {
            "format": FORMAT, "version": VERSION, "seqtag_version": __version__,
            "fingerprint": self._fingerprint, "state": _on_cpu(state),
        }
        try:
            with atomic_write(self.path) as handle:
                torch.save(body, handle)
        except OSError as error:
            raise InputError(f"cannot write the checkpoint: {error.strerror or error}", self.path) from None
        progress = state["progress"]
        self.saved_at = (progress["epoch"], progress["step"])

    def _prepare(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for stale in stale_temporaries(self.path):
                stale.unlink(missing_ok=True)
        except OSError as error:
            raise InputError(f"cannot use the checkpoint directory: {error.strerror or error}", self.directory) from None
        self._prepared = True

    def describe(self) -> str:
        """Where the checkpoint on disk stands, for messages."""
        if self.saved_at is None:
            return f"no checkpoint was written to {self.directory}"
        epoch, step = self.saved_at
        return f"the last good checkpoint (epoch {epoch}, {step} steps done) stays in {self.directory}"
