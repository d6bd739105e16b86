"""--device and --amp (issue 9): device names, batches and models on a device, mixed precision in the
training loop, CPU <-> GPU model files.

Every test here runs (and can fail) on a CPU-only machine: the CUDA branches of device resolution are
reached by patching ``torch.cuda.is_available`` / ``device_count``; moving is checked against the
``meta`` device (a real second device on every machine); and "files hold CPU tensors" is checked with
:class:`GpuLike`, a CPU tensor that says it lives on ``cuda:0`` until ``.cpu()`` / ``.to("cpu")`` turns
it into a plain tensor. Only the tests marked ``CUDA`` need a GPU; they skip cleanly without one.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from seqtag.archive import load_archive
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.data.batching import Collator
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.errors import InputError
from seqtag.training.devices import resolve_device
from seqtag.vectors.compact import unpack_state
from seqtag.training.loop import Runtime

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")
SMALL = ModelConfig(word_dim=8, char_dim=4, char_hidden=6, hidden=12, dropout=0.0)
TWO = [
    [("Paris", "B-PER"), ("Hilton", "I-PER"), ("visited", "O"), ("Berlin", "B-LOC"), (".", "O")],
    [("He", "O"), ("flew", "O"), ("to", "O"), ("Paris", "B-LOC"), ("today", "O"), (".", "O")],
]
TOKENS = [[w for w, _ in s] for s in TWO]
runner = CliRunner()


@pytest.fixture
def train_two(tmp_path: Path, write_conll):
    """``train_two(model=SMALL, runtime=Runtime(), epochs=60, **options)``: a tagger trained on TWO (no dev)."""
    from seqtag.training.train import train_model

    def train_two(model: ModelConfig = SMALL, runtime: Runtime = Runtime(), epochs: int = 60, **options):
        data = write_conll(tmp_path / "two.txt", TWO)
        config = TrainConfig(epochs=epochs, lr=0.02, batch_size=2, seed=3, threads=1)
        return train_model(data, None, None, DataConfig(), model, config, runtime=runtime, **options)

    return train_two


@pytest.fixture
def cuda_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch reports two CUDA devices (nothing may actually use them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def cuda_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch reports no CUDA (also on a machine that has a GPU)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


class GpuLike(torch.Tensor):
    """A CPU tensor that reports ``cuda:0`` and stays one through arithmetic and ``.half()``, until
    ``.cpu()`` or ``.to("cpu")`` turns it into a plain CPU tensor: GPU weights on a machine without a
    GPU. ``torch.load(weights_only=True)`` refuses a file that still holds one."""

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", 0)

    @property
    def is_cuda(self) -> bool:
        return True

    def cpu(self, *args, **kwargs) -> torch.Tensor:
        return self.as_subclass(torch.Tensor).clone()

    def to(self, *args, **kwargs) -> torch.Tensor:
        out = self.as_subclass(torch.Tensor).to(*args, **kwargs)
        target = kwargs.get("device", next((a for a in args if isinstance(a, (str, torch.device))), None))
        return out.clone() if target is not None and torch.device(target).type == "cpu" else out.as_subclass(GpuLike)


def gpu_like(tensor: torch.Tensor) -> GpuLike:
    return tensor.detach().as_subclass(GpuLike)


def tensors_in(value) -> list[torch.Tensor]:
    """Every tensor in a nest of dicts, lists and tuples."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item)]
    return []


def plain_cpu(tensors: list[torch.Tensor]) -> bool:
    return bool(tensors) and all(type(t) is torch.Tensor and t.device.type == "cpu" for t in tensors)


def test_the_gpu_like_stand_in_looks_like_a_gpu_tensor_until_moved():
    """The checks below rely on this: without a move to the CPU a GpuLike is seen, and it survives .half()."""
    t = gpu_like(torch.arange(4.0))
    assert t.device == torch.device("cuda", 0) and t.is_cuda and not plain_cpu([t])
    assert type(t.half()) is GpuLike and t.half().device.type == "cuda"
    assert type(t.to(torch.float64)) is GpuLike
    for moved in (t.cpu(), t.to("cpu"), t.to(torch.device("cpu")), t.to(device="cpu")):
        assert plain_cpu([moved]) and torch.equal(moved, torch.arange(4.0))
    assert not plain_cpu([])


