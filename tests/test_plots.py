"""`seqtag plot history` and `seqtag evaluate --plot`: real PNG files, written atomically, clear errors, and
matplotlib loaded only when a picture is asked for."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from seqtag.cli import app
from seqtag.config import DataConfig, ModelConfig
from seqtag.data.vocab import Vocab, WordVocab

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def assert_png(check_png):
    """``assert_png(path)``: a PNG that decodes to a picture that is not blank (conftest's check_png),
    written atomically (no temporary file left next to it)."""

    def assert_png(path) -> None:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 2000, len(data)
        check_png(path)
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind

    return assert_png


def blank_png(path, colour: str = "white", **savefig) -> None:
    """An empty figure of one colour, axes off: a valid PNG of 640 x 480 pixels with nothing drawn."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=100, facecolor=colour)
    figure.add_subplot().axis("off")
    figure.savefig(path, facecolor=colour, **savefig)


@pytest.mark.parametrize("colour", ["white", "#3070b0"])
def test_the_png_check_rejects_a_blank_picture(tmp_path, assert_png, check_png, colour):
    path = tmp_path / "blank.png"
    blank_png(path, colour, pil_kwargs={"compress_level": 0})  # uncompressed: size alone does not give it away
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 100_000  # what the old check looked at: it passed
    with pytest.raises(AssertionError, match="a blank picture"):
        check_png(path)
    with pytest.raises(AssertionError, match="a blank picture"):
        assert_png(path)


def test_the_png_check_accepts_a_picture_with_something_drawn(tmp_path, check_png):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    figure.add_subplot().plot([1, 3, 2, 4], label="loss")
    figure.savefig(tmp_path / "line.png")
    assert check_png(tmp_path / "line.png").shape[:2] == (480, 640)


def test_the_png_check_rejects_what_is_not_a_png(tmp_path, check_png):
    (tmp_path / "fake.png").write_bytes(b"GIF89a" + bytes(5000))
    with pytest.raises(AssertionError, match="not a PNG"):
        check_png(tmp_path / "fake.png")


def test_plot_history_of_a_model_and_of_a_checkpoint_directory(trained, tmp_path, sample_slice, assert_png):
    out = tmp_path / "curves.png"
    result = run("plot", "history", trained.model, "--output", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "wrote" in result.stderr
    assert_png(out)
    checkpoints = tmp_path / "ck"
    train = sample_slice("train", 30, tmp_path / "train.txt")
    trained_again = run("train", "--train", train, "--dev", train, "--output", tmp_path / "m.seqtag", "--checkpoint-dir", checkpoints,
                        "--epochs", "2", "--hidden", "8", "--char-encoder", "none")
    assert trained_again.exit_code == 0, trained_again.output
    assert run("plot", "history", checkpoints, "-o", tmp_path / "ck.png").exit_code == 0
    assert_png(tmp_path / "ck.png")


def test_plot_history_errors(trained, tmp_path, one_error_line, write_file, random_tagger):
    one_error_line(run("plot", "history", trained.model, "-o", tmp_path / "curves.jpg"), "curves.jpg", ".png")
    one_error_line(run("plot", "history", trained.model, "-o", tmp_path / "missing" / "c.png"), "no such folder")
    empty = tmp_path / "empty"
    (empty / "seed-2").mkdir(parents=True)
    write_file(empty / "seed-2" / "checkpoint.pt", "not a checkpoint")
    one_error_line(run("plot", "history", empty, "-o", tmp_path / "c.png"), str(empty), "no checkpoint.pt", "seed-2")
    one_error_line(run("plot", "history", empty / "seed-2", "-o", tmp_path / "c.png"), "checkpoint.pt", "not a seqtag checkpoint file")
    untrained = tmp_path / "untrained.seqtag"
    random_tagger("crf", "bioes", "iob2").save(untrained)
    one_error_line(run("plot", "history", untrained, "-o", tmp_path / "c.png"), str(untrained), "no training history")
    one_error_line(run("plot", "history", empty / "seed-2" / "checkpoint.pt", "-o", tmp_path / "c.png"), "not a seqtag model file")
    assert not (tmp_path / "c.png").exists()


def test_evaluate_plot_tagger(trained, tmp_path, one_error_line, write_conll, assert_png):
    out = tmp_path / "types.png"
    result = run("evaluate", trained.model, trained.test, "--plot", out, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("{")  # stdout keeps only the report
    assert_png(out)
    predictions = write_conll(tmp_path / "p.txt", [[("a", "B-PER", "B-LOC"), ("b", "I-PER", "O")], [("c", "O", "O")]])
    assert run("evaluate", "--predictions", predictions, "--plot", tmp_path / "p.png").exit_code == 0
    assert_png(tmp_path / "p.png")
    one_error_line(run("evaluate", trained.model, trained.test, "--plot", tmp_path / "c.svg"), "c.svg", ".png")


def test_evaluate_plot_classifier(tmp_path, write_file, assert_png):
    from seqtag.tasks.classification import Classifier, build_net

    words = WordVocab(["<pad>", "<unk>", "good", "bad", "film"])
    labels = Vocab(["neg", "pos"])
    config = ModelConfig(task="classify", hidden=8, word_dim=8, char_encoder="none", dropout=0.0)
    torch.manual_seed(0)
    model = tmp_path / "clf.seqtag"
    Classifier(build_net(config, words, None, labels), words, None, labels, config, DataConfig()).save(model)
    data = write_file(tmp_path / "test.tsv", "label\ttext\npos\tgood film\nneg\tbad film\npos\tgood\n")
    out = tmp_path / "confusion.png"
    result = run("evaluate", model, data, "--plot", out)
    assert result.exit_code == 0, result.output
    assert "confusion" in result.stdout
    assert_png(out)


def test_matplotlib_is_imported_only_for_pictures(repo_root):
    code = "import sys, seqtag.cli, seqtag.evaluation.evaluate, seqtag.formats.writers; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root)


@pytest.mark.parametrize("epochs", [1, 3])
def test_history_png_with_and_without_dev_scores(tmp_path, epochs, assert_png):
    from seqtag.evaluation.plots import history_png

    history = [{"epoch": e, "loss": 1.0 / e, "dev": {}, "seconds": 1.0, "lr": 0.01, "best": True} for e in range(1, epochs + 1)]
    history_png(history, tmp_path / "h.png", "run")
    assert_png(tmp_path / "h.png")
