"""The tasks: everything that differs between tagging and classification lives in one module per task
(reading labelled data, labels, targets, scoring, prediction records, the ``info`` description), on a
subclass of :class:`~seqtag.tasks.base.Model`. ``TASKS`` registers them by name."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtag.errors import InputError

# name -> "module:Class", imported on use so that `import seqtag` stays light (no torch).
TASKS = {
    "tag": "seqtag.tasks.tagging:Tagger",
    "classify": "seqtag.tasks.classification:Classifier",
    "multilabel": "seqtag.tasks.multilabel:MultiLabel",
}


def task_class(name: str, where: Any = None) -> Any:
    """The Model subclass for the task called ``name``."""
    import importlib

    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; the tasks are {', '.join(TASKS)}", where)
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def load(path: str | Path) -> Any:
    """Load a ``.seqtag`` file as the task's model class (a Tagger or a Classifier)."""
    from seqtag.archive import load_archive

    body = load_archive(path)
    return task_class(body["task"], path).from_archive(body, path)


load_model = load  # the 0.1 name
