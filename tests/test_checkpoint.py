"""Checkpoints, resuming, Ctrl-C, SIGKILL, NaN losses and deterministic runs.

The central check: a run that is interrupted (Ctrl-C, or SIGKILL at any instant, even during a checkpoint
write) and resumed ends with exactly the weights, dev predictions and history of an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from seqtag.training.checkpoint import FILE_NAME, CheckpointDir, read_checkpoint
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.errors import InputError
from seqtag.fileio import stale_temporaries
from seqtag.training.train import train_model as train_tagger
from seqtag.training.loop import Callbacks, TrainingError, fit

# 40 sentences in batches of 4: 10 steps per epoch, 3 epochs; small enough for about a second per run.
TRAIN_OPTIONS = ["--hidden", "8", "--word-dim", "16", "--epochs", "3",
                 "--batch-size", "4", "--lr", "0.01", "--seed", "3", "--threads", "1", "--deterministic"]
MODEL = ModelConfig(hidden=8, word_dim=16)
TRAIN = TrainConfig(epochs=3, batch_size=4, lr=0.01, seed=3, threads=1, deterministic=True, checkpoint_every=1)


@contextlib.contextmanager
def torch_state_kept() -> Iterator[None]:
    """--threads and --deterministic set process-wide torch state: give the other tests theirs back."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(autouse=True)
def torch_globals() -> Iterator[None]:
    with torch_state_kept():
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory, sample_slice) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("ckdata")
    sample_slice("train", 40, folder / "train.txt")
    sample_slice("dev", 12, folder / "dev.txt")
    return folder


def run_cli(*args: object) -> Any:  # a click Result
    return CliRunner().invoke(app, [str(a) for a in args])


def train_args(data: pathlib.Path, output: pathlib.Path, *extra) -> list[str]:
    return ["train", "--train", data / "train.txt", "--dev", data / "dev.txt", "-o", output, *TRAIN_OPTIONS, *extra]


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> dict:
    """The uninterrupted run (no checkpoints at all), as the model file's body."""
    output = tmp_path_factory.mktemp("reference") / "reference.seqtag"
    with torch_state_kept():
        result = run_cli(*train_args(data, output))
    assert result.exit_code == 0, result.output
    return torch.load(output, weights_only=True)


def assert_same_run(body: dict, reference: dict, data: pathlib.Path, scratch: pathlib.Path) -> None:
    """Identical weights, dev predictions and per-epoch history (wall-clock times aside)."""
    import seqtag
    from seqtag.formats.registry import read_sentences

    assert body["state_dict"].keys() == reference["state_dict"].keys()
    for name, tensor in reference["state_dict"].items():
        assert torch.equal(body["state_dict"][name], tensor), name

    def epochs(b: dict) -> list:
        return [{k: v for k, v in e.items() if k != "seconds"} for e in b["meta"]["history"]]

    assert epochs(body) == epochs(reference)
    assert body["meta"]["best_epoch"] == reference["meta"]["best_epoch"]
    dev = [s.tokens for s in read_sentences(data / "dev.txt", DataConfig())]
    with torch.inference_mode():
        ours = seqtag.load_model(_written(body, scratch / "ours.seqtag")).predict(dev)
        theirs = seqtag.load_model(_written(reference, scratch / "theirs.seqtag")).predict(dev)
    assert ours == theirs


def _written(body: dict, path: pathlib.Path) -> pathlib.Path:
    torch.save(body, path)
    return path


