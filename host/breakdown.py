"""Per-class and per-source figures with 95% intervals (cross-validation and evaluation).

- accuracy and per-class recall: Wilson score intervals (`metrics.wilson_interval`);
- macro-F1 (over the classes present in the truth): a percentile bootstrap over images
  (`scipy.stats.bootstrap`, paired, 2000 resamples, fixed seed);
- a paired difference of accuracy on the same images (e.g. leave-one-source-out against
  in-source cross-validation): the same bootstrap of the difference.

Research tool, not a diagnostic device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinyxray import metrics

RESAMPLES = 2000
SEED = 0


def _macro_f1(labels: np.ndarray, predicted: np.ndarray, classes: Sequence[int], axis: int = -1):
    """Macro-F1 over `classes` along `axis` (vectorised for the bootstrap)."""
    scores = []
    for cls in classes:
        true_positive = np.sum((labels == cls) & (predicted == cls), axis=axis)
        predicted_positive = np.sum(predicted == cls, axis=axis)
        actual = np.sum(labels == cls, axis=axis)
        denominator = predicted_positive + actual
        scores.append(np.where(denominator > 0, 2 * true_positive / np.maximum(denominator, 1), 0))
    return np.mean(scores, axis=0)


def _paired_bootstrap_ci(data: tuple[np.ndarray, ...], statistic) -> list[float]:
    """The 95% percentile-bootstrap interval of `statistic` over images (paired, seeded)."""
    from scipy import stats

    result = stats.bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(SEED),
    )
    interval = result.confidence_interval
    return [float(interval.low), float(interval.high)]


def macro_f1_with_interval(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Macro-F1 over the classes in `labels`, with a 95% percentile-bootstrap interval."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    classes = sorted(set(labels.tolist()))
    if not classes:
        return {"macro_f1": 0.0, "ci95": [0.0, 1.0], "classes": 0}
    value = float(_macro_f1(labels, predicted, classes))
    if len(labels) < 2 or len(set(zip(labels.tolist(), predicted.tolist(), strict=True))) < 2:
        return {"macro_f1": value, "ci95": [value, value], "classes": len(classes)}
    interval = _paired_bootstrap_ci(
        (labels, predicted), lambda a, b, axis=-1: _macro_f1(a, b, classes, axis)
    )
    return {"macro_f1": value, "ci95": interval, "classes": len(classes)}


def figures(labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, recall per class (Wilson) and macro-F1 (bootstrap) of one set of images."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    recall = {}
    for cls, name in enumerate(class_names):
        mine = labels == cls
        if np.any(mine):
            recall[name] = metrics.accuracy_with_interval(predicted[mine] == cls)
    return {
        **metrics.accuracy_with_interval(predicted == labels),
        "recall": recall,
        "macro_f1": macro_f1_with_interval(labels, predicted),
    }


def by_source(
    labels: np.ndarray,
    predicted: np.ndarray,
    sources: Sequence[str],
    class_names: Sequence[str],
) -> dict[str, dict]:
    """`figures` for every source separately."""
    source_array = np.asarray(list(sources), dtype=object)
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return {
        source: figures(
            labels[source_array == source], predicted[source_array == source], class_names
        )
        for source in sorted(set(source_array.tolist()))
    }


def paired_difference(first: np.ndarray, second: np.ndarray) -> dict[str, Any]:
    """mean(first) - mean(second) of two correctness arrays on the same images, with a CI."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    if first.shape != second.shape:
        raise ValueError("a paired difference needs the same images in both")
    value = float(first.mean() - second.mean()) if len(first) else 0.0
    if len(first) < 2 or np.all(first - second == (first - second)[0]):
        return {"difference": value, "ci95": [value, value], "n": len(first)}
    interval = _paired_bootstrap_ci(
        (first, second), lambda a, b, axis=-1: np.mean(a, axis=axis) - np.mean(b, axis=axis)
    )
    return {"difference": value, "ci95": interval, "n": len(first)}


def recall_text(figure: dict) -> str:
    """'Covid 83.3% (20/24, 64.1–93.3)' for one class's recall."""
    low, high = figure["accuracy_ci95"]
    return (
        f"{100 * figure['accuracy']:.1f}% ({figure['correct']}/{figure['n']}, "
        f"{100 * low:.1f}–{100 * high:.1f})"
    )


def macro_f1_text(result: dict) -> str:
    low, high = result["ci95"]
    return f"{result['macro_f1']:.3f} ({low:.3f}–{high:.3f})"
