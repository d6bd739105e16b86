"""`seqtag train` without silent surprises: an existing model is replaced only with --force, a run without
--dev says what it keeps, Ctrl-C saves and exits 130, and a model that cannot be written is kept elsewhere."""
from __future__ import annotations

import errno
import importlib
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtag.cli import app

runner = CliRunner()
TINY = ("--epochs", "1", "--hidden", "8", "--char-encoder", "none", "--word-dim", "8")
NO_DEV = "no --dev data: the last epoch is kept (no model selection, no early stopping)"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output


@pytest.fixture
def data(tmp_path, sample_slice) -> Path:
    return sample_slice("train", 20, tmp_path / "train.txt")


@pytest.fixture
def dev(tmp_path, sample_slice) -> Path:
    return sample_slice("dev", 10, tmp_path / "dev.txt")


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqtag: error: "), result.stderr
    return lines[0]


# ---------------------------------------------------------------------------- --output and --force


def test_an_existing_model_is_not_replaced_without_force(tmp_path, data):
    out = tmp_path / "m.seqtag"
    out.write_bytes(b"an earlier model")
    result = run("train", "--train", data, "-o", out, *TINY)
    assert error_line(result) == f"seqtag: error: {out}: exists; give --force to replace it"
    assert out.read_bytes() == b"an earlier model"  # refused before training: no progress lines either

    ok(run("train", "--train", data, "-o", out, *TINY, "--force"))
    from seqtag import load_model

    assert load_model(out).model_config.hidden == 8


def test_the_default_output_is_protected_too(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("model.seqtag").write_bytes(b"keep me")
    result = run("train", "--train", data, *TINY)
    assert error_line(result) == "seqtag: error: model.seqtag: exists; give --force to replace it"
    assert Path("model.seqtag").read_bytes() == b"keep me"


def test_option_errors_come_before_the_output_check(tmp_path, data):
    out = tmp_path / "m.seqtag"
    out.write_bytes(b"x")
    assert "--hidden" in error_line(run("train", "--train", data, "-o", out, "--hidden", "0"))
    assert "--seeds: must be 1 or more, got 0" in error_line(run("train", "--train", data, "-o", out, "--seeds", "0"))


# ---------------------------------------------------------------------------- no dev data


def test_without_dev_the_last_epoch_is_kept_and_the_run_says_so_once(tmp_path, data, dev):
    result = run("train", "--train", data, "-o", tmp_path / "a.seqtag", *TINY, "--epochs", "2", "--seeds", "2")
    ok(result)
    assert result.stderr.count(NO_DEV) == 1
    assert result.stderr.index(NO_DEV) < result.stderr.index("epoch")  # said before training starts
    from seqtag import load_model

    assert load_model(tmp_path / "a.seqtag").meta["best_epoch"] == 2

    with_dev = run("train", "--train", data, "--dev", dev, "-o", tmp_path / "b.seqtag", *TINY)
    ok(with_dev)
    assert "no --dev" not in with_dev.stderr


# ---------------------------------------------------------------------------- Ctrl-C


@pytest.fixture
def ctrl_c_at_step(monkeypatch):
    """Sends this process a real SIGINT after the given training step of `seqtag train`."""

    def arm(step: int) -> None:
        progress = importlib.import_module("seqtag.cli.train").ProgressCallbacks
        original, done = progress.on_step, []

        def on_step(self, loss: float) -> None:
            original(self, loss)
            done.append(loss)
            if len(done) == step:
                signal.raise_signal(signal.SIGINT)

        monkeypatch.setattr(progress, "on_step", on_step)

    return arm


def test_ctrl_c_saves_the_model_says_where_and_exits_130(tmp_path, data, dev, ctrl_c_at_step):
    ctrl_c_at_step(7)  # 20 sentences in batches of 4: the second step of epoch 2
    out, checkpoints = tmp_path / "m.seqtag", tmp_path / "ck"
    result = run("train", "--train", data, "--dev", dev, "-o", out, *TINY, "--epochs", "5", "--batch-size", "4",
                 "--checkpoint-dir", checkpoints)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert "stopped by interrupted" in result.stderr and "best epoch 1" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last == f"interrupted: the model trained so far is in {out}; continue the run with --resume {checkpoints} --force"
    from seqtag import load_model

    assert load_model(out).meta["stopped"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    resumed = run("train", "--train", data, "--dev", dev, "-o", out, *TINY, "--epochs", "2", "--batch-size", "4",
                  "--resume", checkpoints, "--force")
    ok(resumed)
    assert len(load_model(out).meta["history"]) == 2


def test_ctrl_c_without_checkpoints(tmp_path, data, ctrl_c_at_step):
    ctrl_c_at_step(2)
    out = tmp_path / "m.seqtag"
    result = run("train", "--train", data, "-o", out, *TINY, "--epochs", "3", "--batch-size", "4")
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1] == f"interrupted: the model trained so far is in {out}"
    assert out.exists()


# ---------------------------------------------------------------------------- a model that cannot be written


@pytest.fixture
def failing_save(monkeypatch):
    """Makes the archive writer fail: for the first ``times`` calls, or for every path under ``folder``."""
    import seqtag.tasks.base as base

    original, calls = base.save_archive, []

    def arm(error: BaseException, times: int | None = 1, folder: Path | None = None) -> list[Path]:
        def save_archive(path, payload):
            calls.append(Path(path))
            if (times is not None and len(calls) <= times) or (folder is not None and Path(path).parent == folder):
                raise error
            return original(path, payload)

        monkeypatch.setattr(base, "save_archive", save_archive)
        return calls

    return arm


def loads(path: Path) -> None:
    from seqtag import load_model

    tagger = load_model(path)
    assert len(tagger.predict([["John", "lives", "in", "Berlin", "."]])[0]) == 5


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("torch.save broke")],
                         ids=["disk-full", "other"])
