"""PNG pictures: confusion matrices and training curves.

matplotlib is imported on first use only (with the non-interactive Agg backend), so no other command
pays for it, and a machine without a display can draw.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.fileio import atomic_write


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_output(path: Path) -> None:
    """Refuse, before any work is done, an output that is not a ``.png`` in an existing folder."""
    if path.suffix.lower() != ".png":
        raise InputError("the picture is written as PNG: give a file name ending in .png", path)
    if not path.parent.is_dir():
        raise InputError("no such folder for the picture", path.parent)


def _save(figure: Any, path: Path) -> None:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())


def confusion_png(labels: list[str], matrix: list[list[int]], path: Path, title: str) -> None:
    """A confusion matrix (rows gold, columns predicted) as a heat map of each gold row's shares, with the
    counts written in the cells (up to 30 labels)."""
    import numpy as np

    check_output(path)
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=np.int64).reshape(len(labels), len(labels))
    # Row shares: a rare label's mistakes stay visible next to a frequent one's.
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    side = min(max(3.5, 0.5 * len(labels) + 1.5), 16.0)
    figure, axes = plt.subplots(figsize=(side + 1.2, side))
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    if len(labels) <= 30:
        for (row, column), count in np.ndenumerate(counts):
            colour = "white" if shares[row, column] > 0.6 else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the gold row")
    figure.tight_layout()
    _save(figure, path)


def pr_curve_png(points: list[dict[str, float]], path: Path, title: str, marks: dict[str, tuple[float, float]]) -> None:
    """Precision against recall over thresholds (``points``, highest threshold first), a few thresholds
    written along the curve, and ``marks``: named (recall, precision) points such as the best-path scores."""
    check_output(path)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.0, 5.0))
    recall = [point["recall"] for point in points]
    precision = [point["precision"] for point in points]
    axes.plot(recall, precision, color="tab:blue", linewidth=1.5, label="threshold on the probability")
    shown = set()
    for point in points:
        for level in (0.9, 0.5, 0.1, 0.01):
            if level not in shown and point["threshold"] <= level:
                shown.add(level)
                axes.plot(point["recall"], point["precision"], "o", color="tab:blue", markersize=4)
                axes.annotate(f"P ≥ {point['threshold']:.2g}", (point["recall"], point["precision"]), fontsize=8,
                              textcoords="offset points", xytext=(4, 4))
    for (name, (r, p)), colour in zip(marks.items(), ("tab:red", "tab:green", "tab:orange")):
        axes.plot(r, p, "s", color=colour, markersize=6, label=name)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0.0, 1.02)
    axes.set_ylim(0.0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    _save(figure, path)


def history_png(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training curves per epoch: mean training loss, dev scores in percent (when there was dev data) and
    the learning rate; a dashed line marks the best epoch, the one the model file keeps."""
    check_output(path)
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [entry["epoch"] for entry in history]
    # Dev metrics, without "score" (it repeats f1 or accuracy, whichever selected the model).
    names = [name for name in history[0].get("dev", {}) if name != "score"]
    panels = 3 if names else 2
    figure, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.0))
    loss_axes, lr_axes = axes[0], axes[-1]
    loss_axes.plot(epochs, [entry["loss"] for entry in history], marker="o", markersize=3)
    loss_axes.set_title("training loss", fontsize=10)
    if names:
        for name in names:
            scores = [100 * entry["dev"].get(name, float("nan")) for entry in history]
            axes[1].plot(epochs, scores, marker="o", markersize=3, label=name)
        axes[1].set_title("dev scores (%)", fontsize=10)
        axes[1].legend(fontsize=8)
    lr_axes.plot(epochs, [entry["lr"] for entry in history], drawstyle="steps-mid")
    lr_axes.set_yscale("log")  # decay halves the rate: equal steps on a log scale
    lr_axes.set_title("learning rate", fontsize=10)
    best = [entry["epoch"] for entry in history if entry.get("best")]
    for panel in axes:
        panel.set_xlabel("epoch")
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        if best:
            panel.axvline(best[-1], color="grey", linestyle="--", linewidth=1)
    seconds = sum(entry.get("seconds", 0.0) for entry in history)
    kept = f", best epoch {best[-1]}" if best else ""
    figure.suptitle(f"{title}: {len(epochs)} epochs, {seconds:.0f} s of training{kept}", fontsize=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a one-epoch run makes matplotlib warn about singular x limits
        figure.tight_layout()
    _save(figure, path)


def read_history(path: Path) -> tuple[list[dict[str, Any]], Path]:
    """The per-epoch history of a training run, with the file it came from: a model file's ``meta.history``,
    or the epochs of a checkpoint directory's ``checkpoint.pt`` (``seqtag train --checkpoint-dir``), which
    a run still going or interrupted keeps up to date. Read as plain data, never as code."""
    if path.is_dir():
        from seqtag.training.checkpoint import FILE_NAME, read_checkpoint

        source = path / FILE_NAME
        if not source.is_file():
            seeds = sorted(found.parent for found in path.glob(f"seed-*/{FILE_NAME}"))
            hint = f"; it holds one per seed: give one of them, such as {seeds[0]}" if seeds else ""
            raise InputError(f"no {FILE_NAME} in this directory{hint}", path)
        history = read_checkpoint(source)["state"]["history"].get("epochs")
    else:
        from seqtag.archive import load_archive

        source = path
        history = load_archive(path).get("meta", {}).get("history")
    if not _is_history(history):
        raise InputError("holds no training history (no epoch finished?)", source)
    return history, source


def _is_history(history: Any) -> bool:
    return (
        isinstance(history, list)
        and bool(history)
        and all(isinstance(entry, dict) and {"epoch", "loss", "lr"} <= entry.keys() for entry in history)
    )
