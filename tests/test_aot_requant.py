"""The compile-time proofs behind the Cortex-M4 kernels' fast requantisation (host/aot/requant.py).

`requant.fast_requantize` emulates the kernels' instruction sequence register by register
(int32 wrap-around included) and `requant.tflm_requantize` is TFLM's arithmetic written
plainly. Where the compiler proves the fast form (`fast_form_fits`), the two must agree on
every accumulator in the proven range, edges and rounding ties included; where it refuses,
there must be inputs on which they disagree (the refusals are needed). The same sequence on
the device is checked by firmware/test/test_kernels on qemu_m4.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyxray.aot import quantization, requant

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
MULTIPLIER_EDGES = [0, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX]


def _accumulators(rng: np.random.Generator, bound: int, count: int) -> np.ndarray:
    """Random accumulators in [-bound, bound] with the edges and small values (ties)."""
    edges = [0, 1, -1, 2, -2, 3, -3, bound, -bound, bound - 1, -bound + 1]
    random = rng.integers(-bound, bound + 1, size=count)
    small = rng.integers(-300, 301, size=count // 4)
    return np.concatenate([np.asarray(edges), random, small]).astype(np.int64)


def test_tflm_requantize_known_values() -> None:
    # 1000 * 0.5 / 8 = 62.5 -> 63 (ties away from zero); -62.5 -> -63.
    assert int(requant.tflm_requantize(1000, 1 << 30, -3)) == 63
    assert int(requant.tflm_requantize(-1000, 1 << 30, -3)) == -63
    # SaturatingRoundingDoublingHighMul rounds ties up: -3 * 0.5 = -1.5 -> -1.
    assert int(requant.tflm_multiply_by_quantized_multiplier(-3, 1 << 30, 0)) == -1
    assert int(requant.tflm_multiply_by_quantized_multiplier(3, 1 << 30, 0)) == 2
    # The one saturating product and a left shift that wraps, as TFLM computes them.
    assert int(requant.tflm_multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0)) == (
        INT32_MAX
    )
    assert int(requant.tflm_multiply_by_quantized_multiplier(1 << 30, 1 << 30, 2)) == 0
    # Zero point and clamp.
    assert int(requant.tflm_requantize(10**9, 1 << 30, -1, 5)) == 127


@pytest.mark.parametrize("right_shift", range(1, 32))
def test_fast_form_equals_tflm_wherever_it_is_proven(right_shift: int) -> None:
    rng = np.random.default_rng(right_shift)
    checked = 0
    for trial in range(40):
        if trial < len(MULTIPLIER_EDGES):
            multiplier = MULTIPLIER_EDGES[trial]
        else:
            multiplier = int(rng.integers(1 << 30, 1 << 31))
        # Large shifts leave room in int32 only for small zero points.
        room = max(1, min(128, 1 << max(0, 30 - right_shift)))
        zero_point = int(rng.choice([-128, 127, 0, -1, int(rng.integers(-room, room))]))
        bound = int(rng.choice([(1 << 30) - 1, int(rng.integers(1, 1 << 30)), 5000]))
        if requant.fast_form_fits(bound, multiplier, right_shift, zero_point):
            continue
        rounding = requant.rounding_constant(right_shift, zero_point)
        acc = _accumulators(rng, bound, 2000)
        fast = requant.fast_requantize(acc, multiplier, rounding, right_shift)
        expected = requant.tflm_requantize(acc, multiplier, -right_shift, zero_point)
        mismatch = np.flatnonzero(fast != expected)
        assert mismatch.size == 0, (
            f"acc {acc[mismatch[0]]} multiplier {multiplier} shift {-right_shift}"
            f" zp {zero_point}: fast {fast[mismatch[0]]} tflm {expected[mismatch[0]]}"
        )
        checked += 1
    assert checked >= 10


def test_fast_form_is_exact_on_every_tie_of_both_roundings() -> None:
    # With multiplier 2^30 every odd accumulator is a tie of the doubling high multiply;
    # right shift 1 then makes every other value a tie of the division.
    acc = np.arange(-(1 << 16), 1 << 16)
    for zero_point in (-128, -1, 0, 1, 127):
        for right_shift in (1, 2, 5):
            rounding = requant.rounding_constant(right_shift, zero_point)
            assert np.array_equal(
                requant.fast_requantize(acc, 1 << 30, rounding, right_shift),
                requant.tflm_requantize(acc, 1 << 30, -right_shift, zero_point),
            )


def _disagreement(multiplier: int, right_shift: int, zero_point: int, acc: np.ndarray) -> bool:
    rounding = requant.rounding_constant(right_shift, zero_point)
    fast = requant.fast_requantize(acc, multiplier, rounding, right_shift)
    return bool(np.any(fast != requant.tflm_requantize(acc, multiplier, -right_shift, zero_point)))


def test_each_refusal_guards_a_real_failure() -> None:
    # |acc| reaching 2^30: 2 * acc wraps.
    assert requant.fast_form_fits(1 << 30, INT32_MAX, 2, 0)
    assert _disagreement(INT32_MAX, 2, 0, np.array([1 << 30]))
    # The rounding constant plus the product overflowing int32 (big zero point, big shift).
    assert requant.fast_form_fits((1 << 30) - 1, INT32_MAX, 24, 127)
    assert _disagreement(INT32_MAX, 24, 127, np.arange((1 << 30) - 4096, 1 << 30))
    # A left shift (TFLM shift >= 0): no rounding division, so the -1 correction is wrong.
    assert requant.fast_form_fits(100, 1 << 30, 0, 0)
    rounding = 0
    fast = requant.fast_requantize(np.array([-7]), 1 << 30, rounding, 0)
    assert int(fast[0]) != int(requant.tflm_requantize(-7, 1 << 30, 0))


def test_channel_plan_records_and_zero_multipliers() -> None:
    bias = np.array([100, -200, 300])
    plan = requant.channel_plan(bias, [1 << 30, 0, 1 << 30], [-3, -40, -5], 7, np.full(3, 5000))
    assert plan.fast and plan.reason == ""
    assert plan.records.tolist() == [
        [100, 1 << 30, 3],
        # A flushed multiplier gives the zero point: stored with right shift 1.
        [-200, 0, 1],
        [300, 1 << 30, 5],
    ]
    assert int(requant.fast_requantize(-4999, 0, requant.rounding_constant(1, 7), 1)) == 7
    assert int(requant.tflm_requantize(-4999, 0, -40, 7)) == 7
    refused = requant.channel_plan(bias, [1 << 30] * 3, [-3, 1, -5], 7, np.full(3, 5000))
    assert not refused.fast and "channel 1" in refused.reason
    assert refused.records[1][2] == -1  # the left shift, stored negated for the exact form


def test_accumulator_bound_covers_int8_extremes() -> None:
    rng = np.random.default_rng(3)
    weights = rng.integers(-127, 128, size=(8, 27))
    bias = rng.integers(-50000, 50000, size=8)
    bound = requant.accumulator_bound(bias, np.abs(weights).sum(axis=1))
    for channel in range(8):
        w = weights[channel]
        # The extremes: every product at its largest magnitude, either sign.
        for x in (np.where(w >= 0, 127, -128), np.where(w >= 0, -128, 127)):
            assert abs(int(bias[channel] + w @ x)) <= bound[channel]


def _add_params(rng: np.random.Generator) -> dict[str, int]:
    """TFLM's ADD parameters for random scales, derived as the lowering does."""
    scale1, scale2 = (float(np.float32(v)) for v in rng.uniform(0.005, 0.2, size=2))
    if rng.random() < 0.2:
        scale2 = scale1  # the same scale: both rescalings are shifts
    scale1, scale2 = sorted((scale1, scale2))
    out_scale = float(np.float32(rng.uniform(0.005, 0.4)))
    twice_max = 2.0 * max(scale1, scale2)
    m1, s1 = quantization.quantize_multiplier_smaller_than_one(scale1 / twice_max)
    m2, s2 = quantization.quantize_multiplier_smaller_than_one(scale2 / twice_max)
    mo, so = quantization.quantize_multiplier_smaller_than_one(twice_max / ((1 << 20) * out_scale))
    zero_point = int(rng.integers(-128, 128))
    return {
        "left_shift": 20,
        "input1_offset": int(rng.integers(-127, 129)),
        "input1_multiplier": m1,
        "input1_shift": s1,
        "input2_offset": int(rng.integers(-127, 129)),
        "input2_multiplier": m2,
        "input2_shift": s2,
        "output_offset": zero_point,
        "output_multiplier": mo,
        "output_shift": so,
        "act_min": int(rng.choice([-128, zero_point])),
        "act_max": 127,
    }


