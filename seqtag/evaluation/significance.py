"""Is system B really better than system A on the same data? Paired bootstrap and approximate randomisation.

Both tests resample or shuffle *items* (sentences, or texts for classifiers) and rescore. Every metric here is
a function of counts summed over items (true positives, predictions and gold entities for F1, correct and
total for accuracy), so each system is given as an ``(items, …)`` array of per-item counts
(:func:`seqtag.evaluation.metrics.sentence_counts`, :func:`seqtag.evaluation.metrics.example_counts`) and a resample is one
weighted sum: a matrix product instead of a call to seqeval per sample.

References: Koehn (2004), "Statistical significance tests for machine translation evaluation" (paired
bootstrap); Noreen (1989) and Riezler & Maxwell (2005) (approximate randomisation).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# Rows of weights held at once (rows x items numbers): bounds memory on large test sets.
_BLOCK_ENTRIES = 4_000_000


def f1(totals: np.ndarray) -> np.ndarray:
    """Micro F1 from summed counts ``(…, 3)``: true positives, predicted, gold -> ``(…)``; 0 when nothing
    was predicted or expected (seqeval's ``zero_division=0``)."""
    tp, predicted, gold = np.moveaxis(totals, -1, 0)
    denominator = predicted + gold
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=np.float64), where=denominator > 0)


def accuracy(totals: np.ndarray) -> np.ndarray:
    """Accuracy from summed counts ``(…, 2)``: correct, total -> ``(…)``."""
    correct, total = np.moveaxis(totals, -1, 0)
    return np.divide(correct, total, out=np.zeros(np.shape(correct), dtype=np.float64), where=total > 0)


def macro_f1(totals: np.ndarray) -> np.ndarray:
    """Unweighted mean of per-class F1 from summed counts ``(…, classes, 3)`` -> ``(…)`` (scikit-learn's
    macro average with ``zero_division=0``)."""
    return f1(totals).mean(axis=-1)


METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"f1": f1, "accuracy": accuracy, "macro_f1": macro_f1}


def _blocks(samples: int, items: int) -> Iterator[int]:
    """Sizes of sample blocks whose weight matrices stay small."""
    size = max(1, _BLOCK_ENTRIES // max(items, 1))
    for start in range(0, samples, size):
        yield min(size, samples - start)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``metric(B) - metric(A)`` on ``samples`` resamples of the items (with replacement, the same items for
    both systems), shape ``(samples,)``. ``a`` and ``b``: per-item counts, shape ``(items, …)``."""
    items = len(a)
    flat_a, flat_b = a.reshape(items, -1), b.reshape(items, -1)
    deltas = []
    for size in _blocks(samples, items):
        # How often each item is drawn, per sample. shape: (size, items)
        weights = rng.multinomial(items, np.full(items, 1.0 / items), size=size)
        # shape: (size, …) each
        totals_a = (weights @ flat_a).reshape(size, *a.shape[1:])
        totals_b = (weights @ flat_b).reshape(size, *b.shape[1:])
        deltas.append(metric(totals_b) - metric(totals_a))
    return np.concatenate(deltas)


def approximate_randomization(
    a: np.ndarray, b: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``metric(B') - metric(A')`` where each item's outputs are swapped between the systems with probability
    1/2 (the null hypothesis: the systems are exchangeable), shape ``(samples,)``."""
    items = len(a)
    flat_a, flat_b = a.reshape(items, -1), b.reshape(items, -1)
    difference = flat_a - flat_b
    deltas = []
    for size in _blocks(samples, items):
        # shape: (size, items): 1 where the item's outputs are swapped
        swaps = rng.integers(0, 2, size=(size, items))
        moved = swaps @ difference  # shape: (size, …): what swapping takes from A and gives to B
        totals_a = (flat_a.sum(axis=0) - moved).reshape(size, *a.shape[1:])
        totals_b = (flat_b.sum(axis=0) + moved).reshape(size, *b.shape[1:])
        deltas.append(metric(totals_b) - metric(totals_a))
    return np.concatenate(deltas)


def compare(a: np.ndarray, b: np.ndarray, metric: str, samples: int = 1000, seed: int = 1) -> dict[str, float | list[float]]:
    """Both systems' scores, the difference ``B - A``, its 95% paired-bootstrap interval (percentiles) and
    two-sided p-values for "no difference": from the bootstrap (its distribution shifted to mean zero)
    and from approximate randomisation, each ``(1 + extreme samples) / (1 + samples)`` so never 0."""
    if a.shape != b.shape:
        raise ValueError(f"expected count arrays of one shape, got {a.shape} and {b.shape}")
    if samples < 1:
        raise ValueError(f"expected samples >= 1, got {samples}")
    score = METRICS[metric]
    score_a, score_b = float(score(a.sum(axis=0))), float(score(b.sum(axis=0)))
    observed = score_b - score_a
    rng = np.random.default_rng(seed)
    boot = paired_bootstrap(a, b, score, samples, rng)
    shuffled = approximate_randomization(a, b, score, samples, rng)
    # A small tolerance so differences equal to the observed one up to float rounding count as extreme.
    tolerance = 1e-12
    low, high = np.percentile(boot, [2.5, 97.5])
    return {
        "a": score_a,
        "b": score_b,
        "difference": observed,
        "ci95": [float(low), float(high)],
        "p_bootstrap": float((1 + np.sum(np.abs(boot - observed) >= abs(observed) - tolerance)) / (1 + samples)),
        "p_randomization": float((1 + np.sum(np.abs(shuffled) >= abs(observed) - tolerance)) / (1 + samples)),
    }
