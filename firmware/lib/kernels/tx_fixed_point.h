/* Integer fixed-point primitives with the rounding semantics of TFLite/TFLM
 * reference kernels (gemmlowp-style). Reimplemented from their documented
 * behaviour; every kernel in this library builds on these. */
#ifndef TINYXRAY_KERNELS_TX_FIXED_POINT_H_
#define TINYXRAY_KERNELS_TX_FIXED_POINT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Inlining hint for the per-output helpers (a call per output costs more than
 * the arithmetic). Only a hint: the code is portable without it. */
#if defined(__GNUC__)
#define TX_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TX_ALWAYS_INLINE inline
#endif

/* round((a * b) / 2^31), ties rounded up (-1.5 -> -1, 1.5 -> 2); saturates the single
 * overflow case (INT32_MIN * INT32_MIN). firmware/test/test_kernels checks these
 * primitives against their documented definitions, so a faster form for a
 * target can be checked the same way. */
static TX_ALWAYS_INLINE int32_t tx_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  const int64_t product = (int64_t)a * (int64_t)b;
  const int64_t nudge = product >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30));
  /* C division truncates toward zero, as the reference does. */
  return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static TX_ALWAYS_INLINE int32_t tx_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* Shift left with wrap-around (the reference multiplies by 1 << shift). */
static TX_ALWAYS_INLINE int32_t tx_shift_left(int32_t x, int shift) {
  return (int32_t)((uint32_t)x << shift);
}

/* x * multiplier * 2^shift with the reference's double rounding: a rounding
 * doubling high multiply, then a rounding right shift for negative shifts. */
static TX_ALWAYS_INLINE int32_t tx_multiply_by_quantized_multiplier(int32_t x,
                                                                    int32_t multiplier,
                                                                    int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return tx_rounding_divide_by_pot(
      tx_saturating_rounding_doubling_high_mul(tx_shift_left(x, left_shift), multiplier),
      right_shift);
}

/* Saturating x * 2^exponent for exponent >= 0 (gemmlowp's
 * SaturatingRoundingMultiplyByPOT with a positive exponent). */
static TX_ALWAYS_INLINE int32_t tx_saturating_shift_left(int32_t x, int exponent) {
  if (exponent == 0) {
    return x;
  }
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) {
    return INT32_MAX;
  }
  if (x < -threshold) {
    return INT32_MIN;
  }
  return tx_shift_left(x, exponent);
}

static TX_ALWAYS_INLINE int32_t tx_clamp(int32_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* One output of a convolution as TFLM computes it: the accumulator rescaled
 * with the channel's multiplier and shift (stored negated, see
 * tx_channel_quant in tx_kernels.h), plus the output zero point, clamped to
 * the activation range. */
static TX_ALWAYS_INLINE int8_t tx_requantize_exact(int32_t acc, int32_t multiplier,
                                                   int32_t right_shift, int32_t output_offset,
                                                   int32_t act_min, int32_t act_max) {
  acc = tx_multiply_by_quantized_multiplier(acc, multiplier, (int)-right_shift);
  return (int8_t)tx_clamp(acc + output_offset, act_min, act_max);
}

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_FIXED_POINT_H_ */