def test_add_fast_form_is_exhaustively_exact() -> None:
    rng = np.random.default_rng(11)
    x1, x2 = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    modes = []
    for _ in range(30):
        params = _add_params(rng)
        fields = requant.add_fast_fields(params)
        modes.append((fields["fast"], fields.get("fast_input2_offset", 0) == 0))
        if fields["fast"]:
            fast = requant.fast_add({**params, **fields}, x1, x2)
            assert np.array_equal(fast, requant.tflm_add(params, x1, x2))
    assert (1, True) in modes  # input2's offset folded into input1's rounding
    assert any(mode == 2 for mode, _ in modes)  # equal scales


def test_add_fast_form_refused_without_the_larger_scale_second() -> None:
    params = _add_params(np.random.default_rng(5))
    swapped = {
        **params,
        "input1_multiplier": params["input2_multiplier"],
        "input1_shift": params["input2_shift"],
        "input2_multiplier": params["input1_multiplier"],
        "input2_shift": params["input1_shift"],
    }
    if swapped["input2_multiplier"] != 1 << 30:
        assert requant.add_fast_fields(swapped) == {"fast": 0}


def test_mean_fast_rounding() -> None:
    multiplier, shift = quantization.mean_multiplier(0.02, 0.02, 9)
    rounding = requant.mean_fast_rounding(9, -128, multiplier, shift, -128)
    assert rounding == requant.rounding_constant(-shift, -128)
    sums = np.arange(-128 * 9, 128 * 9) + 128 * 9
    assert np.array_equal(
        requant.fast_requantize(sums, multiplier, rounding, -shift),
        requant.tflm_requantize(sums, multiplier, shift, -128),
    )
    assert requant.mean_fast_rounding(9, 0, multiplier, 3, 0) is None  # a left shift
