"""Requantisation constants and the compile-time proofs behind the fast form.

TFLM requantises an int32 accumulator with a double rounding:

    h   = SaturatingRoundingDoublingHighMul(acc << left, multiplier)   # ties toward +inf
    out = RoundingDivideByPOT(h, right) + output_zero_point             # ties away from 0

The Cortex-M4 kernels (firmware/lib/kernels/tx_arm_dsp.h) compute the same integers in
four instructions when the compiler has proven, for every channel of a layer, that

    t   = smmlar(2 * acc, multiplier, rounding)     # = h + rounding exactly
    out = ssat8((t - (acc < 0)) >> right)           # rounding = 2^(right-1) + zp * 2^right

cannot overflow (the kernels derive `rounding` from the shift and the layer's zero point):
right >= 1 (no left shift), |acc| < 2^30 (so 2 * acc is an int32 and
smmlar's rounding of 2 * acc * multiplier / 2^32 is TFLM's rounding of
acc * multiplier / 2^31), and h + rounding - 1 .. h + rounding stays inside int32 over the
proven accumulator range. Subtracting one for a negative acc instead of a negative h is
exact: the two differ only when h == 0, where both roundings give zero_point.

`fast_requantize` and `tflm_requantize` below are the two formulas written plainly (numpy,
int64); tests/test_aot_requant.py checks them against each other and the proofs against
them, and firmware/test/test_kernels checks the C kernels on the Cortex-M4.
"""

from __future__ import annotations

import dataclasses

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
# |acc| must stay below this for 2 * acc to be an int32.
ACC_LIMIT = 1 << 30
# Largest |input value| a kernel multiplies (int8; a padding tap reads the zero point).
INPUT_MAGNITUDE = 128


@dataclasses.dataclass(frozen=True)
class ChannelPlan:
    """Per-channel records and the proof's verdict."""

    records: np.ndarray  # (channels, 3 or 4) int64
    fast: bool
    reason: str  # why the fast form is not proven ("" when it is)


def accumulator_bound(bias: np.ndarray, weights_abs_sum: np.ndarray) -> np.ndarray:
    """|acc| <= |bias| + 128 * sum|w| for int8 inputs (the bias already holds the offset)."""
    return np.abs(np.asarray(bias, np.int64)) + INPUT_MAGNITUDE * np.asarray(
        weights_abs_sum, np.int64
    )


def rounding_constant(right_shift: int, output_zero_point: int) -> int:
    """2^(right-1) + zero_point * 2^right: rounding and zero point before the shift."""
    return (1 << (right_shift - 1)) + output_zero_point * (1 << right_shift)


def fast_form_fits(bound: int, multiplier: int, right_shift: int, output_zero_point: int) -> str:
    """ "" when the fast form is exact for every |acc| <= bound, else the reason it is not."""
    if right_shift < 1:
        return f"shift {-right_shift} >= 0 (a left shift)"
    if bound >= ACC_LIMIT:
        return f"|acc| may reach {bound} >= 2^30"
    rounding = rounding_constant(right_shift, output_zero_point)
    high = (2 * bound * multiplier + (1 << 31)) >> 32
    low = (-2 * bound * multiplier + (1 << 31)) >> 32
    if rounding + high > INT32_MAX or rounding + low - 1 < INT32_MIN:
        return f"rounding constant {rounding} + product overflows int32"
    return ""


def channel_plan(
    bias: np.ndarray,
    multipliers: list[int],
    shifts: list[int],
    output_zero_point: int,
    bound: np.ndarray,
    with_rounding: bool = False,
) -> ChannelPlan:
    """Records for a layer's channels, and whether the fast form is proven for all of them.

    Records are (bias, multiplier, right_shift), plus the rounding constant with
    `with_rounding` (tx_conv_quant; 0 where the fast form is not proven). A multiplier
    flushed to zero (TFLM's QuantizeMultiplier below 2^-31) gives zero_point whatever the
    shift; it is stored with right_shift 1 so the fast form applies too.
    """
    records = []
    reasons = []
    for channel, (multiplier, shift) in enumerate(zip(multipliers, shifts, strict=True)):
        right_shift = 1 if multiplier == 0 else -int(shift)
        reason = fast_form_fits(
            int(bound[channel]), int(multiplier), right_shift, output_zero_point
        )
        if reason:
            reasons.append(f"channel {channel}: {reason}")
        record = [int(bias[channel]), int(multiplier), right_shift]
        if with_rounding:
            record.append(0 if reason else rounding_constant(right_shift, output_zero_point))
        records.append(record)
    fast = not reasons
    width = 4 if with_rounding else 3
    return ChannelPlan(
        np.asarray(records, np.int64).reshape(-1, width), fast, reasons[0] if reasons else ""
    )


# --- The two formulas, written plainly (int64 numpy; used by the proofs' tests). ---


