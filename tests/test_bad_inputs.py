"""The catalogue of bad inputs: every reader and every command, one case each, all through the CLI.

Each case must end with exit code 2, exactly one non-empty stderr line that starts with
``seqtag: error:`` and names the file (and line, where there is one) or the option, no traceback,
nothing on stdout, and nothing written anywhere (no model file, no checkpoint, no temporary file).
"""
from __future__ import annotations

import gzip
import pathlib
import random
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from typer.testing import CliRunner

from seqtag.cli import app

LATIN = "EU NNP B-ORG\nrejects VBZ O\n\nM\xfcller NNP B-PER\n".encode("latin-1")


class _TouchMarker:
    """A pickled object whose unpickling would create a file: proof that a payload ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@dataclass
class Env:
    """Where a case builds its input files; ``out`` is the model path a train command is given."""

    dir: pathlib.Path
    tiny: pathlib.Path  # 20 tagged sentences
    model: pathlib.Path  # a trained tagger
    checkpoint: pathlib.Path  # a checkpoint directory made by training `tiny` with TRAIN's settings

    @property
    def out(self) -> pathlib.Path:
        return self.dir / "out" / "m.seqtag"

    def file(self, name: str, content: str | bytes) -> pathlib.Path:
        path = self.dir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    def model_body(self) -> dict:
        return torch.load(self.model, weights_only=True)

    def saved(self, name: str, body: object) -> pathlib.Path:
        torch.save(body, self.dir / name)
        return self.dir / name


TRAIN = ["--epochs", "1", "--hidden", "8"]


def train(env: Env, *args) -> list:
    # The options under test come last: a repeated option's last value wins.
    return ["train", "-o", env.out, *TRAIN, *args]


def train_tiny(env: Env, *args) -> list:
    return train(env, "--train", env.tiny, *args)


def vectors(name: str, content: str | bytes) -> Callable[[Env], list]:
    return lambda env: train_tiny(env, "--no-embedding-cache", "--embeddings", env.file(name, content))


def tag_data(name: str, content: str | bytes, *args: str) -> Callable[[Env], list]:
    return lambda env: train(env, "--train", env.file(name, content), "--task", "tag", *args)


def cls_data(name: str, content: str | bytes, *args: str) -> Callable[[Env], list]:
    return lambda env: train(env, "--train", env.file(name, content), "--task", "classify", *args)


def config(content: str | bytes) -> Callable[[Env], list]:
    return lambda env: train_tiny(env, "--config", env.file("c.toml", content))


def damaged_model(command: str, change: Callable[[Env, dict], object]) -> Callable[[Env], list]:
    def build(env: Env) -> list:
        body = env.model_body()
        change(env, body)
        model = env.saved("bad.seqtag", body)
        return [command, model, *({"predict": [env.tiny], "evaluate": [env.tiny], "info": []}[command])]

    return build


def model_bytes(command: str, content: Callable[[bytes], bytes]) -> Callable[[Env], list]:
    def build(env: Env) -> list:
        model = env.file("bad.seqtag", content(env.model.read_bytes()))
        return [command, model, *({"predict": [env.tiny], "evaluate": [env.tiny], "info": []}[command])]

    return build


def copied_checkpoint(change: Callable[[Env, dict], object] | None = None) -> Callable[[Env], pathlib.Path]:
    def build(env: Env) -> pathlib.Path:
        folder = env.dir / "ck"
        shutil.copytree(env.checkpoint, folder)
        if change is not None:
            body = torch.load(folder / "checkpoint.pt", weights_only=True)
            change(env, body)
            torch.save(body, folder / "checkpoint.pt")
        return folder

    return build


def resume(change: Callable[[Env, dict], object] | None, *args: str, data: str | None = None) -> Callable[[Env], list]:
    def build(env: Env) -> list:
        folder = copied_checkpoint(change)(env)
        source = env.file("other.txt", data) if data is not None else env.tiny
        return train(env, "--train", source, "--resume", folder, *args)

    return build


def existing_checkpoint(env: Env) -> list:
    return train_tiny(env, "--checkpoint-dir", copied_checkpoint()(env))


def _truncated(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    return folder


def _payload(env: Env, body: dict) -> None:
    body["meta" if "meta" in body else "fingerprint"] = {"x": _TouchMarker(env.dir / "PWNED")}


def _bin_vectors(header: bytes, rows: list[tuple[bytes, int]]) -> bytes:
    return header + b"".join(word + b" " + struct.pack(f"{n}f", *range(n)) for word, n in rows)


# (id, command line built in the case's folder, fragments of the one error line; "{dir}" is that folder)
CASES: list[tuple[str, Callable[[Env], list], list[str]]] = [
    # ------------------------------------------------------------ CoNLL column files
    ("columns-count", tag_data("c.txt", "EU NNP B-ORG\nrejects VBZ\n"), ["{dir}/c.txt:2:", "expected 3 columns, got 2"]),
    ("columns-tabs-then-spaces", tag_data("c.txt", "EU\tNNP\tB-ORG\nrejects\tVBZ O\n"), ["{dir}/c.txt:2:", "expected 3 columns"]),
    ("columns-empty-file", tag_data("c.txt", ""), ["{dir}/c.txt:", "no sentences"]),
    ("columns-only-docstart", tag_data("c.txt", "-DOCSTART- -X- O\n\n\n"), ["{dir}/c.txt:", "no sentences"]),
    ("columns-latin-1", tag_data("c.txt", LATIN), ["{dir}/c.txt:4:", "utf-8", "--encoding"]),
    ("columns-binary", tag_data("c.txt", b"\x00\xff\xfe\x00abc\n"), ["{dir}/c.txt:1:", "utf-8"]),
    ("columns-utf-16", tag_data("c.txt", "EU NNP B-ORG\n".encode("utf-16")), ["{dir}/c.txt:1:", "utf-8"]),
    ("columns-tag-column", lambda env: train_tiny(env, "--tag-column", "7"), ["tiny.txt:1:", "tag column 7 is out of range"]),
    ("columns-token-column", lambda env: train_tiny(env, "--token-column", "-9"), ["tiny.txt:1:", "token column -9"]),
    ("columns-one-column", tag_data("c.txt", "EU\nrejects\n"), ["{dir}/c.txt:1:", "also the token column"]),
    ("columns-scheme-without-prefixes", tag_data("c.txt", "EU NNP\nrejects VBZ\n", "--scheme", "iob2"), ["{dir}/c.txt:", "no B-/I- prefixes"]),
    ("columns-bad-dev-file", lambda env: train_tiny(env, "--dev", env.file("dev.txt", "EU NNP B-ORG\nx\n")), ["{dir}/dev.txt:2:", "expected 3 columns"]),
    ("columns-missing-train", lambda env: train(env, "--train", env.dir / "nope.txt"), ["--train", "nope.txt"]),
    ("columns-train-is-a-directory", lambda env: train(env, "--train", env.dir), ["--train", "is a directory"]),
    ("columns-unknown-encoding", lambda env: train_tiny(env, "--encoding", "klingon"), ["--encoding", "klingon"]),
    # ------------------------------------------------------------ CoNLL-U
    ("conllu-field-count", lambda env: train(env, "--train", env.file("u.conllu", "1\tThe\tthe\tDET\n")), ["{dir}/u.conllu:1:", "10 tab-separated fields"]),
    ("conllu-late-bad-row", lambda env: train(env, "--train", env.file("u.conllu", "# text = A\n1\tA\ta\tDET\t_\t_\t0\troot\t_\t_\n\n1\tB b\n")), ["{dir}/u.conllu:4:"]),
    ("conllu-only-comments", lambda env: train(env, "--train", env.file("u.conllu", "# sent_id = 1\n# text = x\n")), ["{dir}/u.conllu:", "no sentences"]),
    ("conllu-latin-1", lambda env: train(env, "--train", env.file("u.conllu", "1\tM\xfcller\tm\tPROPN\tNNP\t_\t0\troot\t_\t_\n".encode("latin-1"))), ["{dir}/u.conllu:1:", "utf-8"]),
    # ------------------------------------------------------------ classification files
    ("tsv-row-columns", cls_data("t.tsv", "label\ttext\npos\tgood film\nneg\n"), ["{dir}/t.tsv:3:", "expected 2 columns"]),
    ("tsv-unknown-label-column", cls_data("t.tsv", "label\ttext\npos\tgood film\n", "--label-column", "klass"), ["{dir}/t.tsv:1:", "'klass'"]),
    ("tsv-text-column-index", cls_data("t.tsv", "label\ttext\npos\tgood film\n", "--text-columns", "5"), ["{dir}/t.tsv:1:", "text column 5"]),
    ("tsv-empty-label", cls_data("t.tsv", "label\ttext\n\tgood film\n"), ["{dir}/t.tsv:2:", "empty label"]),
    ("tsv-latin-1", cls_data("t.tsv", "label\ttext\npos\tgood\nneg\tM\xfcll\n".encode("latin-1")), ["{dir}/t.tsv:3:", "utf-8"]),
    ("csv-unclosed-quote", cls_data("t.csv", 'label,text\npos,"good film\nneg,bad\n'), ["{dir}/t.csv:2:", "malformed record"]),
    ("csv-missing-text", cls_data("t.csv", "label,text\npos,\n"), ["{dir}/t.csv:2:", "missing text"]),
    ("fasttext-missing-label", cls_data("f.txt", "__label__pos good\nbad film\n", "--input-format", "fasttext"), ["{dir}/f.txt:2:", "__label__"]),
    ("jsonl-invalid", cls_data("j.jsonl", '{"text": "a", "label": "x"}\n{"text": \n'), ["{dir}/j.jsonl:2:", "invalid JSON"]),
    ("jsonl-not-an-object", cls_data("j.jsonl", "[1, 2]\n"), ["{dir}/j.jsonl:1:", "expected a JSON object"]),
    ("jsonl-missing-text", cls_data("j.jsonl", '{"label": "x"}\n'), ["{dir}/j.jsonl:1:", "missing key 'text'"]),
    ("jsonl-label-list-holds-an-object", cls_data("j.jsonl", '{"text": "a b", "label": [{"x": 1}]}\n'), ["{dir}/j.jsonl:1:", "'label' must be"]),
    ("jsonl-nested-too-deep", cls_data("j.jsonl", "[" * 100_000 + "\n"), ["{dir}/j.jsonl:1:", "nested too deeply"]),
    ("label-tab-without-tab", cls_data("l.txt", "pos\tgood film\nbad film\n", "--input-format", "label-tab"), ["{dir}/l.txt:2:", "no tab"]),
    ("label-space-without-text", cls_data("l.txt", "pos good film\nneg\n", "--input-format", "label-space"), ["{dir}/l.txt:2:", "missing text"]),
    ("classify-undecidable-format", cls_data("l.txt", "x" * 50 + "\n"), ["{dir}/l.txt:1:", "--input-format"]),
    ("classify-unknown-dev-label", lambda env: train(env, "--train", env.file("t.tsv", "label\ttext\npos\tgood\nneg\tbad\n"), "--dev", env.file("d.tsv", "label\ttext\nmeh\tso so\n")), ["{dir}/d.tsv:2:", "'meh'"]),
    ("classify-blank-lines-only", cls_data("t.tsv", "\n\n\n"), ["{dir}/t.tsv:", "no examples"]),
    ("classify-max-tokens", lambda env: train_tiny(env, "--max-tokens", "-1"), ["--max-tokens", "-1"]),
    # ------------------------------------------------------------ vector files
    ("w2v-text-short-row", vectors("v.txt", "3 4\nthe 1 2 3 4\nof 1 2\nand 1 2 3 4\n"), ["{dir}/v.txt:3:", "expected 4 values"]),
    ("w2v-text-not-a-number", vectors("v.txt", "2 3\nthe 1 x 3\nof 1 2 3\n"), ["{dir}/v.txt:2:", "not a number: 'x'"]),
    ("w2v-text-nan", vectors("v.txt", "2 3\nthe 1 nan 3\nof 1 2 3\n"), ["{dir}/v.txt:2:", "NaN or infinite"]),
    ("w2v-text-header-too-big", vectors("v.txt", "1000000000 300\nthe 1 2 3\n"), ["{dir}/v.txt:1:", "header announces"]),
    ("w2v-text-fewer-rows", vectors("v.txt", "3 2\nthe 1 2\nof 3 4\n"), ["{dir}/v.txt:4:", "the file ends after 2"]),
    ("glove-ragged", vectors("g.txt", "the 1 2 3\nof 1 2\n"), ["{dir}/g.txt:2:", "expected 3 values"]),
    ("glove-infinite", vectors("g.txt", "the 1 2 3\nof 1 inf 2\n"), ["{dir}/g.txt:2:", "NaN or infinite"]),
    ("w2v-binary-header-too-big", vectors("v.bin", _bin_vectors(b"100000000000 4\n", [(b"the", 4)])), ["{dir}/v.bin:1:", "header announces"]),
    ("w2v-binary-truncated", vectors("v.bin", _bin_vectors(b"2 4\n", [(b"the", 4), (b"of", 4)])[:-6]), ["{dir}/v.bin:", "unexpected end"]),
    ("vectors-gz-not-gzip", vectors("v.txt.gz", "the 1 2 3\n"), ["{dir}/v.txt.gz:", "gzip"]),
    ("vectors-gz-truncated", vectors("v.txt.gz", gzip.compress(b"the 1 2 3\nof 1 2 3\n" * 100)[:40]), ["{dir}/v.txt.gz:", "ended before"]),
    ("vectors-empty", vectors("v.txt", ""), ["{dir}/v.txt:1:", "empty vector file"]),
    ("vectors-latin-1", vectors("v.txt", "2 3\nM\xfcller 1 2 3\nof 1 2 3\n".encode("latin-1")), ["{dir}/v.txt:2:", "utf-8"]),
    ("vectors-word-list", vectors("v.txt", "the\nof\nand\n"), ["{dir}/v.txt:", "no values"]),
    ("vectors-missing", lambda env: train_tiny(env, "--embeddings", env.dir / "nope.vec"), ["--embeddings", "nope.vec"]),
    # ------------------------------------------------------------ TOML config files
    ("toml-syntax", config("epochs = 2\nhidden = \n"), ["{dir}/c.toml:", "line 2"]),
    ("toml-unknown-key", config("hidden = 12\nhiden = 3\n"), ["{dir}/c.toml:", "'hiden'"]),
    ("toml-wrong-type", config('hidden = "big"\n'), ["{dir}/c.toml:", "'hidden' must be int"]),
    ("toml-bad-choice", config('[model]\ncell = "transformer"\n'), ["{dir}/c.toml:", "'cell' must be one of"]),
    ("toml-latin-1", config('encoding = "caf\xe9"\n'.encode("latin-1")), ["{dir}/c.toml:", "utf-8"]),
    ("toml-out-of-range", config("dropout = 1.5\n"), ["{dir}/c.toml:", "'dropout'"]),
    ("toml-huge-integer", config("hidden = 100000000000000000000\n"), ["{dir}/c.toml:", "'hidden' is out of range"]),
    ("toml-date-for-int", config("seed = 1979-05-27\n"), ["{dir}/c.toml:", "'seed' must be int"]),
    ("toml-missing", lambda env: train_tiny(env, "--config", env.dir / "nope.toml"), ["--config", "nope.toml"]),
    # ------------------------------------------------------------ model files
    ("model-garbage", model_bytes("predict", lambda data: bytes(random.Random(5).randrange(256) for _ in range(3000))), ["{dir}/bad.seqtag:", "not a seqtag model file"]),
    ("model-truncated", model_bytes("info", lambda data: data[: len(data) // 2]), ["{dir}/bad.seqtag:", "truncated"]),
    ("model-empty", model_bytes("evaluate", lambda data: b""), ["{dir}/bad.seqtag:", "truncated"]),
    ("model-newer-version", damaged_model("predict", lambda env, body: body.update(version=99)), ["{dir}/bad.seqtag:", "version 99", "upgrade"]),
    ("model-pickle-payload", damaged_model("predict", _payload), ["{dir}/bad.seqtag:", "refusing to load"]),
    ("model-not-seqtag", lambda env: ["info", env.saved("bad.seqtag", {"weight": torch.zeros(3)})], ["{dir}/bad.seqtag:", "not a seqtag model file"]),
    ("model-wrong-shapes", damaged_model("predict", lambda env, body: body.update(state_dict={k: v[:1] for k, v in body["state_dict"].items()})), ["{dir}/bad.seqtag:", "damaged model file"]),
    ("model-malformed-entry", damaged_model("info", lambda env, body: body.update(vocab=[])), ["{dir}/bad.seqtag:", "malformed 'vocab'"]),
    ("model-missing", lambda env: ["evaluate", env.dir / "nope.seqtag", env.tiny], ["nope.seqtag", "does not exist"]),
    # ------------------------------------------------------------ checkpoints
    ("checkpoint-truncated", lambda env: train_tiny(env, "--resume", _truncated(copied_checkpoint()(env))), ["{dir}/ck/checkpoint.pt:", "truncated"]),
    ("checkpoint-pickle-payload", resume(_payload), ["{dir}/ck/checkpoint.pt:", "refusing to load"]),
    ("checkpoint-newer-version", resume(lambda env, body: body.update(version=5)), ["{dir}/ck/checkpoint.pt:", "version 5"]),
    ("checkpoint-damaged-state", resume(lambda env, body: body["state"]["progress"].update(epoch="two")), ["{dir}/ck/checkpoint.pt:", "damaged checkpoint"]),
    ("resume-other-settings", resume(None, "--hidden", "9"), ["{dir}/ck/checkpoint.pt:", "hidden is 9", "8 in the checkpoint's"]),
    ("resume-other-data", resume(None, data="EU NNP B-ORG\nrejects VBZ O\n"), ["{dir}/ck/checkpoint.pt:", "training examples differ"]),
    ("resume-nothing-there", lambda env: train_tiny(env, "--resume", env.dir / "nope"), ["{dir}/nope:", "no checkpoint"]),
    ("checkpoint-dir-holds-a-run", existing_checkpoint, ["{dir}/ck:", "--resume"]),
    ("checkpoint-dir-is-a-file", lambda env: train_tiny(env, "--checkpoint-dir", env.tiny), ["tiny.txt:", "is a file"]),
    ("checkpoint-every-negative", lambda env: train_tiny(env, "--checkpoint-dir", env.dir / "ck", "--checkpoint-every", "-1"), ["--checkpoint-every", "-1"]),
    ("checkpoint-every-without-dir", lambda env: train_tiny(env, "--checkpoint-every", "3"), ["--checkpoint-every", "--checkpoint-dir"]),
    ("resume-and-other-checkpoint-dir", lambda env: train_tiny(env, "--resume", env.dir / "a", "--checkpoint-dir", env.dir / "b"), ["--checkpoint-dir"]),
    # ------------------------------------------------------------ train options
    ("option-hidden-negative", lambda env: train_tiny(env, "--hidden", "-3"), ["--hidden", "-3"]),
    ("option-hidden-huge", lambda env: train_tiny(env, "--hidden", "100000000000000000000"), ["--hidden", "out of range"]),
    ("option-cell", lambda env: train_tiny(env, "--cell", "transformer"), ["--cell", "transformer"]),
    ("option-dropout", lambda env: train_tiny(env, "--dropout", "1.5"), ["--dropout", "1.5"]),
    ("option-seed", lambda env: train_tiny(env, "--seed", "-1"), ["--seed", "-1"]),
    ("option-lr-nan", lambda env: train_tiny(env, "--lr", "nan"), ["--lr", "nan"]),
    ("option-batch-size", lambda env: train_tiny(env, "--batch-size", "0"), ["--batch-size"]),
    ("option-epochs-not-a-number", lambda env: train_tiny(env, "--epochs", "abc"), ["--epochs"]),
    ("option-unknown", lambda env: train_tiny(env, "--hiden", "3"), ["--hiden"]),
    ("option-threads", lambda env: train_tiny(env, "--threads", "-1"), ["--threads", "-1"]),
    ("option-output-is-a-directory", lambda env: train_tiny(env, "-o", env.dir), ["{dir}:", "is a directory"]),
    ("option-output-folder-missing", lambda env: train_tiny(env, "-o", env.dir / "no" / "m.seqtag"), ["{dir}/no/m.seqtag:", "no such directory"]),
    # ------------------------------------------------------------ predict / evaluate / info options and inputs
    ("predict-batch-size", lambda env: ["predict", env.model, env.tiny, "--batch-size", "0"], ["--batch-size"]),
    ("predict-top-k", lambda env: ["predict", env.model, env.tiny, "--top-k", "0"], ["--top-k"]),
    ("predict-unknown-encoding", lambda env: ["predict", env.model, env.tiny, "--encoding", "klingon"], ["--encoding", "klingon"]),
    ("predict-format-for-classifiers", lambda env: ["predict", env.model, env.tiny, "--input-format", "tsv"], ["--input-format tsv"]),
    ("predict-latin-1-text", lambda env: ["predict", env.model, env.file("p.txt", "John lives in Berlin.\nHe likes M\xfcnchen.\n".encode("latin-1"))], ["{dir}/p.txt:2:", "utf-8"]),
    ("predict-bad-conll", lambda env: ["predict", env.model, env.file("p.txt", "EU NNP\nx\n"), "--input-format", "conll"], ["{dir}/p.txt:2:", "expected 2 columns"]),
    ("predict-bad-conllu", lambda env: ["predict", env.model, env.file("p.conllu", "1\tx\n"), "--input-format", "conllu"], ["{dir}/p.conllu:1:"]),
    ("predict-missing-input", lambda env: ["predict", env.model, env.dir / "nope.txt"], ["{dir}/nope.txt:", "no such file"]),
    ("evaluate-unknown-gold-tag", lambda env: ["evaluate", env.model, env.file("g.txt", "EU NNP B-ORG\nGerman JJ B-LANG\n")], ["{dir}/g.txt:2:", "B-LANG"]),
    ("evaluate-mode", lambda env: ["evaluate", env.model, env.tiny, "--mode", "fuzzy"], ["--mode", "fuzzy"]),
    ("evaluate-predictions-column", lambda env: ["evaluate", "--predictions", env.file("p.txt", "EU B-ORG\n"), "--gold-column", "5"], ["{dir}/p.txt:1:", "gold column 5"]),
    ("evaluate-nothing-to-do", lambda env: ["evaluate"], ["--predictions"]),
    ("evaluate-unknown-encoding", lambda env: ["evaluate", env.model, env.tiny, "--encoding", "klingon"], ["--encoding", "klingon"]),
    ("info-format", lambda env: ["info", env.model, "--format", "yaml"], ["--format", "yaml"]),
]

def test_the_catalogue_is_big_enough():
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, trained, sample_slice) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """A tiny training file, a trained model, and a checkpoint of the tiny file trained with TRAIN."""
    folder = tmp_path_factory.mktemp("catalogue")
    tiny = sample_slice("train", 20, folder / "tiny.txt")
    result = CliRunner().invoke(
        app, ["train", "--train", str(tiny), "-o", str(folder / "m.seqtag"), *TRAIN, "--checkpoint-dir", str(folder / "ck")]
    )
    assert result.exit_code == 0, result.output
    return tiny, trained.model, folder / "ck"


def _snapshot(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("build, fragments", [pytest.param(b, f, id=i) for i, b, f in CASES])
def test_bad_input(tmp_path, inputs, build, fragments):
    tiny, model, checkpoint = inputs
    env = Env(tmp_path, shutil.copy(tiny, tmp_path / "tiny.txt"), model, checkpoint)
    (tmp_path / "out").mkdir()
    args = [str(a) for a in build(env)]
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("seqtag: error: "), lines[0]
    for fragment in fragments:
        assert fragment.format(dir=tmp_path) in lines[0], (fragment, lines[0])
    assert _snapshot(tmp_path) == before  # nothing written: no model, no checkpoint, no temporary file
    assert not (tmp_path / "PWNED").exists()  # a pickle payload never ran
