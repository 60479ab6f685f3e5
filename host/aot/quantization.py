"""Compile-time quantisation maths, matching TFLite/TFLM's derivations bit for bit.

Scales are float32 in the flatbuffer; TFLM widens them to double before dividing, and
rounds with round-half-away-from-zero (std::round), which is what these helpers do.
"""

from __future__ import annotations

import math

import numpy as np


def round_half_away(value: float) -> int:
    """std::round: nearest integer, ties away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real ~= multiplier * 2^(shift - 31), multiplier in Q0.31."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    fixed = round_half_away(fraction * (1 << 31))
    if fixed > (1 << 31):
        raise ValueError(f"multiplier {real_multiplier!r} did not normalise")
    if fixed == (1 << 31):
        fixed //= 2
        shift += 1
    if shift < -31:
        shift, fixed = 0, 0
    return int(fixed), int(shift)


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    if not 0.0 < real_multiplier < 1.0:
        raise ValueError(f"multiplier {real_multiplier!r} is not in (0, 1)")
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift > 0:
        raise ValueError(f"multiplier {real_multiplier!r} gave a positive shift")
    return multiplier, shift


def quantize_multiplier_greater_than_one(real_multiplier: float) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift < 0:
        raise ValueError(f"multiplier {real_multiplier!r} is below one")
    return multiplier, shift


def per_channel_multipliers(
    input_scale: float, filter_scales: np.ndarray, output_scale: float
) -> tuple[list[int], list[int]]:
    """Conv/FC output rescaling per channel: input * filter / output, in double."""
    multipliers, shifts = [], []
    for filter_scale in np.asarray(filter_scales, dtype=np.float32):
        real = float(input_scale) * float(filter_scale) / float(output_scale)
        multiplier, shift = quantize_multiplier(real)
        multipliers.append(multiplier)
        shifts.append(shift)
    return multipliers, shifts


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (float32 division, std::round)."""

    def quantize(value: float) -> int:
        return int(zero_point) + round_half_away(float(np.float32(value) / np.float32(scale)))

    if activation == "NONE":
        return -128, 127
    if activation == "RELU":
        return max(-128, quantize(0.0)), 127
    if activation == "RELU6":
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(-128, quantize(-1.0)), min(127, quantize(1.0))
    raise ValueError(f"activation {activation}")


def softmax_parameters(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius for int8 (5 integer bits)."""
    integer_bits = 5
    real = min(
        float(beta) * float(input_scale) * float(1 << (31 - integer_bits)), float((1 << 31) - 1)
    )
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    max_input_rescaled = (
        1.0 * ((1 << integer_bits) - 1) * float(1 << (31 - integer_bits)) / float(1 << left_shift)
    )
    diff_min = -math.floor(max_input_rescaled)
    return multiplier, left_shift, int(diff_min)


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """TFLM's quantised MEAN: input/output scale, with the division by `count` folded in.

    The multiplier is widened by 2^k (k = floor(log2(count)), at most 32 and at most
    31 + shift), divided by count with truncation, and the shift lowered by k.
    """
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    if count <= 0:
        raise ValueError("MEAN over an empty axis")
    widen = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << widen) // count, shift - widen