def test_a_failed_save_keeps_the_weights_beside_the_output(tmp_path, data, failing_save, error):
    calls = failing_save(error)
    out = tmp_path / "m.seqtag"
    result = run("train", "--train", data, "-o", out, *TINY)
    line = error_line_after_training(result)
    [kept] = tmp_path.glob("m.partial-*.seqtag")
    reason = "No space left on device" if isinstance(error, OSError) else "RuntimeError: torch.save broke"
    assert line == f"seqtag: error: {out}: cannot write the model file: {reason}; the trained model is saved in {kept} instead"
    assert calls == [out, kept] and not out.exists()
    loads(kept)


def test_a_folder_that_refuses_the_model_sends_it_to_the_temp_dir(tmp_path, data, failing_save, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    failing_save(PermissionError(errno.EACCES, "Permission denied"), times=None, folder=out_dir)
    out, checkpoints = out_dir / "m.seqtag", tmp_path / "ck"
    line = error_line_after_training(run("train", "--train", data, "-o", out, *TINY, "--checkpoint-dir", checkpoints))
    [kept] = scratch.glob("m.partial-*.seqtag")
    assert line == (
        f"seqtag: error: {out}: cannot write the model file: Permission denied; the trained model is saved in {kept} "
        f"instead; the checkpoint in {checkpoints} keeps the training state (--resume {checkpoints})"
    )
    assert list(out_dir.iterdir()) == []
    loads(kept)


def test_when_nothing_can_be_saved_the_error_says_so_and_names_the_checkpoint(tmp_path, data, failing_save):
    failing_save(OSError(errno.EIO, "Input/output error"), times=99)
    out, checkpoints = tmp_path / "m.seqtag", tmp_path / "ck"
    line = error_line_after_training(run("train", "--train", data, "-o", out, *TINY, "--checkpoint-dir", checkpoints))
    assert "cannot write the model file: Input/output error; saving it elsewhere failed too" in line
    assert line.endswith(f"the checkpoint in {checkpoints} keeps the training state (--resume {checkpoints})")
    assert (checkpoints / "checkpoint.pt").exists()


def error_line_after_training(result) -> str:
    """Exit 2, nothing on stdout, progress on stderr, then one last `seqtag: error:` line."""
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("seqtag: error: ") and not any(l.startswith("seqtag: error") for l in lines[:-1])
    assert not any(l.startswith("saved ") for l in lines)
    return lines[-1]
