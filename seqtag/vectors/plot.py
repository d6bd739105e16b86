"""A labelled 2-D t-SNE map (scikit-learn) of chosen words, drawn with matplotlib's Agg canvas into a PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.fileio import atomic_write
from seqtag.vectors.store import find_key, keyed

MIN_WORDS = 5  # t-SNE needs perplexity < number of points; fewer words make no useful map anyway
# Up to this many words, exact t-SNE: labelled maps are rarely larger, and at these sizes it is as fast as
# the Barnes-Hut approximation (which pays off only for thousands of points).
EXACT_MAX = 300


def read_word_list(path: str | Path) -> list[str]:
    """One word per line; blank lines and ``#`` comments skipped, duplicates dropped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError("not valid utf-8 text", path) from None
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror}", path) from None
    words = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not words:
        raise InputError("no words found", path)
    return list(dict.fromkeys(words))


def tsne_plot(
    vectors: Any,
    output: str | Path,
    words: list[str] | None = None,
    top: int = 200,
    perplexity: float = 30.0,
    seed: int = 1,
    title: str | None = None,
    cache: bool = True,
) -> dict:
    """Project ``words`` (or the ``top`` first, i.e. most frequent, words) to 2-D with t-SNE on cosine
    distances and write a labelled scatter plot to ``output`` (PNG, atomically).

    Words without a vector (after the tagger lookup chain) are left out and listed in the result:
    ``{"output", "words": [[word, x, y], …], "missing": […], "perplexity"}``.
    """
    output = Path(output)
    if output.is_dir() or not output.parent.is_dir():
        raise InputError("cannot write the plot here (a directory, or no such directory)", output)
    kv, source = keyed(vectors, cache)
    missing: list[str] = []
    if words is None:
        keys = list(kv.index_to_key[:top])
        labels = keys
    else:
        found = [(word, find_key(kv, word)) for word in words]
        missing = [word for word, key in found if key is None]
        labels = [word for word, key in found if key is not None]
        keys = [key for _, key in found if key is not None]
    if len(keys) < MIN_WORDS:
        raise InputError(f"need at least {MIN_WORDS} words with vectors for a map, got {len(keys)}", source)
    # The usual guidance (and the original implementation's limit) is perplexity <= (n - 1) / 3.
    perplexity = min(perplexity, (len(keys) - 1) / 3)
    from sklearn.manifold import TSNE

    matrix = kv[keys]
    points = TSNE(
        n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed,
        method="exact" if len(keys) <= EXACT_MAX else "barnes_hut",
    ).fit_transform(matrix)
    _draw(points, labels, output, title or f"t-SNE of {len(keys)} words from {Path(source or 'vectors').name}")
    return {
        "output": str(output),
        "words": [[label, round(float(x), 4), round(float(y), 4)] for label, (x, y) in zip(labels, points)],
        "missing": missing,
        "perplexity": perplexity,
    }


def _draw(points: Any, labels: list[str], output: Path, title: str) -> None:
    # Figure + the Agg canvas directly, not pyplot: no global state and no GUI backend is ever touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    side = min(8 + len(labels) / 25, 24)  # inches: room for the labels of larger maps
    figure = Figure(figsize=(side, side), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(points[:, 0], points[:, 1], s=8, color="tab:blue")
    for label, (x, y) in zip(labels, points):
        axes.annotate(label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    with atomic_write(output) as handle:
        figure.savefig(handle, format="png")
