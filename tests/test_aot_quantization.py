"""Compile-time quantisation maths of the AOT compiler (TFLite's derivations)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinyxray.aot import quantization


@pytest.mark.parametrize(
    ("real", "expected"),
    [
        (0.0, (0, 0)),
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.75, (3 << 29, 0)),
        (1.0 - 2.0**-40, (1 << 30, 1)),  # rounds up to 2^31: halved, shift + 1
        (2.0**-40, (0, 0)),  # shift below -31: flushed to zero as TFLite does
        (3.0, (3 << 29, 2)),
    ],
)
def test_quantize_multiplier_known_values(real: float, expected: tuple[int, int]) -> None:
    assert quantization.quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_the_real_value() -> None:
    rng = np.random.default_rng(0)
    for real in rng.uniform(1e-6, 10.0, size=200):
        multiplier, shift = quantization.quantize_multiplier(float(real))
        assert (1 << 30) <= multiplier < (1 << 31)
        assert math.isclose(multiplier * 2.0 ** (shift - 31), real, rel_tol=2**-30)


def test_round_half_away_from_zero() -> None:
    assert [quantization.round_half_away(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4)] == [
        1,
        2,
        3,
        -1,
        -3,
        2,
    ]


def test_activation_ranges() -> None:
    assert quantization.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert quantization.activation_range("RELU", 0.1, -5) == (-5, 127)
    # 6 / 0.05 = 120 -> zero point -100 + 120 = 20.
    assert quantization.activation_range("RELU6", 0.05, -100) == (-100, 20)
    assert quantization.activation_range("RELU6", 0.01, -128) == (-128, 127)


def test_mean_multiplier_folds_the_count() -> None:
    multiplier, shift = quantization.mean_multiplier(0.5, 0.5, 9)
    # 1/9 ~= multiplier * 2^(shift - 31).
    assert math.isclose(multiplier * 2.0 ** (shift - 31), 1 / 9, rel_tol=1e-8)


def test_softmax_parameters_and_too_small_scale() -> None:
    multiplier, left_shift, diff_min = quantization.softmax_parameters(1.0, 0.1)
    assert left_shift >= 0 and (1 << 30) <= multiplier < (1 << 31)
    assert diff_min == -math.floor(31 * 2.0**26 / 2.0**left_shift)
    with pytest.raises(ValueError):
        quantization.softmax_parameters(1.0, 1e-12)