class InterruptAt(Callbacks):
    """Sends this process a real SIGINT (Ctrl-C) after the given training step."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.done = 0

    def on_step(self, loss: float) -> None:
        self.done += 1
        if self.done == self.step:
            signal.raise_signal(signal.SIGINT)


def library_run(data: pathlib.Path, checkpoints: pathlib.Path | None, resume: bool = False,
                callbacks: Callbacks | None = None, config: TrainConfig = TRAIN):
    return train_tagger(data / "train.txt", data / "dev.txt", None, DataConfig(), MODEL, config,
                        callbacks=callbacks, checkpoint_dir=checkpoints, resume=resume)


# ---------------------------------------------------------------------------- what a checkpoint holds


def test_checkpoint_is_plain_data_with_the_whole_state(data, tmp_path):
    library_run(data, tmp_path / "ck", config=dataclasses.replace(TRAIN, epochs=1))
    body = torch.load(tmp_path / "ck" / FILE_NAME, weights_only=True)  # no pickled objects in it
    assert (body["format"], body["version"]) == ("seqtag-checkpoint", 1)
    state = body["state"]
    assert set(state) == {"weights", "best_weights", "optimizer", "average", "progress", "history", "rng"}
    assert state["average"] is None  # no --ema
    assert state["progress"]["epoch"] == 2 and state["progress"]["step"] == 0
    assert state["optimizer"]["state"] and state["optimizer"]["param_groups"][0]["lr"] == 0.01
    assert set(state["rng"]) == {"python", "numpy", "torch", "batches"}
    assert isinstance(state["rng"]["python"][1], list) and state["rng"]["torch"].dtype == torch.uint8
    assert not any(name.endswith("extra_words") for name in state["weights"])  # rebuilt from the vectors
    assert state["best_weights"].keys() == state["weights"].keys()
    assert [e["epoch"] for e in state["history"]["epochs"]] == [1]
    assert set(body["fingerprint"]) >= {"data", "model", "train", "train_data", "dev_data", "vocabulary"}
    assert "epochs" not in body["fingerprint"]["train"]  # may change on resume
    assert stale_temporaries(tmp_path / "ck" / FILE_NAME) == []


def test_step_checkpoints_are_written_every_n_steps(data, tmp_path):
    saved: list[tuple[int, int]] = []
    original = CheckpointDir.save

    def spy(self, state):
        original(self, state)
        saved.append(self.saved_at)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CheckpointDir, "save", spy)
        library_run(data, tmp_path / "ck", config=dataclasses.replace(TRAIN, epochs=2, checkpoint_every=4))
    assert saved == [(1, 4), (1, 8), (2, 0), (2, 4), (2, 8), (3, 0)]


# ---------------------------------------------------------------------------- resuming gives the same run


def test_ctrl_c_stops_cleanly_and_resuming_equals_the_uninterrupted_run(data, tmp_path, reference):
    checkpoints = tmp_path / "ck"
    # Mid-epoch 1; then the last step of epoch 2 (resumed before its dev scoring); then mid-epoch 3.
    for step, expected in ((7, (1, 7)), (13, (2, 10)), (3, (3, 3))):
        model, history = library_run(data, checkpoints, resume=checkpoints.exists(), callbacks=InterruptAt(step))
        assert history.stopped == "interrupted"
        assert CheckpointDir(checkpoints, resume=True).saved_at == expected
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back
    model, history = library_run(data, checkpoints, resume=True)
    assert history.stopped == "max epochs" and len(history.epochs) == 3
    output = tmp_path / "resumed.seqtag"
    model.save(output)
    assert_same_run(torch.load(output, weights_only=True), reference, data, tmp_path)


def test_with_a_weight_average_resuming_equals_the_uninterrupted_run(data, tmp_path):
    config = dataclasses.replace(TRAIN, ema=0.8)
    whole, whole_history = library_run(data, None, config=config)
    checkpoints = tmp_path / "ck"
    model, history = library_run(data, checkpoints, callbacks=InterruptAt(7), config=config)
    assert history.stopped == "interrupted"
    state = torch.load(checkpoints / FILE_NAME, weights_only=True)["state"]
    assert state["average"]["updates"] == 7
    assert set(state["average"]["values"]) == {n for n, p in model.net.named_parameters() if p.requires_grad}
    model, history = library_run(data, checkpoints, resume=True, config=config)
    assert [e.dev for e in history.epochs] == [e.dev for e in whole_history.epochs]
    for (name, a), (_, b) in zip(model.net.state_dict().items(), whole.net.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(InputError, match="ema is 0.8 in this run but 0.0"):  # a run without --ema cannot turn it on
        plain = tmp_path / "plain"
        library_run(data, plain, callbacks=InterruptAt(3))
        library_run(data, plain, resume=True, config=config)


def test_with_a_time_decayed_rate_resuming_equals_the_uninterrupted_run(data, tmp_path):
    config = dataclasses.replace(TRAIN, optimizer="sgd", lr=0.05, lr_time_decay=0.5, lr_decay=1.0)
    whole, whole_history = library_run(data, None, config=config)
    assert [e.lr for e in whole_history.epochs] == pytest.approx([0.05, 0.05 / 1.5, 0.05 / 2])
    checkpoints = tmp_path / "ck"
    _, history = library_run(data, checkpoints, callbacks=InterruptAt(15), config=config)  # in epoch 2
    assert history.stopped == "interrupted"
    model, history = library_run(data, checkpoints, resume=True, config=config)
    assert [(e.lr, e.dev) for e in history.epochs] == [(e.lr, e.dev) for e in whole_history.epochs]
    for (name, a), (_, b) in zip(model.net.state_dict().items(), whole.net.state_dict().items()):
        assert torch.equal(a, b), name


def test_resuming_a_finished_run_changes_nothing_and_more_epochs_continue_it(data, tmp_path, reference):
    checkpoints = tmp_path / "ck"
    model, _ = library_run(data, checkpoints)
    first = {k: v.clone() for k, v in model.net.state_dict().items()}
    again, history = library_run(data, checkpoints, resume=True)
    assert len(history.epochs) == 3
    assert all(torch.equal(first[k], v) for k, v in again.net.state_dict().items())
    longer, history = library_run(data, checkpoints, resume=True, config=dataclasses.replace(TRAIN, epochs=4))
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4]


def test_seeds_keep_one_checkpoint_directory_each(data, tmp_path):
    output = tmp_path / "m.seqtag"
    result = run_cli(*train_args(data, output, "--epochs", "1", "--seeds", "2", "--checkpoint-dir", tmp_path / "ck"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["seed-3", "seed-4"]
    result = run_cli(*train_args(data, output, "--epochs", "2", "--seeds", "2", "--resume", tmp_path / "ck", "--force"))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("resuming from") == 2


def test_ctrl_c_in_the_cli_saves_the_best_model_and_a_checkpoint(data, tmp_path, reference, monkeypatch):
    progress = sys.modules["seqtag.cli.train"].ProgressCallbacks  # the module: its name is shadowed by the command
    original, ctrl_c = progress.on_step, InterruptAt(15)

    def on_step(self, loss: float) -> None:
        original(self, loss)
        ctrl_c.on_step(loss)

    monkeypatch.setattr(progress, "on_step", on_step)
    output, checkpoints = tmp_path / "m.seqtag", tmp_path / "ck"
    result = run_cli(*train_args(data, output, "--checkpoint-dir", checkpoints))
    assert result.exit_code == 130, result.output
    assert "stopped by interrupted" in result.stderr and "best epoch 1" in result.stderr
    assert torch.load(output, weights_only=True)["meta"]["stopped"] == "interrupted"
    assert CheckpointDir(checkpoints, resume=True).saved_at == (2, 5)
    monkeypatch.undo()
    result = run_cli(*train_args(data, output, "--resume", checkpoints, "--force"))
    assert result.exit_code == 0, result.output
    assert_same_run(torch.load(output, weights_only=True), reference, data, tmp_path)


# ---------------------------------------------------------------------------- SIGKILL at random moments

# Loaded by the child Python at start-up (PYTHONPATH): every fsync takes 20 ms longer, so the child
# spends most of its training time inside checkpoint writes, where the test aims some of its kills.
SLOW_FSYNC = """
import os, pathlib, time
pathlib.Path(__file__).with_name("loaded").touch()
_fsync = os.fsync
def _slow_fsync(fd):
    time.sleep(0.02)
    _fsync(fd)
