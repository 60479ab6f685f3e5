"""Classification and calibration metrics for the evaluation and bench reports.

The standard figures come from the field's libraries: per-class precision/recall/F1, the
confusion matrix and the log-loss from scikit-learn, the Wilson interval from scipy's
`binomtest(...).proportion_ci(method="wilson")`. What no library does is kept here: the
"uncertain" column of the confusion matrix, and the reliability bins and ECE with our bin
convention. tests/test_metrics.py checks every figure against hand arithmetic.

Conventions: `labels` are integer class indices, `probs` is an (N, C) array of class
probabilities. A prediction is "uncertain" when its top probability is below the threshold;
the confusion matrix then counts it in an extra last column instead of its predicted class.
Accuracy and per-class figures use the top-1 prediction regardless of the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The floor under a true-class probability in the log-loss: an int8 output of exactly 0
# would otherwise count as -log(machine epsilon) = 36 nats, a figure set by the float type.
NLL_FLOOR = 1e-12


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) when empty."""
    if total <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= total:
        raise ValueError(f"successes {successes} not in [0, {total}]")
    from scipy.stats import binomtest

    interval = binomtest(int(successes), int(total)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return (max(0.0, float(interval.low)), min(1.0, float(interval.high)))


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"labels {labels.shape} and probs {probs.shape} do not match")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError("labels out of range")
    return labels, probs


def confusion_with_uncertain(
    labels: np.ndarray, probs: np.ndarray, threshold: float = 0.6
) -> np.ndarray:
    """(C, C+1) counts: rows true class, columns predicted class, last column uncertain."""
    from sklearn.metrics import confusion_matrix

    labels, probs = _check(labels, probs)
    classes = probs.shape[1]
    matrix = np.zeros((classes, classes + 1), dtype=np.int64)
    unsure = probs.max(axis=1) < threshold
    sure = ~unsure
    if sure.any():
        matrix[:, :classes] = confusion_matrix(
            labels[sure], probs[sure].argmax(axis=1), labels=np.arange(classes)
        )
    matrix[:, classes] = np.bincount(labels[unsure], minlength=classes)
    return matrix


def per_class_prf(labels: np.ndarray, predicted: np.ndarray, classes: int) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class (0 where undefined)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if len(labels) == 0:
        zeros = np.zeros(classes)
        return {"precision": zeros, "recall": zeros, "f1": zeros, "support": zeros.astype(int)}
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=np.arange(classes), zero_division=0.0
    )
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def reliability_bins(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Equal-width confidence bins (lo, hi]; the first bin also holds confidence 0."""
    labels, probs = _check(labels, probs)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    accuracy = np.zeros(bins)
    mean_confidence = np.zeros(bins)
    for b in range(bins):
        if counts[b]:
            accuracy[b] = correct[index == b].mean()
            mean_confidence[b] = confidence[index == b].mean()
    return {
        "edges": np.linspace(0.0, 1.0, bins + 1),
        "counts": counts,
        "accuracy": accuracy,
        "confidence": mean_confidence,
    }


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """ECE: sum over bins of (n_b / N) * |accuracy_b - confidence_b|."""
    data = reliability_bins(labels, probs, bins)
    total = data["counts"].sum()
    if total == 0:
        return 0.0
    gaps = np.abs(data["accuracy"] - data["confidence"])
    return float(np.sum(data["counts"] / total * gaps))


def negative_log_likelihood(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean -log p(true class) (scikit-learn's log_loss), with p floored at NLL_FLOOR.

    Each row is renormalised first: the dequantised outputs of an int8 model sum to 1 only
    within a few 1/256 steps, and a log-loss scores a distribution.
    """
    from sklearn.metrics import log_loss

    labels, probs = _check(labels, probs)
    if len(labels) == 0:
        return 0.0
    floored = np.clip(probs, NLL_FLOOR, 1.0)
    return float(
        log_loss(
            labels,
            floored / floored.sum(axis=1, keepdims=True),
            labels=np.arange(probs.shape[1]),
        )
    )


def brier_score(labels: np.ndarray, probs: np.ndarray) -> float:
    """Multi-class Brier: mean over samples of sum over classes of (p - onehot)^2."""
    labels, probs = _check(labels, probs)
    if len(labels) == 0:
        return 0.0
    onehot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def accuracy_with_interval(correct: np.ndarray) -> dict[str, Any]:
    """n, correct, accuracy and its 95% Wilson interval, from one boolean per image."""
    hits, total = int(np.sum(correct)), len(correct)
    return {
        "n": total,
        "correct": hits,
        "accuracy": hits / total if total else 0.0,
        "accuracy_ci95": list(wilson_interval(hits, total)),
    }


def accuracy_text(result: dict[str, Any]) -> str:
    """'75.7% (131/173, 95% CI 68.8%–81.5%)' for an `accuracy_with_interval` result."""
    low, high = result["accuracy_ci95"]
    return (
        f"{100 * result['accuracy']:.1f}% ({result['correct']}/{result['n']}, "
        f"95% CI {100 * low:.1f}%–{100 * high:.1f}%)"
    )


def classification_report(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    threshold: float = 0.6,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Everything the evaluation report shows for one (model, dataset) pair, JSON-ready."""
    labels, probs = _check(labels, probs)
    classes = len(class_names)
    if probs.shape[1] != classes:
        raise ValueError(f"{probs.shape[1]} probability columns for {classes} class names")
    predicted = probs.argmax(axis=1)
    total = len(labels)
    prf = per_class_prf(labels, predicted, classes)
    present = prf["support"] > 0
    report: dict[str, Any] = {
        **accuracy_with_interval(predicted == labels),
        "macro_f1": float(prf["f1"][present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {
                "precision": float(prf["precision"][i]),
                "recall": float(prf["recall"][i]),
                "f1": float(prf["f1"][i]),
                "support": int(prf["support"][i]),
            }
            for i, name in enumerate(class_names)
        },
        "uncertain_threshold": threshold,
        "confusion": {
            "rows_true": list(class_names),
            "columns_predicted": [*class_names, "uncertain"],
            "matrix": confusion_with_uncertain(labels, probs, threshold).tolist(),
        },
        "uncertain_fraction": float(np.mean(probs.max(axis=1) < threshold)) if total else 0.0,
        "calibration": {
            "ece_10": expected_calibration_error(labels, probs, 10),
            "nll": negative_log_likelihood(labels, probs),
            "brier": brier_score(labels, probs),
            "reliability": {
                key: np.asarray(value).tolist()
                for key, value in reliability_bins(labels, probs, 10).items()
            },
        },
    }
    if sources is not None:
        per_source = {}
        source_array = np.asarray(sources)
        for source in sorted(set(sources)):
            mask = source_array == source
            per_source[source] = {
                **accuracy_with_interval(predicted[mask] == labels[mask]),
                "per_class_recall": {
                    name: float(np.mean(predicted[mask & (labels == i)] == i))
                    for i, name in enumerate(class_names)
                    if np.any(mask & (labels == i))
                },
            }
        report["per_source"] = per_source
    return report


def agreement(predicted_a: np.ndarray, predicted_b: np.ndarray) -> dict[str, Any]:
    """Top-1 agreement between two models' predictions, with a Wilson interval."""
    predicted_a = np.asarray(predicted_a)
    predicted_b = np.asarray(predicted_b)
    same = int(np.sum(predicted_a == predicted_b))
    total = len(predicted_a)
    return {
        "n": total,
        "agree": same,
        "agreement": same / total if total else 0.0,
        "ci95": list(wilson_interval(same, total)),
    }
