"""Selective prediction and per-class/per-source intervals, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tinyxray import breakdown, selective


def test_risk_coverage_by_hand() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, False, True])
    curve = selective.risk_coverage(confidence, correct)
    assert curve["coverage"] == [0.25, 0.5, 0.75, 1.0]
    assert curve["accuracy"] == pytest.approx([1.0, 1.0, 2 / 3, 0.75])
    # AURC = mean selective risk over the four coverages: (0 + 0 + 1/3 + 1/4) / 4.
    assert curve["aurc"] == pytest.approx((1 / 3 + 1 / 4) / 4)
    assert curve["area_under_accuracy_coverage"] == pytest.approx(1 - curve["aurc"])


def test_ties_are_one_point() -> None:
    confidence = np.array([0.5, 0.9, 0.5, 0.9])
    correct = np.array([False, True, True, False])
    curve = selective.risk_coverage(confidence, correct)
    assert curve["thresholds"] == [0.9, 0.5]
    assert curve["coverage"] == [0.5, 1.0]
    assert curve["accuracy"] == [0.5, 0.5]


def test_choose_threshold_answers_as_many_as_the_target_allows() -> None:
    confidence = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3])
    correct = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    chosen = selective.choose_threshold(confidence, correct, target=0.9)
    # Answering the top 9 gives 8/9 = 0.889 < 0.9; the top 8 are all right.
    assert chosen["threshold"] == 0.4 and chosen["answered"] == 8 and chosen["met"]
    assert chosen["coverage"] == pytest.approx(0.8)
    assert chosen["answered_accuracy"]["correct"] == 8
    # 80 % at least: the 9 most confident give 8/9.
    lowered = selective.choose_threshold(confidence, correct, target=0.85)
    assert lowered["threshold"] == 0.35 and lowered["answered"] == 9


def test_choose_threshold_falls_back_when_the_target_is_out_of_reach() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([False, True, True, False])
    chosen = selective.choose_threshold(confidence, correct, target=0.95)
    assert not chosen["met"]
    assert chosen["coverage"] >= selective.FALLBACK_MIN_COVERAGE
    assert chosen["threshold"] == 0.7  # 2/3 at coverage 0.75, better than 1/2 at 0.5
    with pytest.raises(ValueError, match="target"):
        selective.choose_threshold(confidence, correct, target=0.0)


def test_at_threshold_and_at_coverage() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])
    at = selective.at_threshold(confidence, correct, 0.7)
    assert (at["answered"], at["coverage"]) == (3, 0.6)
    assert at["answered_accuracy"]["correct"] == 2
    low, high = at["coverage_ci95"]
    assert low < 0.6 < high
    at_80 = selective.accuracy_at_coverage(confidence, correct, 0.8)
    assert at_80["answered"] == 4 and at_80["answered_accuracy"]["correct"] == 3
    assert "60.0% of frames answered (3/5" in selective.describe(at)


def test_macro_f1_matches_scikit_learn_and_its_interval_holds_it() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    predicted = np.where(rng.random(200) < 0.75, labels, rng.integers(0, 3, 200))
    result = breakdown.macro_f1_with_interval(labels, predicted)
    assert result["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    low, high = result["ci95"]
    assert low < result["macro_f1"] < high and high - low < 0.2
    # Only the classes in the truth count: one class, all right, F1 1.
    assert breakdown.macro_f1_with_interval(np.zeros(5), np.zeros(5))["macro_f1"] == 1.0


def test_figures_per_class_and_source() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    sources = ["a", "a", "a", "b", "b", "b"]
    per_source = breakdown.by_source(labels, predicted, sources, ["Covid", "Normal", "Pneumonia"])
    assert per_source["a"]["correct"] == 2 and per_source["a"]["n"] == 3
    assert per_source["a"]["recall"]["Covid"]["correct"] == 1
    assert "Pneumonia" not in per_source["a"]["recall"]
    assert per_source["b"]["recall"]["Pneumonia"]["n"] == 2


def test_paired_difference() -> None:
    first = np.array([1, 1, 1, 0, 1, 1, 0, 1] * 10, bool)
    second = np.array([1, 0, 1, 0, 0, 1, 0, 1] * 10, bool)
    result = breakdown.paired_difference(first, second)
    assert result["difference"] == pytest.approx(0.25)
    low, high = result["ci95"]
    assert low < 0.25 < high
    same = breakdown.paired_difference(first, first)
    assert same == {"difference": 0.0, "ci95": [0.0, 0.0], "n": 80}
