"""The model file: save -> load round trips, plain-data-only contents, and the format / version checks."""
from __future__ import annotations

import pathlib

import pytest
import torch

import seqtag
from seqtag.archive import FORMAT, VERSION, load_archive, save_archive
from seqtag.errors import InputError
from seqtag.tasks.tagging import Tagger
from seqtag.vectors.compact import PARTS, unpack_state

SENTENCES = [
    ["John", "Smith", "flew", "to", "Berlin", "."],
    [],
    ["Deutsche", "Bank", "hired", "Maria", "Garcia", "in", "1996", "."],
    ["Zzyzx"],
]

PLAIN = (str, int, float, bool, type(None))


def _check_plain(value, where: str = "body") -> None:
    """Only dicts with str keys, lists, plain scalars and tensors: nothing a pickle could run."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{where}: key {key!r}"
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif isinstance(value, torch.Tensor):
        assert type(value) is torch.Tensor, f"{where}: {type(value)}"  # not a Parameter or subclass
    else:
        assert isinstance(value, PLAIN), f"{where}: {type(value)}"


@pytest.fixture
def saved(tagger, tmp_path) -> pathlib.Path:
    path = tmp_path / "copy.seqtag"
    tagger.save(path)
    return path


def test_save_load_predicts_the_same(tagger, saved):
    expected = tagger.predict(SENTENCES)
    assert expected[1] == [] and len(expected[2]) == 8
    for loaded in (Tagger.load(saved), seqtag.load_model(saved)):
        assert isinstance(loaded, Tagger)
        assert loaded.predict(SENTENCES) == expected
        assert loaded.labels.items == tagger.labels.items
        assert loaded.words.items == tagger.words.items
        assert loaded.words.trainable == tagger.words.trainable
        assert loaded.data_scheme == tagger.data_scheme == "iob2"
        assert loaded.model_config == tagger.model_config
        assert loaded.data_config == tagger.data_config
        assert loaded.train_config == tagger.train_config
        assert loaded.meta["best_epoch"] == tagger.meta["best_epoch"]
        assert not loaded.net.training
        for (name, a), (other, b) in zip(tagger.net.state_dict().items(), loaded.net.state_dict().items()):
            assert name == other
            assert torch.equal(a, b), name


def test_resaving_is_stable(tagger, saved, tmp_path):
    again = tmp_path / "again.seqtag"
    Tagger.load(saved).save(again)
    a, b = load_archive(saved), load_archive(again)
    assert a.keys() == b.keys()
    plain = ("state_dict", "vocab")
    assert {k: v for k, v in a.items() if k not in plain} == {k: v for k, v in b.items() if k not in plain}
    assert a["vocab"].keys() == b["vocab"].keys() and torch.equal(a["vocab"]["words"], b["vocab"]["words"])
    assert {k: v for k, v in a["vocab"].items() if k != "words"} == {k: v for k, v in b["vocab"].items() if k != "words"}
    # bit for bit, the packed frozen rows included: packing what was unpacked gives the same bytes
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_frozen_rows_are_stored_packed(tagger, saved):
    state = load_archive(saved)["state_dict"]
    assert "encoder.extra_words" not in state
    assert {k for k in state if ".packed_" in k} == {f"encoder.extra_words.packed_{part}" for part in PARTS}
    assert torch.equal(unpack_state(state)["encoder.extra_words"], tagger.net.encoder.extra_words)


def test_a_version_1_file_still_loads(tagger, saved, tmp_path):
    # Version 1 kept the word list as one newline-joined string and the frozen rows as float16.
    body = load_archive(saved)
    body["version"] = 1
    body["vocab"]["words"] = "\n".join(tagger.words.items)
    state = unpack_state(body["state_dict"])
    state["encoder.extra_words"] = state["encoder.extra_words"].half()
    body["state_dict"] = state
    old = _write(tmp_path / "v1.seqtag", body)
    loaded = Tagger.load(old)
    assert loaded.words.items == tagger.words.items
    assert loaded.predict(SENTENCES) == tagger.predict(SENTENCES)


def test_session_model_round_trip_from_the_cli_file(trained, tagger, raw_file):
    from seqtag.formats.text import read_raw

    tokens = [s.tokens for s in read_raw(raw_file)]
    assert seqtag.load_model(trained.model).predict(tokens) == tagger.predict(tokens)


def test_plain_torch_load_weights_only(saved, tagger):
    body = torch.load(saved, weights_only=True)
    assert body["format"] == FORMAT == "seqtag"
    assert body["version"] == VERSION == 2
    assert body["task"] == "tag"
    assert body["seqtag_version"] == seqtag.__version__
    assert set(body) >= {"config", "vocab", "state_dict", "schemes", "meta"}
    assert body["vocab"]["labels"] == tagger.labels.items
    assert body["schemes"] == {"data": "iob2", "model": "bioes"}
    _check_plain(body)
    assert body["state_dict"] and all(type(t) is torch.Tensor for t in body["state_dict"].values())
    assert all(not t.requires_grad for t in body["state_dict"].values())


def test_save_is_atomic(tagger, saved, monkeypatch):
    before = saved.read_bytes()

    def broken_save(obj, handle, *args, **kwargs):
        handle.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        tagger.save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left


def test_load_model_by_str_path(saved):
    assert isinstance(seqtag.load_model(str(saved)), Tagger)


# ---------------------------------------------------------------------------- format / version checks


def _write(path: pathlib.Path, body) -> pathlib.Path:
    torch.save(body, path)
    return path


def _error(path) -> InputError:
    with pytest.raises(InputError) as info:
        load_archive(path)
    assert info.value.path == str(path)
    return info.value


def test_newer_version_is_refused(saved, tmp_path):
    body = torch.load(saved, weights_only=True)
    body["version"] = 99
    error = _error(_write(tmp_path / "v99.seqtag", body))
    assert "version 99" in error.message and "upgrade" in error.message
    with pytest.raises(InputError, match="version 99"):
        seqtag.load_model(tmp_path / "v99.seqtag")
    with pytest.raises(InputError, match="version 99"):
        Tagger.load(tmp_path / "v99.seqtag")


@pytest.mark.parametrize("version", [None, "1", 1.0])
def test_missing_or_odd_version_is_refused(saved, tmp_path, version):
    body = torch.load(saved, weights_only=True)
    if version is None:
        del body["version"]
    else:
        body["version"] = version
    _error(_write(tmp_path / "odd.seqtag", body))


def test_current_version_loads(saved):
    assert load_archive(saved)["version"] == VERSION


@pytest.mark.parametrize("body", [{"weight": torch.ones(2)}, [1, 2, 3], {"format": "other", "version": 1}, "seqtag"])
def test_not_a_seqtag_file(tmp_path, body):
    error = _error(_write(tmp_path / "other.pt", body))
    assert "not a seqtag model file" in error.message


@pytest.mark.parametrize("key", ["task", "config", "vocab", "state_dict"])
def test_missing_entry(saved, tmp_path, key):
    body = torch.load(saved, weights_only=True)
    del body[key]
    error = _error(_write(tmp_path / "partial.seqtag", body))
    assert repr(key) in error.message


@pytest.mark.parametrize(
    "key, value",
    [("config", "x"), ("config", {"model": [1]}), ("vocab", []), ("state_dict", []), ("state_dict", {"w": 1}),
     ("meta", []), ("task", ["tag"]), ("schemes", "iob2")],
)
def test_malformed_entry(saved, tmp_path, key, value):
    body = torch.load(saved, weights_only=True)
    body[key] = value
    path = _write(tmp_path / "malformed.seqtag", body)
    assert f"malformed {key!r}" in _error(path).message
    with pytest.raises(InputError):
        seqtag.load_model(path)


def test_unknown_task(saved, tmp_path):
    body = torch.load(saved, weights_only=True)
    body["task"] = "parse"
    path = _write(tmp_path / "parse.seqtag", body)
    with pytest.raises(InputError, match="parse"):
        seqtag.load_model(path)
    with pytest.raises(InputError, match="parse"):
        Tagger.load(path)


def test_mismatched_weights_are_a_damaged_file(saved, tmp_path):
    body = torch.load(saved, weights_only=True)
    name = next(iter(body["state_dict"]))
    body["state_dict"][name] = torch.zeros(1, 1, 1)
    path = _write(tmp_path / "shape.seqtag", body)
    with pytest.raises(InputError, match="damaged"):
        seqtag.load_model(path)
    body["vocab"]["labels"] = body["vocab"]["labels"][:3]
    with pytest.raises(InputError, match="damaged"):
        seqtag.load_model(_write(tmp_path / "labels.seqtag", body))


def test_truncated_and_garbage_files(saved, tmp_path):
    data = saved.read_bytes()
    for size in (0, 10, len(data) // 3, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{size}.seqtag"
        path.write_bytes(data[:size])
        _error(path)
    path = tmp_path / "text.seqtag"
    path.write_text("hello, I am not a model\n", encoding="utf-8")
    _error(path)


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.seqtag").message
    assert "directory" in _error(tmp_path).message


def test_pickled_object_is_refused_and_never_runs(saved, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    body = torch.load(saved, weights_only=True)
    body["meta"] = {"x": Payload()}
    error = _error(_write(tmp_path / "evil.seqtag", body))
    assert "refusing to load" in error.message
    assert not marker.exists()


def test_save_archive_adds_format_and_version(tmp_path):
    path = tmp_path / "x.seqtag"
    save_archive(path, {"task": "tag", "config": {}, "vocab": {}, "state_dict": {}})
    body = load_archive(path)
    assert (body["format"], body["version"]) == (FORMAT, VERSION)
