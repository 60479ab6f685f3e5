"""Selective prediction: answer only when confident, and measure what that buys.

A frame is answered when its top (calibrated) probability is at least the uncertain
threshold, and reported "uncertain" otherwise (the device's uncertain flag). Three things:

- the risk-coverage curve (Geifman and El-Yaniv 2017): for every threshold, the fraction of
  frames answered (coverage) and the accuracy on them; its area (AURC, the mean risk
  = 1 - accuracy over coverages; lower is better) summarises how well confidence ranks
  right above wrong answers. Ties (int8 outputs come in steps of 1/256) are one point.
- `choose_threshold`: the threshold that answers as many frames as possible while keeping
  accuracy on the answered ones at or above a stated target, chosen on validation data
  (`tinyxray.train`), never on the test split; the model card and the device carry it.
- `at_threshold`: coverage and answered accuracy of a fixed threshold on new data, with
  Wilson intervals (evaluation reports, the bench).

Research tool, not a diagnostic device: "answered" frames are still only a model's guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinyxray import metrics

DEFAULT_TARGET = 0.90
# When no threshold reaches the target on validation, the fallback keeps at least this
# coverage and takes the most accurate threshold there (the card says the target was missed).
FALLBACK_MIN_COVERAGE = 0.5


def _sorted_points(confidence: np.ndarray, correct: np.ndarray):
    """Unique thresholds (descending) with cumulative answered and correct counts."""
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, bool)
    if confidence.shape != correct.shape or confidence.ndim != 1:
        raise ValueError("confidence and correct must be 1-D arrays of the same length")
    order = np.argsort(-confidence, kind="stable")
    ranked, hits = confidence[order], correct[order]
    cumulative = np.cumsum(hits)
    # The last frame of each run of equal confidence ends a point.
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    return ranked[ends], ends + 1, cumulative[ends]


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """The curve (thresholds, coverage, answered accuracy) and its areas."""
    total = len(confidence)
    if total == 0:
        return {"n": 0, "thresholds": [], "coverage": [], "accuracy": [], "aurc": 0.0}
    thresholds, answered, right = _sorted_points(confidence, correct)
    coverage = answered / total
    accuracy = right / answered
    widths = np.diff(np.concatenate([[0.0], coverage]))
    aurc = float(np.sum(widths * (1.0 - accuracy)))
    return {
        "n": total,
        "thresholds": thresholds.tolist(),
        "coverage": coverage.tolist(),
        "accuracy": accuracy.tolist(),
        "aurc": aurc,
        "area_under_accuracy_coverage": 1.0 - aurc,
    }


def at_threshold(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, Any]:
    """Coverage and answered accuracy at a fixed threshold, with 95% Wilson intervals."""
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, bool)
    answered = confidence >= threshold
    total, count = len(confidence), int(answered.sum())
    return {
        "threshold": float(threshold),
        "n": total,
        "answered": count,
        "coverage": count / total if total else 0.0,
        "coverage_ci95": list(metrics.wilson_interval(count, total)),
        "answered_accuracy": metrics.accuracy_with_interval(correct[answered]),
    }


def accuracy_at_coverage(
    confidence: np.ndarray, correct: np.ndarray, coverage: float
) -> dict[str, Any]:
    """Answered accuracy of the most confident `coverage` fraction (at least), with a CI."""
    curve = risk_coverage(confidence, correct)
    if not curve["n"]:
        return {"coverage": 0.0, "threshold": None, "answered_accuracy": None}
    position = int(np.searchsorted(np.array(curve["coverage"]), coverage - 1e-12))
    position = min(position, len(curve["coverage"]) - 1)
    return at_threshold(confidence, correct, curve["thresholds"][position])


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float = DEFAULT_TARGET
) -> dict[str, Any]:
    """The lowest threshold whose answered accuracy is >= target (the largest coverage).

    Returns the threshold with what it achieves on these (validation) frames and whether
    the target was met. Without a threshold meeting it, the most accurate threshold that
    still answers FALLBACK_MIN_COVERAGE of the frames is returned, with met = False.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"the target accuracy must be in (0, 1], got {target}")
    curve = risk_coverage(confidence, correct)
    if not curve["n"]:
        raise ValueError("choosing a threshold needs at least one frame")
    coverage, accuracy = np.array(curve["coverage"]), np.array(curve["accuracy"])
    meeting = np.flatnonzero(accuracy >= target)
    if len(meeting):
        position, met = int(meeting[-1]), True
    else:
        allowed = np.flatnonzero(coverage >= FALLBACK_MIN_COVERAGE)
        position, met = int(allowed[np.argmax(accuracy[allowed])]), False
    result = at_threshold(confidence, correct, curve["thresholds"][position])
    result.update({"target": target, "met": met, "aurc": curve["aurc"]})
    return result


def describe(result: dict[str, Any]) -> str:
    """'threshold 0.62: 83.1% answered (...), 91.2% of them right (...)' for reports."""
    low, high = result["coverage_ci95"]
    answered = result["answered_accuracy"]
    return (
        f"threshold {result['threshold']:.3f}: {100 * result['coverage']:.1f}% of frames "
        f"answered ({result['answered']}/{result['n']}, 95% CI {100 * low:.1f}%–"
        f"{100 * high:.1f}%), {metrics.accuracy_text(answered)} of them right"
    )
