"""The model file: one ``torch.save`` of a plain dict (JSON-able values + tensors), never arbitrary objects.

Layout (``version`` 2)::

    {"format": "seqtag", "version": 2, "task": "tag" | "classify" | "multilabel", "seqtag_version": str,
     "config": {"data": {...}, "model": {...}, "train": {...}},
     "vocab": {"words": uint8 tensor (zlib of "w1\nw2…"), "trainable_words": int, "chars": [...] | None, "labels": [...]},
     "schemes": {"data": str, "model": str} (taggers), "meta": {...}, "state_dict": {name: tensor}}

The frozen pretrained rows (``encoder.extra_words``) are stored packed, as ``encoder.extra_words.packed_PART``
tensors (seqtag.vectors.compact). Version 1 files (still read) kept the word list as a newline-joined string and
those rows as one float16 tensor.

Loading uses ``torch.load(weights_only=True)``: a file carrying a pickled object (a code payload) is
refused before anything in it runs.
"""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from seqtag.errors import InputError
from seqtag.fileio import atomic_write

FORMAT = "seqtag"
VERSION = 2  # 2: packed frozen rows and a compressed word list; 1 is still read


def save_archive(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: an interrupted save never clobbers an existing model file."""
    body = {"format": FORMAT, "version": VERSION, **payload}
    with atomic_write(path) as handle:
        torch.save(body, handle)


def read_plain(path: Path, kind: str = "model") -> Any:
    """``torch.load(weights_only=True)`` of a seqtag ``kind`` file (model or checkpoint), every failure an InputError.

    Only tensors and plain data are rebuilt: a pickled object (a code payload) is refused before it runs.
    """
    if not path.exists():
        raise InputError("no such file", path)
    if path.is_dir():
        raise InputError(f"is a directory, not a {kind} file", path)
    try:
        with warnings.catch_warnings():
            # Random bytes read as a legacy pickle make torch warn about odd "protocols" on stderr.
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch names the offending global ("... was not an allowed global", "Unsupported global");
        # other unpickling failures are just bytes that are not a pickle at all.
        if "global" in str(err).lower():
            raise InputError(
                "refusing to load: the file holds Python objects, not just tensors and plain data "
                f"(a {kind} file made by something other than seqtag, or a malicious one)",
                path,
            ) from None
        raise InputError(f"not a seqtag {kind} file, or a truncated / corrupted one (UnpicklingError)", path) from None
    except Exception as err:  # noqa: BLE001 - any failure to parse a user's file is a damaged file
        # Garbage bytes make the weights-only unpickler fail in arbitrary ways (IndexError, KeyError, ...).
        raise InputError(f"not a seqtag {kind} file, or a truncated / corrupted one ({err.__class__.__name__})", path) from None


def read_versioned(path: Path, kind: str, name: str, file_format: str, version: int) -> dict[str, Any]:
    """:func:`read_plain` of a ``kind`` file (model or checkpoint), checked to be a dict of ``file_format``
    no newer than ``version``; ``name`` is what the file is called in messages."""
    body = read_plain(path, kind)
    if not isinstance(body, dict) or body.get("format") != file_format:
        raise InputError(f"not a seqtag {name}", path)
    found = body.get("version")
    if not isinstance(found, int) or found > version:
        raise InputError(
            f"{kind} format version {found} is newer than this seqtag reads (up to {version}); upgrade seqtag", path
        )
    return body


def load_archive(path: str | Path) -> dict[str, Any]:
    """The model file's body, checked for format, version and the shape of its entries."""
    path = Path(path)
    body = read_versioned(path, "model", "model file", FORMAT, VERSION)
    for key in ("task", "config", "vocab", "state_dict"):
        if key not in body:
            raise InputError(f"model file lacks its {key!r} entry (corrupted?)", path)
    # Shapes the loaders and `seqtag info` rely on; anything else is a damaged or hand-made file.
    for key, kind in (("task", str), ("config", dict), ("vocab", dict), ("state_dict", dict), ("meta", dict), ("schemes", dict)):
        if key in body and not isinstance(body[key], kind):
            raise InputError(f"model file has a malformed {key!r} entry (corrupted?)", path)
    if not all(isinstance(section, dict) for section in body["config"].values()):
        raise InputError("model file has a malformed 'config' entry (corrupted?)", path)
    if not all(isinstance(name, str) and isinstance(t, torch.Tensor) for name, t in body["state_dict"].items()):
        raise InputError("model file has a malformed 'state_dict' entry (corrupted?)", path)
    return body