os.fsync = _slow_fsync
"""


def _wait_then(proc: subprocess.Popen, ready: Callable[[], bool], act: Callable[[], None], timeout: float = 120) -> bool:
    """Poll every millisecond until ``ready()``, then ``act()``; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            act()
            return True
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the training process made no progress")
        time.sleep(0.001)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(data, tmp_path, reference, repo_root):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_FSYNC)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks), str(repo_root)]), "SEQTAG_CACHE_DIR": str(tmp_path / "cache")}
    checkpoints, output = tmp_path / "ck", tmp_path / "model.seqtag"
    checkpoint = checkpoints / FILE_NAME
    rng = random.Random(2024)

    def start() -> subprocess.Popen:
        resume = ["--resume", checkpoints, "--force"] if checkpoint.exists() else []
        args = [sys.executable, "-m", "seqtag", *train_args(data, output, "--checkpoint-dir", checkpoints, "--checkpoint-every", "1", *resume)]
        return subprocess.Popen(
            [str(a) for a in args], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def stamp() -> tuple:
        try:
            status = checkpoint.stat()
        except FileNotFoundError:
            return ()
        return status.st_ino, status.st_mtime_ns

    def in_a_write(count: int) -> Callable[[], bool]:
        """True once the child is inside its ``count``-th new checkpoint write (its temporary file exists)."""
        seen = {p.name for p in stale_temporaries(checkpoint)}
        new: set[str] = set()

        def ready() -> bool:
            new.update(p.name for p in stale_temporaries(checkpoint) if p.name not in seen)
            return len(new) >= count

        return ready

    def after_a_save() -> Callable[[], bool]:
        before = stamp()
        return lambda: stamp() != before

    def kill(proc: subprocess.Popen, delay: float = 0.0) -> Callable[[], None]:
        def act() -> None:
            time.sleep(delay)
            proc.kill()
        return act

    left_mid_write = 0
    for moment in ("in-write", "random", "in-write"):  # each child costs seconds of start-up: three kills
        proc = start()
        if moment == "in-write":
            killed = _wait_then(proc, in_a_write(rng.randint(1, 4)), kill(proc))
        else:
            killed = _wait_then(proc, after_a_save(), kill(proc, rng.uniform(0.0, 0.3)))
        out, err = proc.communicate(timeout=120)
        if not killed or proc.returncode == 0:  # finished before the planned moment: nothing left to interrupt
            break
        assert proc.returncode == -signal.SIGKILL, err
        assert (hooks / "loaded").exists(), "the child did not load the slow-fsync hook"
        left_mid_write += bool(stale_temporaries(checkpoint))
        if checkpoint.exists():
            read_checkpoint(checkpoint)  # the last good checkpoint survived the kill, whenever it came
    assert left_mid_write >= 1, "no kill landed inside a checkpoint write"

    proc = start()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "resuming from" in err and "Traceback" not in err
    assert stale_temporaries(checkpoint) == []  # cleared on resume
    assert_same_run(torch.load(output, weights_only=True), reference, data, tmp_path)


# ---------------------------------------------------------------------------- numerical safety


class ToyNet(torch.nn.Module):
    """One weight; ``loss`` turns NaN (or its gradient infinite) from a chosen step on."""

    def __init__(self, bad_step: int, kind: str) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))
        self.bad_step, self.kind, self.steps = bad_step, kind, 0

    def loss(self, batch) -> torch.Tensor:
        self.steps += 1
        value = (self.weight * torch.tensor(batch)).pow(2).sum()
        if self.steps < self.bad_step:
            return value
        if self.kind == "nan":
            return value * float("nan")
        return torch.sqrt(self.weight - self.weight.detach()).sum()  # 0, with an infinite gradient


