"""A plain-dict description of a loaded model archive (for `seqtag info`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtag.config import declared_settings
from seqtag.tasks import task_class
from seqtag.tasks.base import word_list
from seqtag.vectors.compact import stored_values


def describe(body: dict[str, Any], path: Path) -> dict[str, Any]:
    model = body["config"].get("model", {})
    meta = body.get("meta", {})
    vocab = body["vocab"]
    parameters = stored_values(body["state_dict"])
    direction = "bi" if model.get("bidirectional") else "uni"
    activation = model.get("activation", "tanh")  # files older than the window / IRNN options lack these
    if model.get("encoder", "rnn") == "window":
        context = (
            f"window MLP (±{model.get('window')} words, {model.get('layers')} hidden layer(s) of "
            f"{model.get('hidden')} {activation} units)"
        )
    else:
        extra = ""
        if model.get("cell") == "rnn":
            extra = f", {activation}" + (", identity init" if model.get("identity_init") else "")
        context = (
            f"{model.get('layers')}-layer {direction}directional {str(model.get('cell')).upper()} "
            f"({model.get('hidden')} units per direction{extra})"
        )
    output = task_class(body["task"], path).describe_architecture(model)  # e.g. "head crf", "pooling max"
    architecture = f"{context}, char encoder {model.get('char_encoder')}, {output}"
    members = body.get("members", 1)
    if members > 1:
        architecture = f"ensemble of {members} (mean scores): {architecture}"
    summary: dict[str, Any] = {
        "file": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "task": body["task"],
        "architecture": architecture,
        "parameters": parameters,
        "labels": vocab.get("labels"),
        "vocab_words": len(word_list(vocab["words"])) if vocab.get("words") is not None else 0,
        "vocab_chars": len(vocab.get("chars") or []),
        "word_dim": model.get("word_dim"),
        "embeddings": meta.get("embeddings"),
        "embedding_coverage": meta.get("embedding_coverage"),
        "train_data": meta.get("train_data"),
        "dev_data": meta.get("dev_data"),
        **({"members": [{"seed": m.get("seed"), "best_epoch": m.get("best_epoch"),
                         "dev_score": (m.get("dev_scores") or {}).get("score")} for m in meta["members"]]}
           if isinstance(meta.get("members"), list) else {"best_epoch": meta.get("best_epoch")}),
        "dev_scores": meta.get("dev_scores"),
        "seqtag_version": body.get("seqtag_version"),
        "format_version": body.get("version"),
    }
    if "schemes" in body:
        summary["tag_scheme"] = f"{body['schemes']['data']} (trained in {body['schemes']['model']})"
    summary["settings"] = settings_of(body["config"])
    return summary


SECTION_ORDER = ("model", "train", "data")


def settings_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every declared setting of a model file, in the order of `seqtag train --help`: its name (as the option
    and TOML key spell it), section, value, default and help text. A file older than a setting gets its default,
    as loading it does."""
    rows = []
    for section in SECTION_ORDER:
        saved = config.get(section)
        saved = saved if isinstance(saved, dict) else {}
        for declared in declared_settings(section):
            value = saved.get(declared.name, declared.default)
            rows.append({
                "name": declared.key, "section": section, "value": value, "default": declared.default,
                "help": declared.about.help,
            })
    return rows
