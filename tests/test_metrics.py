"""Metrics against values computed by hand (see the comments for the arithmetic)."""

import math

import numpy as np
import pytest

from tinyxray import metrics

# Four predictions over three classes, used by several tests:
#   confidences 0.9 (correct), 0.85 (wrong), 0.65 (correct), 0.5 (wrong).
PROBS = np.array(
    [
        [0.90, 0.05, 0.05],
        [0.85, 0.10, 0.05],
        [0.30, 0.65, 0.05],
        [0.50, 0.40, 0.10],
    ]
)
LABELS = np.array([0, 1, 1, 2])


def test_wilson_interval_eight_of_ten():
    # p = 0.8, z = 1.96: centre = (0.8 + z²/20) / (1 + z²/10) = 0.71674,
    # half = z * sqrt(0.016 + z²/400) / (1 + z²/10) = 0.22658.
    low, high = metrics.wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-4)
    assert high == pytest.approx(0.94332, abs=1e-4)


def test_wilson_interval_edges():
    low, high = metrics.wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.27753, abs=1e-4)  # z²/(n + z²) = 3.8415/13.8415
    low, high = metrics.wilson_interval(10, 10)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(1 - 0.27753, abs=1e-4)
    assert metrics.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        metrics.wilson_interval(11, 10)


def test_confusion_with_uncertain_column():
    matrix = metrics.confusion_with_uncertain(LABELS, PROBS, threshold=0.6)
    expected = np.array(
        [
            [1, 0, 0, 0],  # Covid predicted Covid at 0.9
            [1, 1, 0, 0],  # Normal: once predicted Covid (0.85), once Normal (0.65)
            [0, 0, 0, 1],  # Pneumonia: top probability 0.5 < 0.6 -> uncertain
        ]
    )
    np.testing.assert_array_equal(matrix, expected)
    # With a threshold above 0.65 the correct Normal also becomes uncertain.
    assert metrics.confusion_with_uncertain(LABELS, PROBS, threshold=0.7)[1].tolist() == [
        1,
        0,
        0,
        1,
    ]


def test_expected_calibration_error_by_hand():
    # Bin (0.8, 0.9]: 2 samples, accuracy 0.5, confidence 0.875 -> 2/4 * 0.375 = 0.1875
    # Bin (0.6, 0.7]: 1 sample, accuracy 1, confidence 0.65   -> 1/4 * 0.35  = 0.0875
    # Bin (0.4, 0.5]: 1 sample, accuracy 0, confidence 0.5    -> 1/4 * 0.5   = 0.125
    assert metrics.expected_calibration_error(LABELS, PROBS) == pytest.approx(0.4)
    bins = metrics.reliability_bins(LABELS, PROBS)
    assert bins["counts"].tolist() == [0, 0, 0, 0, 1, 0, 1, 0, 2, 0]


def test_nll_and_brier_by_hand():
    expected_nll = -(math.log(0.9) + math.log(0.1) + math.log(0.65) + math.log(0.1)) / 4
    assert metrics.negative_log_likelihood(LABELS, PROBS) == pytest.approx(expected_nll)
    # Per sample: 0.015, 1.535, 0.215, 1.22 -> mean 0.74625.
    assert metrics.brier_score(LABELS, PROBS) == pytest.approx(0.74625)


def test_per_class_and_macro_f1_by_hand():
    report = metrics.classification_report(
        LABELS, PROBS, ["Covid", "Normal", "Pneumonia"], 0.6, ["a", "a", "b", "b"]
    )
    assert report["accuracy"] == 0.5
    covid = report["per_class"]["Covid"]
    assert covid["precision"] == pytest.approx(1 / 3)
    assert covid["recall"] == 1.0
    assert covid["f1"] == pytest.approx(0.5)
    assert report["per_class"]["Normal"]["f1"] == pytest.approx(2 / 3)
    assert report["per_class"]["Pneumonia"]["f1"] == 0.0
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert report["per_source"]["a"]["accuracy"] == 0.5
    assert report["per_source"]["b"]["accuracy"] == 0.5
    assert report["uncertain_fraction"] == 0.25


def test_agreement():
    result = metrics.agreement(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]))
    assert result["agree"] == 3
    assert result["agreement"] == 0.75


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError):
        metrics.confusion_with_uncertain(np.array([0, 1]), PROBS)
    with pytest.raises(ValueError):
        metrics.confusion_with_uncertain(np.array([0, 1, 5, 0]), PROBS)