def _toy_fit(bad_step: int, kind: str, folder: pathlib.Path) -> tuple[ToyNet, CheckpointDir]:
    net = ToyNet(bad_step, kind)
    checkpoints = CheckpointDir(folder)
    checkpoints.start({"toy": 1})
    config = TrainConfig(epochs=5, checkpoint_every=1, patience=5)
    with pytest.raises(TrainingError) as info:
        fit(net, lambda rng: [[1.0, 2.0, 3.0]] * 4, None, config, checkpoints=checkpoints)
    message = str(info.value)
    assert "try a lower --lr" in message and str(folder) in message
    return net, checkpoints


@pytest.mark.parametrize("kind, fragment", [("nan", "loss became nan"), ("inf-gradient", "gradient norm became")])
def test_a_non_finite_loss_or_gradient_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, kind, fragment):
    net, checkpoints = _toy_fit(7, kind, tmp_path / "ck")
    assert checkpoints.saved_at == (2, 2)  # steps 1-6 were fine: epoch 1 (4 steps) and 2 of epoch 2
    state = read_checkpoint(checkpoints.path)["state"]
    assert torch.isfinite(state["weights"]["weight"]).all()
    assert torch.isfinite(net.weight).all()  # no step was taken on the bad batch


def test_diverging_cli_run_is_an_error_keeps_the_checkpoint_and_the_existing_model(data, tmp_path, reference):
    output = tmp_path / "m.seqtag"
    _written(reference, output)
    before = output.read_bytes()
    result = run_cli(*train_args(data, output, "--optimizer", "sgd", "--lr", "1e30", "--clip", "0",
                                 "--checkpoint-dir", tmp_path / "ck", "--checkpoint-every", "1", "--force"))
    assert result.exit_code == 2, result.output
    last = result.stderr.splitlines()[-1]
    assert last.startswith("seqtag: error: the ") and "became" in last and str(tmp_path / "ck") in last
    assert "Traceback" not in result.output
    assert output.read_bytes() == before  # a failed run never clobbers the existing model
    if (tmp_path / "ck" / FILE_NAME).exists():
        state = read_checkpoint(tmp_path / "ck" / FILE_NAME)["state"]
        assert all(torch.isfinite(t).all() for t in state["weights"].values())


