/* Armv7E-M DSP instructions for the tx_*_dsp.c kernels, as small inline
 * functions over inline assembly (as CMSIS's cmsis_gcc.h writes them).
 * arm_acle.h is not used: GCC 7, which PlatformIO installs for the Nano 33
 * BLE, has no SIMD32 intrinsics in it. Only included where
 * tx_dsp_kernels.h sets TX_DSP_KERNELS.
 *
 * Also the two requantisations of the DSP kernels: the fast form the compiler
 * proves per layer (see tx_channel_quant in tx_kernels.h and
 * host/aot/requant.py), and an exact form for any input, both checked against
 * TFLM's arithmetic by firmware/test/test_kernels. */
#ifndef TINYXRAY_KERNELS_TX_ARM_DSP_H_
#define TINYXRAY_KERNELS_TX_ARM_DSP_H_

#include <stdint.h>
#include <string.h>

#include "tx_fixed_point.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Four bytes from any address (the M4 loads unaligned words in one LDR). */
static TX_ALWAYS_INLINE uint32_t tx_load32(const void* address) {
  uint32_t word;
  memcpy(&word, address, sizeof(word));
  return word;
}

/* Bytes 0 and 2 of x, sign-extended to two int16 halves. */
static TX_ALWAYS_INLINE int32_t tx_sxtb16(uint32_t x) {
  int32_t result;
  __asm__("sxtb16 %0, %1" : "=r"(result) : "r"(x));
  return result;
}

/* Bytes 1 and 3 of x, sign-extended to two int16 halves. */
static TX_ALWAYS_INLINE int32_t tx_sxtb16_ror8(uint32_t x) {
  int32_t result;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
  return result;
}

/* acc + a.lo * b.lo + a.hi * b.hi (int16 halves). */
static TX_ALWAYS_INLINE int32_t tx_smlad(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smlad %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

/* One int16 product added to acc: smlabb a.lo * b.lo, smlabt a.lo * b.hi,
 * smlatb a.hi * b.lo, smlatt a.hi * b.hi. */
static TX_ALWAYS_INLINE int32_t tx_smlabb(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smlabb %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

static TX_ALWAYS_INLINE int32_t tx_smlabt(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smlabt %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

static TX_ALWAYS_INLINE int32_t tx_smlatb(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smlatb %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

static TX_ALWAYS_INLINE int32_t tx_smlatt(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smlatt %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

/* acc + bytes 0 and 2 (or, ror8, 1 and 3) of x sign-extended, per int16 half. */
static TX_ALWAYS_INLINE int32_t tx_sxtab16(int32_t acc, uint32_t x) {
  int32_t result;
  __asm__("sxtab16 %0, %1, %2" : "=r"(result) : "r"(acc), "r"(x));
  return result;
}

static TX_ALWAYS_INLINE int32_t tx_sxtab16_ror8(int32_t acc, uint32_t x) {
  int32_t result;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(acc), "r"(x));
  return result;
}

/* acc + the rounded high word of a * b: (acc * 2^32 + a * b + 2^31) >> 32. */
static TX_ALWAYS_INLINE int32_t tx_smmlar(int32_t a, int32_t b, int32_t acc) {
  int32_t result;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
  return result;
}

/* x saturated to [-128, 127]. */
static TX_ALWAYS_INLINE int32_t tx_ssat8(int32_t x) {
  int32_t result;
  __asm__("ssat %0, #8, %1" : "=r"(result) : "r"(x));
  return result;
}

/* (bottom.lo, top.lo): two int16 values in one word. */
static TX_ALWAYS_INLINE int32_t tx_pack16(int32_t bottom, int32_t top) {
  int32_t result;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(result) : "r"(bottom), "r"(top));
  return result;
}

/* Both int16 halves of a plus those of b. */
static TX_ALWAYS_INLINE int32_t tx_sadd16(int32_t a, int32_t b) {
  int32_t result;
  __asm__("sadd16 %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
  return result;
}

/* The fast requantisation of a doubled accumulator (2 * acc, exact: the
 * compiler proved |acc| < 2^30 and no overflow below, for every channel):
 * smmlar gives TFLM's rounding doubling high multiply plus `rounding`
 * (2^(right_shift-1) + output zero point * 2^right_shift); subtracting one
 * for a negative accumulator turns the arithmetic shift's floor into TFLM's
 * ties-away-from-zero rounding. Returns the output before the activation
 * clamp, saturated to int8. */
static TX_ALWAYS_INLINE int32_t tx_requantize_fast(int32_t doubled_acc, int32_t multiplier,
                                                   int32_t rounding, int32_t right_shift) {
  int32_t t = tx_smmlar(doubled_acc, multiplier, rounding);
  t += doubled_acc >> 31;
  return tx_ssat8(t >> right_shift);
}

/* The fast form's rounding constant, 2^(right_shift - 1) + output zero point *
 * 2^right_shift (it fits an int32 wherever the compiler proved the fast form),
 * for the depthwise records, which do not store it. */
static TX_ALWAYS_INLINE int32_t tx_rounding(int32_t right_shift, int32_t output_zero_point) {
  if (right_shift < 1 || right_shift > 31) {
    return 0;
  }
  /* Modulo 2^32, which is the int32 result wherever it fits. */
  const uint32_t unit = 1u << (right_shift - 1);
  return (int32_t)(unit + (uint32_t)output_zero_point * (unit << 1));
}

/* TFLM's MultiplyByQuantizedMultiplier(acc, multiplier, -right_shift) for any
 * input: the 64-bit rounding product in one SMLAL, then the rounding division
 * by a power of two. Used where the fast form is not proven. */
static TX_ALWAYS_INLINE int32_t tx_multiply_exact_dsp(int32_t acc, int32_t multiplier,
                                                      int32_t right_shift) {
  if (right_shift < 0) {
    acc = (int32_t)((uint32_t)acc << -right_shift);
  }
  /* floor((acc * multiplier + 2^30) / 2^31), which is TFLM's nudge-and-truncate
   * rounding, except for the one product it saturates. */
  uint32_t low = 1u << 30;
  int32_t high = 0;
  __asm__("smlal %0, %1, %2, %3" : "+r"(low), "+r"(high) : "r"(acc), "r"(multiplier));
  int32_t product = (int32_t)(((uint32_t)high << 1) | (low >> 31));
  if (acc == INT32_MIN && multiplier == INT32_MIN) {
    product = INT32_MAX;
  }
  if (right_shift <= 0) {
    return product;
  }
  const int32_t mask = (int32_t)((1u << right_shift) - 1u);
  const int32_t remainder = product & mask;
  const int32_t threshold = (mask >> 1) + (product < 0 ? 1 : 0);
  return (product >> right_shift) + (remainder > threshold ? 1 : 0);
}

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_ARM_DSP_H_ */
