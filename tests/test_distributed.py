"""Data-parallel training (issue 9): global batches sharded over ranks with loss weights that make the
averaged gradient the single-process one, and real 2-process runs under torchrun (gloo on CPU)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from seqtag.data.batching import Collator
from seqtag.config import ModelConfig
from seqtag.training.distributed import SINGLE, Cluster, predict_shared, shard
from seqtag.models.tagger import TaggerNet
from seqtag.data.vocab import Vocab, WordVocab

# dropout 0: the ranks draw their own dropout masks, so only without dropout can a 2-process run be
# compared with a single-process one number for number.
TRAIN = ["--epochs", "3", "--hidden", "16", "--lr", "0.01", "--batch-size", "16", "--seed", "1", "--dropout", "0"]


# ---------------------------------------------------------------------------- sharding


@pytest.mark.parametrize("size, world", [(10, 2), (7, 2), (7, 3), (1, 2), (2, 3), (32, 4)])
def test_shards_are_contiguous_cover_the_batch_and_weights_average_to_one(size, world):
    batch = list(range(size))
    parts = [shard(batch, Cluster(rank, world)) for rank in range(world)]
    real = [items for items, weight in parts if weight > 0]
    assert [i for items in real for i in items] == batch  # in order, each example once
    assert all(items for items, _ in parts)  # every rank has something to run forward / backward on
    assert sum(weight for _, weight in parts) == pytest.approx(world)  # DDP divides by world
    for items, weight in parts:
        assert weight == pytest.approx(world * len(items) / size) or (weight == 0 and items == [0])


def test_single_process_gets_the_whole_batch():
    assert shard([3, 1, 2], SINGLE) == ([3, 1, 2], 1.0)


@pytest.mark.parametrize("head", ["crf", "softmax"])
@pytest.mark.parametrize("world", [2, 3])
def test_weighted_shard_losses_average_to_the_whole_batch_loss(head, world):
    """The oracle for DDP's gradient: mean over ranks of weight * loss(slice) == loss(whole batch). The CRF
    loss is a mean per sentence, the softmax loss a mean per token (shard gets the token counts)."""
    words = ["<pad>", "<unk>", *"abcdefg"]
    collate = Collator(WordVocab(words), Vocab(["<pad>", "<unk>", *"abcdefg"]), Vocab(["O", "B-X", "I-X"]))
    torch.manual_seed(0)
    net = TaggerNet(ModelConfig(word_dim=6, char_dim=3, char_hidden=4, hidden=5, dropout=0.0, head=head), len(words), 9, 3).eval()
    sentences = [list("abc"), list("d"), list("efgab"), list("ga"), list("bbbbbbb")]
    tags = [["O", "B-X", "I-X"], ["B-X"], ["O"] * 5, ["B-X", "O"], ["O"] * 7]
    whole = net.loss(collate(sentences, tags))
    sizes = [len(s) for s in sentences] if head == "softmax" else None
    total = torch.tensor(0.0)
    for rank in range(world):
        mine, weight = shard(list(range(len(sentences))), Cluster(rank, world), sizes)
        total += weight * net.loss(collate([sentences[i] for i in mine], [tags[i] for i in mine]))
    assert (total / world).item() == pytest.approx(whole.item(), rel=1e-5)


def test_predict_shared_on_one_process_is_predict():
    assert predict_shared(lambda items: [x * 2 for x in items], [1, 2, 3], SINGLE) == [2, 4, 6]


# ---------------------------------------------------------------------------- torchrun, 2 CPU processes


@pytest.fixture(scope="module")
def data(tmp_path_factory, sample_slice) -> Path:
    folder = tmp_path_factory.mktemp("ddp")
    sample_slice("train", 200, folder / "train.txt")
    sample_slice("dev", 60, folder / "dev.txt")
    return folder


def history(model: Path) -> list[dict]:
    from seqtag import load_model

    return load_model(model).meta["history"]


@pytest.fixture(scope="module")
def single(data: Path, tmp_path_factory) -> Path:
    """The single-process reference run, same global batch size."""
    from seqtag.cli import app

    model = tmp_path_factory.mktemp("single") / "single.seqtag"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(model.parent / "cache"))
        result = CliRunner().invoke(app, ["train", "--train", str(data / "train.txt"), "--dev", str(data / "dev.txt"),
                                          "--threads", "1", "-o", str(model), *TRAIN])
    assert result.exit_code == 0, result.output
    return model


@pytest.fixture(scope="module")
def run(repo_root):
    def run(args: list, cwd: Path) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(repo_root), "SEQTAG_CACHE_DIR": str(cwd / "cache"), "OMP_NUM_THREADS": "1"}
        return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

    return run


def torchrun(*args) -> list:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "seqtag", *args]


def assert_same_run(model: Path, reference: Path, epochs: int = 3) -> None:
    """Same losses and dev scores as the single-process run, up to float summation order."""
    got, expected = history(model), history(reference)
    assert len(got) == len(expected) == epochs
    for mine, theirs in zip(got, expected):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-3, abs=1e-4)
        assert mine["dev"]["score"] == pytest.approx(theirs["dev"]["score"], abs=0.01)
        assert mine["sentences"] == theirs["sentences"]  # every rank counts the global batch


def test_nproc_2_trains_like_one_process_and_writes_one_model(data, single, tmp_path, run):
    out = tmp_path / "out"
    out.mkdir()
    result = run([sys.executable, "-m", "seqtag", "train", "--train", data / "train.txt", "--dev", data / "dev.txt",
                  "--nproc", "2", "-o", out / "model.seqtag", *TRAIN], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.seqtag"]
    assert result.stdout == ""
    assert result.stderr.count("saved ") == 1 and "× 2 processes" in result.stderr  # rank 0 alone logs
    assert result.stderr.count("train: 200 sentences") == 1
    assert_same_run(out / "model.seqtag", single)


def test_torchrun_checkpoint_and_resume(data, single, tmp_path, run):
    """Rank 0 alone writes the checkpoint; all ranks resume from it; the result is the 3-epoch run's."""
    common = ["train", "--train", data / "train.txt", "--dev", data / "dev.txt", "-o", tmp_path / "model.seqtag", *TRAIN]
    first = run(torchrun(*common, "--checkpoint-dir", tmp_path / "ck", "--epochs", "2"), tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["checkpoint.pt"]
    resumed = run(torchrun(*common, "--resume", tmp_path / "ck", "--epochs", "3", "--force"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("resuming from") == 1
    assert_same_run(tmp_path / "model.seqtag", single)


def test_nproc_inside_torchrun_is_an_input_error(data, tmp_path, monkeypatch, one_error_line):
    from seqtag.cli import app

    monkeypatch.setenv("WORLD_SIZE", "2")  # what torchrun sets for its workers
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(app, ["train", "--train", str(data / "train.txt"), "--nproc", "2", "-o", str(tmp_path / "m.seqtag")])
    one_error_line(result, "--nproc", "already running under torchrun")
    assert not (tmp_path / "m.seqtag").exists()


def test_nproc_outside_the_command_line_is_an_input_error(data, tmp_path, one_error_line):
    from seqtag.cli import app

    result = CliRunner().invoke(app, ["train", "--train", str(data / "train.txt"), "--nproc", "2", "-o", str(tmp_path / "m.seqtag")])
    one_error_line(result, "--nproc", "torchrun")


def test_json_history_is_plain(single):
    json.dumps(history(single))  # the model file's history stays JSON (nothing rank-specific leaks in)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_stops_every_rank_and_rank_0_saves_the_best_model(data, tmp_path, repo_root):
    """Ctrl-C reaches the whole process group (launcher and both ranks): the ranks stop at the same step,
    rank 0 writes the checkpoint and the model, and the command exits 130 without a traceback."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(repo_root), "SEQTAG_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "seqtag", "train", "--train", data / "train.txt", "--dev", data / "dev.txt",
            "--nproc", "2", "-o", tmp_path / "model.seqtag", "--checkpoint-dir", tmp_path / "ck",
            "--hidden", "8", "--epochs", "100000", "--patience", "100000"]
    proc = subprocess.Popen([str(a) for a in args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (tmp_path / "ck" / "checkpoint.pt").exists():  # an epoch has ended: both ranks are training
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "stopped by interrupted" in err and err.count("saved ") == 1
    assert "Traceback" not in err and out == ""
    assert (tmp_path / "model.seqtag").exists()


def test_classifier_nproc_2_trains_like_one_process(tmp_path, repo_root, run):
    from seqtag.cli import app

    cls = repo_root / "sample_data" / "cls"
    args = ["train", "--train", cls / "train.tsv", "--dev", cls / "dev.tsv", "--epochs", "2", "--hidden", "16",
            "--dropout", "0", "--seed", "1"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQTAG_CACHE_DIR", str(tmp_path / "cache"))
        single = CliRunner().invoke(app, [str(a) for a in [*args, "--threads", "1", "-o", tmp_path / "one.seqtag"]])
    assert single.exit_code == 0, single.output
    result = run([sys.executable, "-m", "seqtag", *args, "--nproc", "2", "-o", tmp_path / "two.seqtag"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert_same_run(tmp_path / "two.seqtag", tmp_path / "one.seqtag", epochs=2)