# ---------------------------------------------------------------------------- determinism


def test_deterministic_runs_give_bit_identical_weights(data, tmp_path, reference):
    output = tmp_path / "again.seqtag"
    result = run_cli(*train_args(data, output))
    assert result.exit_code == 0, result.output
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    assert_same_run(torch.load(output, weights_only=True), reference, data, tmp_path)


# ---------------------------------------------------------------------------- damaged and hostile checkpoints


@pytest.fixture(scope="module")
def checkpoint_body(data, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("ckbody")
    with torch_state_kept():
        library_run(data, folder / "ck", config=dataclasses.replace(TRAIN, epochs=1))
    return torch.load(folder / "ck" / FILE_NAME, weights_only=True)


class _TouchMarker:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _damaged(body: dict, tmp_path: pathlib.Path, change: Callable[[dict], object]) -> pathlib.Path:
    folder = tmp_path / "ck"
    folder.mkdir(exist_ok=True)
    body = {**body, "state": dict(body["state"])}
    change(body)
    torch.save(body, folder / FILE_NAME)
    return folder


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda b: b.update(version=2), "version 2 is newer"),
        (lambda b: b.update(format="other"), "not a seqtag checkpoint"),
        (lambda b: b.pop("state"), "lacks its fingerprint or state"),
        (lambda b: b["state"].update(weights=[1]), "'weights'"),
        (lambda b: b["state"].update(best_weights={"x": 1}), "'best_weights'"),
        (lambda b: b["state"].update(progress={**b["state"]["progress"], "epoch": "two"}), "damaged checkpoint"),
        (lambda b: b["state"].update(weights={k: v[:1] for k, v in b["state"]["weights"].items()}), "damaged checkpoint"),
        (lambda b: b["state"].update(rng={**b["state"]["rng"], "torch": torch.zeros(3, dtype=torch.uint8)}), "damaged checkpoint"),
        (lambda b: b["state"].update(rng={**b["state"]["rng"], "python": [3, [1, 2], None]}), "damaged checkpoint"),
    ],
)
def test_damaged_checkpoint_is_a_clear_error(data, tmp_path, checkpoint_body, change, fragment):
    folder = _damaged(checkpoint_body, tmp_path, change)
    with pytest.raises(InputError) as info:
        library_run(data, folder, resume=True)
    assert fragment in str(info.value) and str(folder / FILE_NAME) in str(info.value)


def test_truncated_or_garbage_checkpoint_is_a_clear_error(tmp_path, checkpoint_body):
    folder = _damaged(checkpoint_body, tmp_path, lambda b: None)
    data = (folder / FILE_NAME).read_bytes()
    for cut in (0, 100, len(data) // 2, len(data) - 1):
        (folder / FILE_NAME).write_bytes(data[:cut])
        with pytest.raises(InputError, match="truncated / corrupted"):
            CheckpointDir(folder, resume=True)


def test_pickle_payload_in_a_checkpoint_is_refused_and_never_runs(tmp_path, checkpoint_body):
    marker = tmp_path / "PWNED"
    folder = _damaged(checkpoint_body, tmp_path, lambda b: b["state"].update(history=_TouchMarker(marker)))
    with pytest.raises(InputError, match="refusing to load"):
        CheckpointDir(folder, resume=True)
    assert not marker.exists()


def test_a_leftover_temporary_file_is_cleared_and_the_checkpoint_still_loads(data, tmp_path, checkpoint_body):
    folder = _damaged(checkpoint_body, tmp_path, lambda b: None)
    leftover = folder / f".{FILE_NAME}.x1y2z3.tmp"
    leftover.write_bytes(b"half a checkp")
    assert stale_temporaries(folder / FILE_NAME) == [leftover]
    library_run(data, folder, resume=True, config=dataclasses.replace(TRAIN, epochs=2))
    assert not leftover.exists()  # cleared by the first checkpoint written
