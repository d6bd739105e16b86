"""Several models of one training (other seeds) as one model that predicts with their mean scores: what
``seqtag train --seeds N --ensemble`` saves, and ``seqtag ensemble`` makes of separately trained files."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from seqtag.errors import InputError


def combine(models: Sequence[Any], dev: Path | None = None) -> tuple[Any, dict[str, float] | None]:
    """The models as one ensemble (:meth:`seqtag.tasks.base.Model.ensemble`) and its dev scores (None without
    ``dev``). Its file records each member's seed, best epoch and dev scores; a multi-label ensemble tunes its
    thresholds on ``dev``."""
    first = models[0]
    meta = {key: value for key, value in first.meta.items() if key not in ("best_epoch", "stopped", "history", "dev_scores")}
    meta["members"] = [{"seed": model.train_config.seed, "best_epoch": model.meta.get("best_epoch"),
                        "stopped": model.meta.get("stopped"), "dev_scores": model.meta.get("dev_scores", {})}
                       for model in models]
    model = type(first).ensemble(models, meta)
    if dev is None:
        return model, None
    with torch.inference_mode():
        records, gold = model.dev_data(dev, model.data_config, model.labels)  # as training reads its dev file
        predicted = model.dev_predict(model.inputs(records))  # once: tuning does not change what dev_predict says
        if model.tunes_on_dev:
            model.tune_on_dev(gold, predicted)
        scores = model.dev_scores(gold, predicted)
    model.meta["dev_scores"] = scores
    return model, scores


def ensemble(models: Sequence[str | Path | Any], dev: str | Path | None = None, output: str | Path | None = None,
             force: bool = False) -> Any:
    """One model from two or more model files (or loaded models) of one training with other seeds, as
    ``seqtag ensemble`` makes it: scored on ``dev`` when given (``model.meta["dev_scores"]``), saved to
    ``output`` when given (an existing file is replaced only with ``force``)."""
    from seqtag.formats.registry import check_data_path
    from seqtag.tasks import load
    from seqtag.training.train import check_output

    if len(models) < 2:
        raise InputError(f"give 2 or more models to average, got {len(models)}")
    if output is not None:
        check_output(Path(output), force)
    if dev is not None:
        check_data_path(dev, "--dev")
    loaded = [load(m) if isinstance(m, (str, Path)) else m for m in models]
    names = [str(m) if isinstance(m, (str, Path)) else f"model {i}" for i, m in enumerate(models, 1)]
    try:
        model, _ = combine(loaded, Path(dev) if dev is not None else None)
    except ValueError as error:
        # Model.ensemble's "model i …" (is an ensemble, of another task, has other settings than model 1): name the files
        message = re.sub(r"\bmodel (\d+)\b", lambda found: names[int(found.group(1)) - 1], str(error))
        raise InputError(message) from None
    if output is not None:
        model.save(output)
    return model