# ---------------------------------------------------------------------------- device names


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu "])
def test_cpu_resolves(name):
    assert resolve_device(name) == torch.device("cpu")


@pytest.mark.parametrize("name", ["cpu", "auto"])
def test_cpu_and_auto_do_not_need_cuda(cuda_absent, name):
    assert resolve_device(name) == torch.device("cpu")


def test_auto_picks_cuda_when_torch_has_it(cuda_present):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit cpu wins


@pytest.mark.parametrize("name, expected", [("cuda", "cuda"), ("CUDA:1", "cuda:1"), (" cuda:0 ", "cuda:0")])
def test_cuda_names_resolve_when_torch_has_cuda(cuda_present, name, expected):
    assert resolve_device(name) == torch.device(expected)


@pytest.mark.parametrize("name, fragment", [
    ("gpu", "expected auto, cpu, cuda or cuda:N, got 'gpu'"),
    ("mps", "expected auto, cpu, cuda or cuda:N, got 'mps'"),
    ("cuda:x", "expected auto, cpu, cuda or cuda:N, got 'cuda:x'"),
    ("", "expected auto, cpu, cuda or cuda:N, got ''"),
])
def test_bad_device_names_are_input_errors(name, fragment):
    with pytest.raises(InputError, match="--device") as caught:
        resolve_device(name)
    assert fragment in str(caught.value)


def test_a_cuda_index_past_the_last_device_names_the_range(cuda_present):
    with pytest.raises(InputError, match="--device") as caught:
        resolve_device("cuda:2")
    assert "cuda:2: this machine has 2 CUDA device(s), cuda:0 to cuda:1" in str(caught.value)


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:99"])
def test_cuda_without_cuda_says_so(cuda_absent, name):
    with pytest.raises(InputError, match="--device") as caught:
        resolve_device(name)
    assert f"{name}: no CUDA device is available here" in str(caught.value)


