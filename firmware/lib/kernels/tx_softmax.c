/* SOFTMAX int8 -> int8 (portable): the fixed-point algorithm of TFLM's
 * reference quantised softmax (gemmlowp fixed point). Input differences from
 * the row maximum are scaled by beta * input_scale into Q5.26, exponentiated
 * with exp_on_negative_values (a Taylor polynomial on [-1/4, 0) and a barrel
 * shifter of exp(-2^k) constants), summed in Q12.19, inverted with a
 * Newton-Raphson reciprocal, and the products rounded to 1/256 steps. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

enum {
  kScaledDiffIntegerBits = 5,
  kAccumulationIntegerBits = 12,
  kScaledDiffFractionalBits = 31 - kScaledDiffIntegerBits,
};

/* Fixed-point product: Qa * Qb -> Q(a+b). */
static inline int32_t fp_mul(int32_t a, int32_t b) {
  return tx_saturating_rounding_doubling_high_mul(a, b);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;   /* exp(-1/8) in Q0.31 */
  const int32_t constant_1_over_3 = 715827883; /* 1/3 in Q0.31 */
  const int32_t x = a + (1 << 28);            /* a + 1/8 */
  const int32_t x2 = fp_mul(x, x);
  const int32_t x3 = fp_mul(x2, x);
  const int32_t x4 = fp_mul(x2, x2);
  const int32_t x4_over_4 = tx_rounding_divide_by_pot(x4, 2);
  const int32_t poly =
      tx_rounding_divide_by_pot(fp_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
  return constant_term + fp_mul(constant_term, x + poly);
}

/* exp(a) for a <= 0 in Q5.26; result in Q0.31. */
static int32_t exp_on_negative_values(int32_t a) {
  const int32_t one_quarter = 1 << (kScaledDiffFractionalBits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      tx_saturating_shift_left(a_mod_quarter_minus_one_quarter, kScaledDiffIntegerBits));
  const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
  /* exp(-2^k) for k = -2..4 in Q0.31, applied for each set bit of the
   * remainder (which is a non-negative multiple of 1/4). */
  static const int32_t kMultipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                          39332535,   720401,     242};
  for (int k = 0; k < 7; ++k) {
    const int bit = kScaledDiffFractionalBits - 2 + k;
    if (remainder & (int32_t)(1u << bit)) {
      result = fp_mul(result, kMultipliers[k]);
    }
  }
  return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson in Q2.29). */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  /* Rounding half sum of a and one (INT32_MAX). */
  const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  int32_t x = constant_48_over_17 + fp_mul(half_denominator, constant_neg_32_over_17);
  const int32_t one_q2 = 1 << 29;
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = fp_mul(half_denominator, x);
    const int32_t one_minus = one_q2 - half_denominator_times_x;
    x = x + tx_saturating_shift_left(fp_mul(x, one_minus), 2);
  }
  /* x / 2 in Q1.30 (same raw value), rescaled to Q0.31. */
  return tx_saturating_shift_left(x, 1);
}

static int count_leading_zeros(uint32_t x) {
  if (x == 0) {
    return 32;
  }
  int n = 0;
  while ((x & 0x80000000u) == 0) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* The reciprocal of a Q12.19 sum as a Q0.31 scale and a power-of-two count. */
static int32_t get_reciprocal(int32_t x, int x_integer_digits, int* num_bits_over_unit) {
  const int headroom_plus_one = count_leading_zeros((uint32_t)x);
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const int32_t shifted_sum_minus_one =
      (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
  return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

static inline int32_t scaled_diff(const tx_softmax_params* p, int32_t diff) {
  /* MultiplyByQuantizedMultiplierGreaterThanOne. */
  return tx_saturating_rounding_doubling_high_mul(tx_shift_left(diff, (int)p->input_left_shift),
                                                  p->input_multiplier);
}

void tx_softmax_s8_portable(const tx_softmax_params* p, const int8_t* input, int8_t* output) {
  for (int32_t row = 0; row < p->rows; ++row) {
    const int8_t* in = input + row * p->depth;
    int8_t* out = output + row * p->depth;
    int32_t max_in_row = -128;
    for (int32_t c = 0; c < p->depth; ++c) {
      if (in[c] > max_in_row) {
        max_in_row = in[c];
      }
    }
    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t exp_q0 = exp_on_negative_values(scaled_diff(p, diff));
        sum_of_exps += tx_rounding_divide_by_pot(exp_q0, kAccumulationIntegerBits);
      }
    }
    int num_bits_over_unit = 0;
    const int32_t shifted_scale =
        get_reciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t exp_q0 = exp_on_negative_values(scaled_diff(p, diff));
        const int32_t unsat =
            tx_rounding_divide_by_pot(fp_mul(shifted_scale, exp_q0), num_bits_over_unit + 31 - 8);
        out[c] = (int8_t)tx_clamp(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
