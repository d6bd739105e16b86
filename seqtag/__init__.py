"""seqtag: neural sequence labelling and text classification from the command line or Python.

The package import is deliberately light (no torch) so the CLI starts fast; heavy modules load on use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]


def load_model(path: str | Path) -> Any:
    """Load a ``.seqtag`` file as a :class:`seqtag.tagger.Tagger` (or classifier, by the file's task)."""
    from seqtag.archive import load_archive
    from seqtag.errors import InputError

    body = load_archive(path)
    if body["task"] == "tag":
        from seqtag.tagger import Tagger

        return Tagger.from_archive(body, path)
    if body["task"] == "classify":
        from seqtag.classifier import Classifier

        return Classifier.from_archive(body, path)
    raise InputError(f"unknown model task {body['task']!r}", path)
