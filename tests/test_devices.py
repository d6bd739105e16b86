"""--device and --amp (issue 9): device names, batches and models on a device, mixed precision in the
training loop, CPU <-> GPU model files. CUDA tests skip cleanly on machines without a GPU."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from seqtag.data.batching import Collator
from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig, TrainConfig
from seqtag.training.devices import resolve_device
from seqtag.errors import InputError
from seqtag.training.loop import Runtime
from seqtag.data.vocab import Vocab, WordVocab

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")
SMALL = ModelConfig(word_dim=8, char_dim=4, char_hidden=6, hidden=12, dropout=0.0)
TWO = [
    [("Paris", "B-PER"), ("Hilton", "I-PER"), ("visited", "O"), ("Berlin", "B-LOC"), (".", "O")],
    [("He", "O"), ("flew", "O"), ("to", "O"), ("Paris", "B-LOC"), ("today", "O"), (".", "O")],
]
runner = CliRunner()


@pytest.fixture(scope="module")
def train_two(write_conll):
    def train_two(tmp_path: Path, model: ModelConfig = SMALL, runtime: Runtime = Runtime(), epochs: int = 60):
        from seqtag.tasks.tagging import train_tagger

        data = write_conll(tmp_path / "two.txt", TWO)
        config = TrainConfig(epochs=epochs, lr=0.02, batch_size=2, seed=3, threads=1)
        return train_tagger(data, None, None, DataConfig(), model, config, runtime=runtime)

    return train_two


# ---------------------------------------------------------------------------- device names


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu "])
def test_cpu_resolves(name):
    assert resolve_device(name) == torch.device("cpu")


def test_auto_is_cuda_exactly_when_available():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name, fragment", [
    ("gpu", "expected auto, cpu, cuda or cuda:N, got 'gpu'"),
    ("mps", "expected auto, cpu, cuda or cuda:N, got 'mps'"),
    ("cuda:99", "cuda:99"),
])
def test_bad_device_names_are_input_errors(name, fragment):
    with pytest.raises(InputError, match="--device") as caught:
        resolve_device(name)
    assert fragment in str(caught.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(InputError, match=r"no CUDA device is available here"):
        resolve_device("cuda")


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_every_command_takes_device(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "--device" in result.output


def test_train_cli_rejects_bad_device_and_cpu_amp(trained, tmp_path, one_error_line):
    args = ["train", "--train", str(trained.train), "--epochs", "1", "-o", str(tmp_path / "m.seqtag")]
    one_error_line(runner.invoke(app, [*args, "--device", "tpu"]), "--device", "got 'tpu'")
    one_error_line(runner.invoke(app, [*args, "--device", "cpu", "--amp", "bf16"]), "--amp", "needs a CUDA device")
    assert not (tmp_path / "m.seqtag").exists()


def test_evaluate_cli_rejects_bad_device(trained, one_error_line):
    one_error_line(runner.invoke(app, ["evaluate", str(trained.model), str(trained.dev), "--device", "cuda:x"]), "--device")


# ---------------------------------------------------------------------------- batches and models on a device


def test_batch_to_moves_every_tensor_and_keeps_the_weight():
    collate = Collator(WordVocab(["<pad>", "<unk>", "a", "b"]), Vocab(["<pad>", "<unk>", "a", "b"]), Vocab(["O", "X"]))
    batch = collate([["a", "b"], ["b"]], [["O", "X"], ["X"]])
    batch.weight = 0.25
    moved = batch.to(torch.device("cpu"))
    assert moved.weight == 0.25
    for name in ("words", "mask", "lengths", "chars", "char_lengths", "types", "tags"):
        assert torch.equal(getattr(moved, name), getattr(batch, name))


def test_model_to_cpu_keeps_predictions(tmp_path, train_two):
    tagger, _ = train_two(tmp_path, epochs=5)
    tokens = [[w for w, _ in s] for s in TWO]
    before = tagger.predict(tokens)
    assert tagger.to("cpu") is tagger and tagger.device == torch.device("cpu")
    assert tagger.predict(tokens) == before


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_training_loop_learns(tmp_path, amp, train_two):
    """The autocast + loss-scaling path of fit(). On CPU only the window encoder has low-precision kernels
    (oneDNN has no bf16 / fp16 LSTM here), so it stands in for the GPU case."""
    model = ModelConfig(**{**SMALL.__dict__, "encoder": "window", "char_encoder": "none"})
    tagger, history = train_two(tmp_path, model, Runtime(amp=amp), epochs=60)
    losses = [e.loss for e in history.epochs]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.2 * losses[0]
    assert tagger.predict([[w for w, _ in s] for s in TWO]) == [[t for _, t in s] for s in TWO]


# ---------------------------------------------------------------------------- CUDA (skipped without a GPU)


@CUDA
def test_trained_on_gpu_tags_on_cpu_identically(tmp_path, train_two):
    from seqtag import load_model

    tagger, _ = train_two(tmp_path, runtime=Runtime(device=torch.device("cuda")))
    assert next(tagger.net.parameters()).is_cuda
    tokens = [[w for w, _ in s] for s in TWO]
    on_gpu = tagger.predict(tokens)
    tagger.save(tmp_path / "gpu.seqtag")
    on_cpu = load_model(tmp_path / "gpu.seqtag")
    assert not next(on_cpu.net.parameters()).is_cuda
    assert on_cpu.predict(tokens) == on_gpu


@CUDA
def test_trained_on_cpu_tags_on_gpu_identically(tmp_path, train_two):
    from seqtag import load_model

    tagger, _ = train_two(tmp_path)
    tagger.save(tmp_path / "cpu.seqtag")
    tokens = [[w for w, _ in s] for s in TWO]
    assert load_model(tmp_path / "cpu.seqtag").to("cuda").predict(tokens) == tagger.predict(tokens)


@CUDA
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_gpu_learns(tmp_path, amp, train_two):
    tagger, history = train_two(tmp_path, runtime=Runtime(device=torch.device("cuda"), amp=amp))
    assert history.epochs[-1].loss < 0.2 * history.epochs[0].loss
    assert tagger.predict([[w for w, _ in s] for s in TWO]) == [[t for _, t in s] for s in TWO]


@CUDA
def test_cli_trains_and_evaluates_on_gpu(trained, tmp_path):
    model = tmp_path / "gpu.seqtag"
    result = runner.invoke(app, ["train", "--train", str(trained.train), "--dev", str(trained.dev), "--epochs", "1",
                                 "--hidden", "16", "--device", "cuda", "--amp", "bf16", "-o", str(model)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(model), str(trained.dev), "--device", "cpu", "--format", "json"])
    assert result.exit_code == 0, result.output


def test_predict_on_cpu_device_tags_as_before(trained):
    plain = runner.invoke(app, ["predict", str(trained.model), str(trained.test), "--input-format", "conll"])
    on_cpu = runner.invoke(app, ["predict", str(trained.model), str(trained.test), "--input-format", "conll", "--device", "cpu"])
    assert plain.exit_code == on_cpu.exit_code == 0 and plain.stdout == on_cpu.stdout


@CUDA
def test_predict_workers_stay_on_the_cpu(trained, one_error_line):
    result = runner.invoke(app, ["predict", str(trained.model), str(trained.test), "--device", "cuda", "--workers", "2"])
    one_error_line(result, "--workers", "--device cpu")


@CUDA
def test_a_gpu_run_checkpoints_cpu_tensors_and_resumes_on_the_cpu(tmp_path, write_conll):
    from seqtag.training.checkpoint import read_checkpoint
    from seqtag.tasks.tagging import train_tagger

    data = write_conll(tmp_path / "two.txt", TWO)
    config = TrainConfig(epochs=2, lr=0.02, batch_size=2, seed=3, threads=1)
    train_tagger(data, None, None, DataConfig(), SMALL, config, checkpoint_dir=tmp_path / "ck",
                 runtime=Runtime(device=torch.device("cuda")))
    state = read_checkpoint(tmp_path / "ck" / "checkpoint.pt")["state"]
    tensors = [*state["weights"].values(), *[v for s in state["optimizer"]["state"].values() for v in s.values()
                                            if isinstance(v, torch.Tensor)]]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    resumed, history = train_tagger(data, None, None, DataConfig(), SMALL, TrainConfig(**{**config.__dict__, "epochs": 3}),
                                    checkpoint_dir=tmp_path / "ck", resume=True)
    assert len(history.epochs) == 3