def test_the_option_name_goes_into_the_error():
    with pytest.raises(InputError, match="--eval-device"):
        resolve_device("tpu", "--eval-device")


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_every_command_takes_device(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "--device" in result.output


def test_cuda_without_cuda_is_one_error_line_in_every_command(trained, tmp_path, cuda_absent, one_error_line):
    output = tmp_path / "m.seqtag"
    train = ["train", "--train", str(trained.train), "--epochs", "1", "-o", str(output), "--device", "cuda"]
    one_error_line(runner.invoke(app, train), "--device", "cuda: no CUDA device is available here")
    assert not output.exists()
    evaluate = ["evaluate", str(trained.model), str(trained.dev), "--device", "cuda:1"]
    one_error_line(runner.invoke(app, evaluate), "--device", "cuda:1: no CUDA device is available here")
    predict = ["predict", str(trained.model), str(trained.test), "--device", "cuda"]
    one_error_line(runner.invoke(app, predict), "--device", "cuda: no CUDA device is available here")


def test_train_cli_rejects_bad_device_and_cpu_amp(trained, tmp_path, one_error_line):
    args = ["train", "--train", str(trained.train), "--epochs", "1", "-o", str(tmp_path / "m.seqtag")]
    one_error_line(runner.invoke(app, [*args, "--device", "tpu"]), "--device", "got 'tpu'")
    one_error_line(runner.invoke(app, [*args, "--device", "cpu", "--amp", "bf16"]), "--amp", "needs a CUDA device")
    assert not (tmp_path / "m.seqtag").exists()


def test_evaluate_cli_rejects_bad_device(trained, one_error_line):
    one_error_line(runner.invoke(app, ["evaluate", str(trained.model), str(trained.dev), "--device", "cuda:x"]), "--device")


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_predict_workers_stay_on_the_cpu(trained, cuda_present, one_error_line, device):
    """Refused before the model is loaded, so no CUDA call is made (torch only says it has CUDA here)."""
    result = runner.invoke(app, ["predict", str(trained.model), str(trained.test), "--device", device, "--workers", "2"])
    one_error_line(result, "--workers", "--device cpu")


def test_predict_device_cpu_stays_on_the_cpu_when_cuda_is_there(trained, monkeypatch):
    """With CUDA reported, only --device cpu keeps the run off it: that run tags as a CPU-only one."""
    args = ["predict", str(trained.model), str(trained.test), "--input-format", "conll"]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 0 and plain.stdout
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    moves = []
    from seqtag.tasks.base import Model

    real_to = Model.to
    monkeypatch.setattr(Model, "to", lambda self, device: moves.append(torch.device(device)) or real_to(self, device))
    on_cpu = runner.invoke(app, [*args, "--device", "cpu"])
    assert on_cpu.exit_code == 0, on_cpu.output
    assert on_cpu.stdout == plain.stdout
    assert moves and all(device.type == "cpu" for device in moves)


# ---------------------------------------------------------------------------- batches and models on a device


def test_batch_to_moves_every_tensor_and_keeps_the_rest():
    collate = Collator(WordVocab(["<pad>", "<unk>", "a", "b"]), Vocab(["<pad>", "<unk>", "a", "b"]), Vocab(["O", "X"]))
    batch = collate([["a", "b"], ["b"]], [["O", "X"], ["X"]])
    batch.weight, batch.examples = 0.25, 7
    moved = batch.to(torch.device("meta"))
    assert (moved.weight, moved.examples) == (0.25, 7)
    names = [f.name for f in dataclasses.fields(batch) if isinstance(getattr(batch, f.name), torch.Tensor)]
    assert set(names) >= {"words", "mask", "lengths", "chars", "char_lengths", "types", "tags"}
    for name in names:
        before, after = getattr(batch, name), getattr(moved, name)
        assert after.device.type == "meta", name
        assert (after.shape, after.dtype) == (before.shape, before.dtype), name
        assert before.device.type == "cpu", name  # the original batch stays where it was
    assert moved.labels is None


def test_a_collator_builds_batches_on_its_device():
    collate = Collator(WordVocab(["<pad>", "<unk>", "a"]), Vocab(["<pad>", "<unk>", "a"]), Vocab(["O"]), torch.device("meta"))
    batch = collate([["a", "zzz"]], [["O", "O"]])
    assert all(t.device.type == "meta" for t in tensors_in(dataclasses.asdict(batch)))


def test_model_to_moves_the_weights_and_the_batches_and_back(train_two):
    """Model.to: onto the meta device (every parameter and buffer, and the batches the model makes) and
    back onto the CPU (weights restored, as meta tensors hold no values), tagging as before."""
    tagger, _ = train_two(epochs=3)
    before = tagger.predict(TOKENS)
    weights = {k: v.clone() for k, v in tagger.net.state_dict().items()}
    assert tagger.to("meta") is tagger
    assert tagger.device == torch.device("meta")
    tensors = [*tagger.net.parameters(), *tagger.net.buffers()]
    assert tensors and all(t.device.type == "meta" for t in tensors)
    batch = tagger.collate(TOKENS, [[t for _, t in s] for s in TWO])
    assert all(t.device.type == "meta" for t in tensors_in(dataclasses.asdict(batch)))

    tagger.net.to_empty(device="cpu")
    tagger.net.load_state_dict(weights)
    assert tagger.to(torch.device("cpu")) is tagger
    assert tagger.device == torch.device("cpu")
    assert all(t.device.type == "cpu" for t in [*tagger.net.parameters(), *tagger.net.buffers()])
    assert tagger.predict(TOKENS) == before


def test_model_to_keeps_a_converted_dtype(train_two):
    """Moving changes where the weights are, never their precision."""
    tagger, _ = train_two(epochs=3)
    tagger.net.double()
    tagger.to("meta")
    assert {p.dtype for p in tagger.net.parameters()} == {torch.float64}
    tagger.net.to_empty(device="cpu")
    tagger.to("cpu")
    assert {p.dtype for p in tagger.net.parameters()} == {torch.float64}
    assert all(p.device.type == "cpu" for p in tagger.net.parameters())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_training_loop_learns(train_two, amp):
    """The autocast + loss-scaling path of fit(). On CPU only the window encoder has low-precision kernels
    (oneDNN has no bf16 / fp16 LSTM here), so it stands in for the GPU case."""
    model = ModelConfig(**{**SMALL.__dict__, "encoder": "window", "char_encoder": "none"})
    tagger, history = train_two(model, Runtime(amp=amp), epochs=60)
    losses = [e.loss for e in history.epochs]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.2 * losses[0]
    assert tagger.predict(TOKENS) == [[t for _, t in s] for s in TWO]


# ---------------------------------------------------------------------------- files hold CPU tensors


def test_a_model_file_holds_plain_cpu_tensors_whatever_device_the_weights_are_on(train_two, tmp_path, monkeypatch):
    from seqtag import load_model
    from seqtag.tasks import base

    tagger, _ = train_two(epochs=3)
    before = tagger.predict(TOKENS)
    real_state_dict = tagger.net.state_dict
    monkeypatch.setattr(tagger.net, "state_dict", lambda *a, **k: {n: gpu_like(t) for n, t in real_state_dict(*a, **k).items()})
    assert not plain_cpu(list(tagger.net.state_dict().values()))  # the weights "are on the GPU"
    saved = []
    real_save = base.save_archive
    monkeypatch.setattr(base, "save_archive", lambda path, body: saved.append(body) or real_save(path, body))
    tagger.save(tmp_path / "m.seqtag")

    [body] = saved
    assert unpack_state(body["state_dict"]).keys() == real_state_dict().keys()
    assert plain_cpu(list(body["state_dict"].values()))
    assert plain_cpu(tensors_in(body))  # nothing else in the body is a tensor on a device either
    on_disk = load_archive(tmp_path / "m.seqtag")  # weights_only: it would refuse a GpuLike
    assert plain_cpu(list(on_disk["state_dict"].values()))
    for name, tensor in real_state_dict().items():
        assert torch.equal(unpack_state(on_disk["state_dict"])[name], tensor), name
    assert load_model(tmp_path / "m.seqtag").predict(TOKENS) == before


def test_a_checkpoint_holds_plain_cpu_tensors_whatever_device_the_state_is_on(tmp_path):
    from seqtag.training.checkpoint import CheckpointDir, read_checkpoint

    weights = {"encoder.weight": torch.randn(3, 2), "head.bias": torch.zeros(3)}
    moments = {"exp_avg": torch.randn(3, 2), "exp_avg_sq": torch.rand(3, 2), "step": torch.tensor(4.0)}
    state = {
        "weights": {k: gpu_like(v) for k, v in weights.items()},
        "best_weights": {k: gpu_like(v + 1) for k, v in weights.items()},
        "optimizer": {"state": {0: {k: gpu_like(v) for k, v in moments.items()}},
                      "param_groups": [{"lr": 0.01, "params": [0]}]},
        "progress": {"epoch": 1, "step": 4, "done": False},
        "history": {"epochs": [], "best_epoch": 0},
        "rng": {"torch": gpu_like(torch.get_rng_state()), "python": [3, [1, 2], None]},
    }
    assert not plain_cpu(tensors_in(state))
    checkpoints = CheckpointDir(tmp_path / "ck")
    checkpoints.start({"task": "tag"})
    checkpoints.save(state)

    saved = read_checkpoint(tmp_path / "ck" / "checkpoint.pt")["state"]  # weights_only: refuses a GpuLike
    assert len(tensors_in(saved)) == len(tensors_in(state)) == 8
    assert plain_cpu(tensors_in(saved))
    for name, tensor in weights.items():
        assert torch.equal(saved["weights"][name], tensor) and torch.equal(saved["best_weights"][name], tensor + 1)
    for name, tensor in moments.items():
        assert torch.equal(saved["optimizer"]["state"][0][name], tensor)
    assert torch.equal(saved["rng"]["torch"], state["rng"]["torch"].cpu())
    assert saved["progress"] == state["progress"] and saved["rng"]["python"] == [3, [1, 2], None]
    assert all(type(t) is GpuLike for t in tensors_in(state))  # the live training state is left alone


def test_a_cpu_run_checkpoints_cpu_tensors_and_resumes(train_two, tmp_path):
    from seqtag.training.checkpoint import read_checkpoint

    train_two(epochs=2, checkpoint_dir=tmp_path / "ck")
    state = read_checkpoint(tmp_path / "ck" / "checkpoint.pt")["state"]
    tensors = [*state["weights"].values(), *tensors_in(state["optimizer"])]
    assert plain_cpu(tensors)
    _, history = train_two(epochs=3, checkpoint_dir=tmp_path / "ck", resume=True)
    assert len(history.epochs) == 3


# ---------------------------------------------------------------------------- CUDA (skipped without a GPU)


@CUDA
def test_trained_on_gpu_tags_on_cpu_identically(train_two, tmp_path):
    from seqtag import load_model

    tagger, _ = train_two(runtime=Runtime(device=torch.device("cuda")))
    assert next(tagger.net.parameters()).is_cuda
    on_gpu = tagger.predict(TOKENS)
    tagger.save(tmp_path / "gpu.seqtag")
    assert plain_cpu(list(load_archive(tmp_path / "gpu.seqtag")["state_dict"].values()))
    on_cpu = load_model(tmp_path / "gpu.seqtag")
    assert not next(on_cpu.net.parameters()).is_cuda
    assert on_cpu.predict(TOKENS) == on_gpu


@CUDA
def test_trained_on_cpu_tags_on_gpu_identically(train_two, tmp_path):
    from seqtag import load_model

    tagger, _ = train_two()
    tagger.save(tmp_path / "cpu.seqtag")
    on_gpu = load_model(tmp_path / "cpu.seqtag").to("cuda")
    assert next(on_gpu.net.parameters()).is_cuda and on_gpu.device.type == "cuda"
    assert on_gpu.predict(TOKENS) == tagger.predict(TOKENS)


@CUDA
def test_an_ensemble_tags_on_gpu_as_on_cpu(train_two):
    from seqtag.tasks.tagging import Tagger

    ensemble = Tagger.ensemble([train_two()[0], train_two(epochs=30)[0]])  # same vocabularies, other weights
    expected = ensemble.predict(TOKENS)
    on_gpu = ensemble.to("cuda")
    members = on_gpu.net.members
    assert all(next(m.parameters()).is_cuda for m in members) and on_gpu.net.crf.transitions.is_cuda
    assert members[1].encoder.extra_words is members[0].encoder.extra_words  # still one copy of the frozen rows
    assert on_gpu.predict(TOKENS) == expected


@CUDA
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_gpu_learns(train_two, amp):
    tagger, history = train_two(runtime=Runtime(device=torch.device("cuda"), amp=amp))
    assert history.epochs[-1].loss < 0.2 * history.epochs[0].loss
    assert tagger.predict(TOKENS) == [[t for _, t in s] for s in TWO]


@CUDA
def test_cli_trains_and_evaluates_on_gpu(trained, tmp_path):
    model = tmp_path / "gpu.seqtag"
    result = runner.invoke(app, ["train", "--train", str(trained.train), "--dev", str(trained.dev), "--epochs", "1",
                                 "--hidden", "16", "--device", "cuda", "--amp", "bf16", "-o", str(model)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(model), str(trained.dev), "--device", "cpu", "--format", "json"])
    assert result.exit_code == 0, result.output


@CUDA
def test_a_gpu_run_checkpoints_cpu_tensors_and_resumes_on_the_cpu(train_two, tmp_path):
    from seqtag.training.checkpoint import read_checkpoint

    train_two(epochs=2, runtime=Runtime(device=torch.device("cuda")), checkpoint_dir=tmp_path / "ck")
    state = read_checkpoint(tmp_path / "ck" / "checkpoint.pt")["state"]
    tensors = [*state["weights"].values(), *tensors_in(state["optimizer"])]
    assert plain_cpu(tensors)
    _, history = train_two(epochs=3, checkpoint_dir=tmp_path / "ck", resume=True)
    assert len(history.epochs) == 3
