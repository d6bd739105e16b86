"""seqtag: neural sequence labelling and text classification from the command line or from Python.

>>> import seqtag
>>> tagger = seqtag.load("ner.seqtag")          # doctest: +SKIP
>>> doc = tagger("John Smith lives in Berlin.")  # doctest: +SKIP
>>> [(span.text, span.label) for span in doc.spans]  # doctest: +SKIP
[('John Smith', 'PER'), ('Berlin', 'LOC')]

The package import is light (no torch) so the command line starts fast; everything loads on first use.
"""
from __future__ import annotations

from typing import Any

from seqtag._version import __version__

__all__ = [
    "__version__", "load", "load_model", "train", "evaluate", "ensemble",
    "Tagger", "Classifier", "Doc", "Span", "Classification", "TrainResult", "Evaluation",
]

# public name -> module that defines it; imported when first asked for (PEP 562).
_LAZY = {
    "load": "seqtag.tasks",
    "load_model": "seqtag.tasks",
    "train": "seqtag.training.train",
    "TrainResult": "seqtag.training.train",
    "evaluate": "seqtag.evaluation.evaluate",
    "ensemble": "seqtag.tools.ensemble",
    "Evaluation": "seqtag.evaluation.evaluate",
    "Tagger": "seqtag.tasks.tagging",
    "Classifier": "seqtag.tasks.classification",
    "Doc": "seqtag.data.records",
    "Span": "seqtag.data.records",
    "Classification": "seqtag.data.records",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'seqtag' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