def _wrap32(values: np.ndarray) -> np.ndarray:
    return ((np.asarray(values, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def tflm_multiply_by_quantized_multiplier(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's MultiplyByQuantizedMultiplier (int32 result), as written there.

    SaturatingRoundingDoublingHighMul: a 64-bit product, a nudge of 2^30 (1 - 2^30 when
    negative), a division by 2^31 truncating toward zero, INT32_MIN * INT32_MIN saturated.
    RoundingDivideByPOT: remainder against threshold (mask >> 1) + (x < 0).
    """
    left = max(shift, 0)
    right = max(-shift, 0)
    shifted = _wrap32(np.asarray(x, np.int64) * (1 << left))
    product = shifted * int(multiplier)
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    quotient = np.where(total >= 0, total // (1 << 31), -((-total) // (1 << 31)))
    saturated = (shifted == INT32_MIN) & (int(multiplier) == INT32_MIN)
    high = np.where(saturated, INT32_MAX, quotient)
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (remainder > threshold)


def tflm_requantize(
    acc: np.ndarray, multiplier: int, shift: int, output_zero_point: int = 0
) -> np.ndarray:
    """TFLM's requantisation of an accumulator: rescale, add the zero point, clamp to int8."""
    scaled = tflm_multiply_by_quantized_multiplier(acc, multiplier, shift)
    return np.clip(scaled + output_zero_point, -128, 127)


def fast_requantize(
    acc: np.ndarray, multiplier: int, rounding: int, right_shift: int
) -> np.ndarray:
    """The Cortex-M4 instruction sequence, register by register (int32 wrap-around)."""
    doubled = _wrap32(np.asarray(acc, np.int64) * 2)  # lsl #1
    # smmlar: the top word of rounding * 2^32 + doubled * multiplier + 2^31.
    t = _wrap32(int(rounding) + ((doubled * int(multiplier) + (1 << 31)) >> 32))
    t = _wrap32(t + (doubled >> 31))  # add t, t, doubled, asr #31
    return np.clip(t >> right_shift, -128, 127)  # ssat #8 of asr


# --- ADD and MEAN ---

ADD_LEFT_SHIFT = 20


def add_fast_fields(params: dict[str, int]) -> dict[str, int]:
    """The fast ADD constants for TFLM's int8 ADD parameters (input2 the larger scale).

    Returns {"fast": 0} when the fast form does not apply. Each input's rescaled value is a
    function of its 256 possible int8 values, so the proof is exhaustive: the fast kernel's
    arithmetic (`fast_add`) is compared with TFLM's (`tflm_add`) on all 65,536 input pairs.
    """
    exact2 = params["input2_multiplier"] == 1 << 30 and params["input2_shift"] == 0
    exact1 = params["input1_multiplier"] == 1 << 30 and params["input1_shift"] == 0
    output_right = -params["output_shift"]
    if params["left_shift"] != ADD_LEFT_SHIFT or not exact2 or output_right < 1:
        return {"fast": 0}
    if not exact1 and params["input1_shift"] >= 0:
        return {"fast": 0}
    fields = {
        "fast": 2 if exact1 else 1,
        "fast_input1_offset": params["input1_offset"] << 21,
        "fast_input1_rounding": 0 if exact1 else 1 << (-params["input1_shift"] - 1),
        "fast_input2_offset": params["input2_offset"] << 19,
        "fast_output_rounding": rounding_constant(output_right, params["output_offset"]),
    }
    candidates = [fields]
    if not exact1:
        # Input2's offset term folded into input1's rounding constant, ahead of the shift
        # (one addition less per element), when that cannot overflow.
        folded = fields["fast_input1_rounding"] + (
            fields["fast_input2_offset"] << -params["input1_shift"]
        )
        candidates.insert(0, {**fields, "fast_input1_rounding": folded, "fast_input2_offset": 0})
    x1, x2 = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    expected = tflm_add(params, x1, x2)
    for candidate in candidates:
        if INT32_MIN <= candidate["fast_input1_rounding"] <= INT32_MAX and np.array_equal(
            fast_add({**params, **candidate}, x1, x2), expected
        ):
            return candidate
    return {"fast": 0}


def tflm_add(params: dict[str, int], x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """TFLM's reference int8 ADD, element by element."""
    left = params["left_shift"]
    shifted1 = (np.asarray(x1, np.int64) + params["input1_offset"]) * (1 << left)
    shifted2 = (np.asarray(x2, np.int64) + params["input2_offset"]) * (1 << left)
    scaled1 = tflm_multiply_by_quantized_multiplier(
        shifted1, params["input1_multiplier"], params["input1_shift"]
    )
    scaled2 = tflm_multiply_by_quantized_multiplier(
        shifted2, params["input2_multiplier"], params["input2_shift"]
    )
    raw = tflm_multiply_by_quantized_multiplier(
        _wrap32(scaled1 + scaled2), params["output_multiplier"], params["output_shift"]
    )
    return np.clip(raw + params["output_offset"], params["act_min"], params["act_max"])


def fast_add(params: dict[str, int], x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """The fast ADD kernel's arithmetic (tx_add_dsp.c), register by register."""
    x1 = np.asarray(x1, np.int64)
    x2 = np.asarray(x2, np.int64)
    if params["fast"] == 2:
        scaled1 = _wrap32((x1 + params["input1_offset"]) * (1 << 19))
    else:
        a1 = _wrap32(params["fast_input1_offset"] + x1 * (1 << 21))
        t1 = _wrap32(
            params["fast_input1_rounding"] + ((a1 * params["input1_multiplier"] + (1 << 31)) >> 32)
        )
        scaled1 = _wrap32(t1 + (a1 >> 31)) >> -params["input1_shift"]
    total = _wrap32(scaled1 + x2 * (1 << 19) + params["fast_input2_offset"])
    doubled = _wrap32(total * 2)
    t = _wrap32(
        params["fast_output_rounding"] + ((doubled * params["output_multiplier"] + (1 << 31)) >> 32)
    )
    out = np.clip(_wrap32(t + (doubled >> 31)) >> -params["output_shift"], -128, 127)
    return np.clip(out, params["act_min"], params["act_max"])


def mean_fast_rounding(
    count: int, input_zero_point: int, multiplier: int, shift: int, output_zero_point: int
) -> int | None:
    """MEAN's fast rounding constant, or None when the fast form is not proven.

    The accumulator is sum(x) - count * input_zero_point with int8 x.
    """
    bound = count * max(abs(-128 - input_zero_point), abs(127 - input_zero_point))
    if fast_form_fits(bound, multiplier, -shift, output_zero_point):
        return None
    return rounding_constant(-shift, output_zero_point)
