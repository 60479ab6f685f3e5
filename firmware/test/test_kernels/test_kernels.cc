// The AOT engine on the board under test (host or qemu_m4):
//  - the fixed-point primitives round exactly as TFLM's reference does;
//  - every kernel the dispatch table selects (tx_kernels) is byte-identical
//    with the portable kernel, on random shapes and data (this is the check an
//    optimised variant must pass);
//  - the generated model reproduces the tflite-micro oracle's outputs on real
//    frames (golden_frames.h, from make_golden_frames.py), and its cost per
//    inference is printed ("aot_bench:" line; instructions on qemu_m4).
#include <cstdio>
#include <cstring>

#include "../tiny_test.h"
#include "board_info.h"
#include "cost_counter.h"
#include "golden_frames.h"
#include "model_aot.h"
#include "tx_dsp_kernels.h"
#include "tx_fixed_point.h"
#include "tx_kernels.h"
#if TX_DSP_KERNELS
#include "tx_arm_dsp.h"
#endif

namespace {

// -DTX_TEST_SEED=n explores other random shapes and data.
#ifndef TX_TEST_SEED
#define TX_TEST_SEED 12345u
#endif
uint32_t g_seed = TX_TEST_SEED;

uint32_t NextRandom() {
  g_seed = g_seed * 1664525u + 1013904223u;
  return g_seed >> 8;
}

int32_t RandomIn(int32_t lo, int32_t hi) {
  return lo + static_cast<int32_t>(NextRandom() % static_cast<uint32_t>(hi - lo + 1));
}

void FillRandom(int8_t* data, int count) {
  for (int i = 0; i < count; ++i) {
    data[i] = static_cast<int8_t>(RandomIn(-128, 127));
  }
}

void test_fixed_point_primitives() {
  TT_CHECK_EQ(tx_saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
  TT_CHECK_EQ(tx_saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
  TT_CHECK_EQ(tx_saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);  // -1.5 -> -1
  TT_CHECK_EQ(tx_saturating_rounding_doubling_high_mul(3, 1 << 30), 2);    // 1.5 -> 2
  TT_CHECK_EQ(tx_rounding_divide_by_pot(5, 1), 3);
  TT_CHECK_EQ(tx_rounding_divide_by_pot(-5, 1), -3);
  TT_CHECK_EQ(tx_rounding_divide_by_pot(-6, 2), -2);
  TT_CHECK_EQ(tx_rounding_divide_by_pot(6, 2), 2);
  TT_CHECK_EQ(tx_rounding_divide_by_pot(-4, 3), -1);  // -0.5 -> -1 (away from zero)
  TT_CHECK_EQ(tx_rounding_divide_by_pot(7, 0), 7);
  TT_CHECK_EQ(tx_multiply_by_quantized_multiplier(100, 1 << 30, 1), 100);
  TT_CHECK_EQ(tx_multiply_by_quantized_multiplier(1000, 1 << 30, -3), 63);  // 62.5 -> 63
  TT_CHECK_EQ(tx_saturating_shift_left(1 << 28, 4), INT32_MAX);
  TT_CHECK_EQ(tx_saturating_shift_left(-(1 << 28), 4), INT32_MIN);
}

// An independent formulation of the two primitives, to cross-check
// tx_fixed_point.h (which follows the reference's nudge / truncating division
// and mask / threshold steps): rounding by adding half before an arithmetic
// shift of the 64-bit value. Any faster form for a target can be checked here.
int32_t SpecDoublingHighMul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) {
    return INT32_MAX;
  }
  return static_cast<int32_t>((static_cast<int64_t>(a) * b + (static_cast<int64_t>(1) << 30)) >>
                              31);
}

int32_t SpecRoundingDivideByPot(int32_t x, int exponent) {
  if (exponent == 0) {
    return x;
  }
  const int64_t half = (static_cast<int64_t>(1) << (exponent - 1)) - (x < 0 ? 1 : 0);
  return static_cast<int32_t>((static_cast<int64_t>(x) + half) >> exponent);
}

int32_t RandomWord() {
  // Mix of small values, extremes and full-range words.
  const uint32_t kind = NextRandom() % 4;
  const int32_t word = static_cast<int32_t>((NextRandom() << 16) ^ NextRandom());
  if (kind == 0) {
    return RandomIn(-70000, 70000);
  }
  if (kind == 1) {
    const int32_t extremes[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX,
                                1 << 30, -(1 << 30)};
    return extremes[NextRandom() % 9];
  }
  return word;
}

void test_fast_primitives_match_their_specification() {
  int mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const int32_t a = RandomWord();
    const int32_t b = RandomWord();
    const int exponent = static_cast<int>(NextRandom() % 32);
    mismatches += tx_saturating_rounding_doubling_high_mul(a, b) != SpecDoublingHighMul(a, b);
    mismatches += tx_rounding_divide_by_pot(a, exponent) != SpecRoundingDivideByPot(a, exponent);
  }
  TT_CHECK_EQ(mismatches, 0);
}

// TFLM's requantisation as tensorflow/lite/kernels/internal/common.h and
// gemmlowp's fixedpoint.h write it, for the property test below.
int32_t TflmSaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == INT32_MIN;
  const int64_t ab_64 = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab_64 >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t ab_x2_high32 = static_cast<int32_t>((ab_64 + nudge) / (1ll << 31));
  return overflow ? INT32_MAX : ab_x2_high32;
}

int32_t TflmRoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((1ll << exponent) - 1);
  const int32_t zero = 0;
  const int32_t one = 1;
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + ((x < zero) ? one : zero);
  return (x >> exponent) + ((remainder > threshold) ? one : zero);
}

int32_t TflmMultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  // x * (1 << left_shift) in TFLM; it wraps on every compiler we target.
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left_shift);
  return TflmRoundingDivideByPOT(
      TflmSaturatingRoundingDoublingHighMul(shifted, quantized_multiplier), right_shift);
}

int32_t RandomMultiplier() {
  const int32_t edges[] = {0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MAX - 1, INT32_MIN};
  const uint32_t kind = NextRandom() % 4;
  if (kind == 0) {
    return edges[NextRandom() % 7];
  }
  if (kind == 1) {
    return static_cast<int32_t>((NextRandom() << 16) ^ NextRandom());
  }
  return RandomIn(1 << 30, INT32_MAX);  // what QuantizeMultiplier produces
}

// Accumulators the fast form accepts (|acc| < 2^30), edges and ties included:
// with multiplier 2^30 every odd acc is a tie of the doubling high multiply.
int32_t RandomSmallAccumulator() {
  const int32_t edges[] = {0, 1, -1, 2, -2, (1 << 30) - 1, -(1 << 30), -(1 << 30) + 1,
                           (1 << 29), -(1 << 29), 12345, -12345};
  const uint32_t kind = NextRandom() % 3;
  if (kind == 0) {
    return edges[NextRandom() % 12];
  }
  if (kind == 1) {
    return RandomIn(-70000, 70000);
  }
  return static_cast<int32_t>(((NextRandom() << 16) ^ NextRandom()) & 0x7fffffff) - (1 << 30);
}

// The requantisation the kernels use, against TFLM's as written: the portable
// form and the exact DSP form on any input (shifts -31..+7, INT32_MIN,
// multipliers near 2^31), the fast form on the inputs whose preconditions the
// compiler proves (host/aot/requant.py). Ties of both roundings are frequent
// among the small values.
void test_requantisation_matches_tflm() {
  int mismatches = 0;
  int fast_checked = 0;
  for (int shift = -31; shift <= 7; ++shift) {
    for (int i = 0; i < 4000; ++i) {
      const int32_t x = (i & 1) ? RandomWord() : RandomSmallAccumulator();
      const int32_t multiplier = RandomMultiplier();
      const int32_t expected = TflmMultiplyByQuantizedMultiplier(x, multiplier, shift);
      mismatches += tx_multiply_by_quantized_multiplier(x, multiplier, shift) != expected;
#if TX_DSP_KERNELS
      mismatches += tx_multiply_exact_dsp(x, multiplier, -shift) != expected;
      const int right_shift = -shift;
      if (right_shift >= 1 && multiplier >= 0 && x >= -(1 << 30) && x < (1 << 30)) {
        const int32_t zero_point = RandomIn(-128, 127);
        const int64_t rounding =
            (int64_t{1} << (right_shift - 1)) + int64_t{zero_point} * (int64_t{1} << right_shift);
        const int64_t high = TflmSaturatingRoundingDoublingHighMul(x, multiplier);
        if (rounding + high <= INT32_MAX && rounding + high - 1 >= INT32_MIN) {
          ++fast_checked;
          int32_t reference = expected + zero_point;
          reference = reference < -128 ? -128 : (reference > 127 ? 127 : reference);
          const int32_t fast = tx_requantize_fast(x * 2, multiplier,
                                                  static_cast<int32_t>(rounding), right_shift);
          if (fast != reference) {
            ++mismatches;
            std::printf("fast requantisation: acc %ld multiplier %ld shift %d zp %ld: %ld != %ld\n",
                        static_cast<long>(x), static_cast<long>(multiplier), shift,
                        static_cast<long>(zero_point), static_cast<long>(fast),
                        static_cast<long>(reference));
          }
        }
      }
#endif
    }
  }
  std::printf("requantisation: 156000 inputs, %d through the fast form (%s kernels)\n",
              fast_checked, tx_kernels_name);
  TT_CHECK_EQ(mismatches, 0);
#if TX_DSP_KERNELS
  TT_CHECK(fast_checked > 50000);
#endif
}

int8_t g_in[2][8192];
int8_t g_out[2][8192];
int8_t g_filter[8192 + 4];
tx_channel_quant g_quant[512];
tx_conv_quant g_conv_quant[512];

// Channel constants for `channels` outputs with weights `filter` (rows of
// `row` values). fast: the compiler's proof, done here the same way, decides
// whether the layer may use the fast form; otherwise the constants are extreme
// (left shifts, large biases) and the layer uses the exact form.
int32_t RandomQuant(int channels, const int8_t* filter, int row, int32_t row_step, int32_t tap_step,
                    int32_t output_zero_point) {
  // 0: extreme constants (left shifts, large biases), exact form; 1: ordinary
  // fast-form constants; 2: biases at the edge of the proof (|acc| just below
  // 2^30 for some channels) and shifts up to 31, fast where it holds.
  const int regime = RandomIn(0, 3) == 0 ? 0 : RandomIn(1, 2);
  bool fast = regime != 0;
  for (int c = 0; c < channels; ++c) {
    tx_channel_quant& q = g_quant[c];
    int64_t weights = 0;
    for (int i = 0; i < row; ++i) {
      const int8_t w = filter[c * row_step + i * tap_step];
      weights += w < 0 ? -w : w;
    }
    q.multiplier = RandomIn(0, 15) == 0 ? 0 : RandomIn(1 << 30, INT32_MAX);
    if (regime == 1) {
      q.bias = RandomIn(-(1 << 22), 1 << 22);
      q.right_shift = RandomIn(1, 24);
    } else if (regime == 2) {
      const int32_t room = static_cast<int32_t>((int64_t{1} << 30) - 1 - 128 * weights);
      q.bias = RandomIn(0, 1) ? room - RandomIn(0, 3) : -room + RandomIn(0, 3);
      q.right_shift = RandomIn(20, 31);
    } else {
      q.bias = RandomIn(-(1 << 29), 1 << 29);
      q.right_shift = RandomIn(-7, 31);
    }
    const int64_t bound = (q.bias < 0 ? -int64_t{q.bias} : q.bias) + 128 * weights;
    const int64_t rounding = (int64_t{1} << (q.right_shift > 0 ? q.right_shift - 1 : 0)) +
                             int64_t{output_zero_point} * (int64_t{1} << (q.right_shift > 0 ? q.right_shift : 0));
    const int64_t high = (2 * bound * q.multiplier + (int64_t{1} << 31)) >> 32;
    if (q.right_shift < 1 || bound >= (1 << 30) || rounding + high > INT32_MAX ||
        rounding - high - 1 < INT32_MIN) {
      fast = false;
    }
  }
  if (regime == 2 && !fast) {
    // A channel the proof refuses makes the layer exact: keep the edge biases
    // but bring the shifts back into the range the proof accepts.
    for (int c = 0; c < channels; ++c) {
      tx_channel_quant& q = g_quant[c];
      q.right_shift = RandomIn(1, 20);
    }
    fast = true;
  }
  // The same constants as convolution records, with the rounding constant.
  for (int c = 0; c < channels; ++c) {
    const tx_channel_quant& q = g_quant[c];
    const int32_t shift = q.right_shift;
    g_conv_quant[c] = {q.bias, q.multiplier, shift,
                       fast ? static_cast<int32_t>((int64_t{1} << (shift - 1)) +
                                                   int64_t{output_zero_point} * (int64_t{1} << shift))
                            : 0};
  }
  return fast ? 1 : 0;
}

void RandomActivation(int32_t* act_min, int32_t* act_max, int32_t zero_point) {
  if (RandomIn(0, 1)) {
    *act_min = -128;
    *act_max = 127;
  } else {
    *act_min = RandomIn(-128, zero_point);
    *act_max = RandomIn(*act_min, 127);
  }
}

// Whether both kernels wrote the same `count` outputs; prints the first difference.
bool SameOutputs(int count) {
  for (int i = 0; i < count; ++i) {
    if (g_out[0][i] != g_out[1][i]) {
      std::printf("output %d: %d (tx_kernels) != %d (portable)\n", i, g_out[0][i], g_out[1][i]);
      return false;
    }
  }
  return true;
}

// SAME or VALID output size and leading padding along one axis.
void Geometry(int32_t in, int32_t kernel, int32_t stride, bool same, int32_t* out, int32_t* pad) {
  if (same || in < kernel) {
    *out = (in + stride - 1) / stride;
    const int32_t total = (*out - 1) * stride + kernel - in;
    *pad = total > 0 ? total / 2 : 0;
  } else {
    *out = (in - kernel + stride) / stride;
    *pad = 0;
  }
}

void CheckConv(tx_conv_params* conv, tx_conv2d_fn optimised, int* fast_layers) {
  // Everything must fit the test's buffers.
  while (conv->out_c > 1 && (conv->out_h * conv->out_w * conv->out_c > 8192 ||
                             conv->out_c * conv->k_h * conv->k_w * conv->in_c > 8192)) {
    --conv->out_c;
  }
  const int32_t row = conv->k_h * conv->k_w * conv->in_c;
  FillRandom(g_filter, conv->out_c * row);
  FillRandom(g_in[0], conv->in_h * conv->in_w * conv->in_c);
  conv->input_zero_point = RandomIn(-128, 127);
  conv->output_offset = RandomIn(-128, 127);
  RandomActivation(&conv->act_min, &conv->act_max, conv->output_offset);
  conv->filter = g_filter;
  conv->quant = g_conv_quant;
  conv->fast_requant = RandomQuant(conv->out_c, g_filter, row, row, 1, conv->output_offset);
  *fast_layers += conv->fast_requant;
  std::memset(g_out, 0, sizeof(g_out));
  optimised(conv, g_in[0], g_out[0]);
  tx_kernels_portable.conv2d(conv, g_in[0], g_out[1]);
  const bool same = SameOutputs(conv->out_h * conv->out_w * conv->out_c);
  if (!same) {
    std::printf("conv %ldx%ldx%ld k%ldx%ld s%ld -> %ldx%ldx%ld fast %ld differs\n",
                static_cast<long>(conv->in_h), static_cast<long>(conv->in_w),
                static_cast<long>(conv->in_c), static_cast<long>(conv->k_h),
                static_cast<long>(conv->k_w), static_cast<long>(conv->stride_h),
                static_cast<long>(conv->out_h), static_cast<long>(conv->out_w),
                static_cast<long>(conv->out_c), static_cast<long>(conv->fast_requant));
  }
  TT_CHECK(same);
}

// conv2d_1x1 (pointwise and FULLY_CONNECTED): channel counts of 1..9 and the
// multiples of 8 the models use, odd and even pixel and channel counts.
void test_conv2d_1x1_matches_portable() {
  const int32_t depths[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 24, 32, 40, 48, 96, 144, 336, 600, 1280};
  int fast_layers = 0;
  for (int round = 0; round < 160; ++round) {
    tx_conv_params conv = {};
    conv.in_c = depths[NextRandom() % 19];
    const bool fully_connected = conv.in_c > 640 || RandomIn(0, 4) == 0;
    const int32_t max_pixels = 8192 / conv.in_c < 49 ? 8192 / conv.in_c : 49;
    conv.in_h = fully_connected ? 1 : RandomIn(1, max_pixels < 7 ? max_pixels : 7);
    conv.in_w = fully_connected ? 1 : RandomIn(1, max_pixels / conv.in_h);
    const int32_t max_out = (8192 / conv.in_c) < 40 ? 8192 / conv.in_c : 40;
    conv.out_c = RandomIn(1, max_out);
    while (conv.out_c * conv.in_h * conv.in_w > 8192) {
      --conv.in_w;
    }
    conv.out_h = conv.in_h;
    conv.out_w = conv.in_w;
    conv.k_h = conv.k_w = conv.stride_h = conv.stride_w = 1;
    CheckConv(&conv, tx_kernels.conv2d_1x1, &fast_layers);
  }
  TT_CHECK(fast_layers > 60);
}

// conv2d, any geometry: kernel 1..5, strides 1 and 2, SAME and VALID.
void test_conv2d_matches_portable() {
  int fast_layers = 0;
  for (int round = 0; round < 120; ++round) {
    tx_conv_params conv = {};
    conv.in_h = RandomIn(1, 12);
    conv.in_w = RandomIn(1, 12);
    conv.in_c = RandomIn(1, 9);
    conv.k_h = RandomIn(1, 5);
    conv.k_w = RandomIn(1, 5);
    conv.stride_h = RandomIn(1, 2);
    conv.stride_w = RandomIn(1, 2);
    conv.out_c = RandomIn(1, 17);
    const bool same = RandomIn(0, 1);
    if (round % 3 == 0) {
      // Windows of at most ten values: the stem (3x3 on one channel) and
      // other small windows take the gathered-window path.
      const int32_t shapes[][3] = {{3, 3, 1}, {3, 3, 1}, {1, 3, 3}, {3, 1, 2}, {2, 2, 2},
                                   {1, 5, 2}, {2, 5, 1}, {1, 1, 7}};
      const int32_t* shape = shapes[NextRandom() % 8];
      conv.k_h = shape[0];
      conv.k_w = shape[1];
      conv.in_c = shape[2];
      conv.in_h = RandomIn(1, 20);
      conv.in_w = RandomIn(1, 20);
      conv.out_c = RandomIn(1, 33);
    }
    Geometry(conv.in_h, conv.k_h, conv.stride_h, same, &conv.out_h, &conv.pad_top);
    Geometry(conv.in_w, conv.k_w, conv.stride_w, same, &conv.out_w, &conv.pad_left);
    CheckConv(&conv, tx_kernels.conv2d, &fast_layers);
  }
  TT_CHECK(fast_layers > 40);
}

// depthwise_conv2d_3x3: strides 1 and 2, SAME and VALID, odd and even widths,
// widths up to and beyond the DSP kernel's buffer (which falls back).
void test_depthwise_matches_portable() {
  int fast_layers = 0;
  for (int round = 0; round < 160; ++round) {
    tx_depthwise_params dw = {};
    dw.channels = RandomIn(0, 1) ? 4 * RandomIn(1, 6) : RandomIn(1, 24);
    // Small planes (the four-channel vector path), planes taller than the
    // buffer (rows kept and refilled), widths up to the buffer's and past it
    // (the portable fallback).
    const int kind = RandomIn(0, 9);
    dw.in_w = kind == 0 ? RandomIn(63, 150) : (kind < 4 ? RandomIn(15, 62) : RandomIn(1, 14));
    dw.in_h = kind == 0 ? RandomIn(1, 3) : (kind < 4 ? RandomIn(8, 40) : RandomIn(1, 14));
    dw.k_h = dw.k_w = 3;
    dw.stride_h = dw.stride_w = RandomIn(1, 2);
    const bool same = RandomIn(0, 2) != 0;
    Geometry(dw.in_h, 3, dw.stride_h, same, &dw.out_h, &dw.pad_top);
    Geometry(dw.in_w, 3, dw.stride_w, same, &dw.out_w, &dw.pad_left);
    while (dw.in_h * dw.in_w * dw.channels > 8192) {
      --dw.channels;
    }
    FillRandom(g_filter, 9 * dw.channels);
    FillRandom(g_in[0], dw.in_h * dw.in_w * dw.channels);
    dw.input_zero_point = RandomIn(-128, 127);
    dw.output_offset = RandomIn(-128, 127);
    RandomActivation(&dw.act_min, &dw.act_max, dw.output_offset);
    dw.filter = g_filter;
    dw.quant = g_quant;
    dw.fast_requant = RandomQuant(dw.channels, g_filter, 9, 1, dw.channels, dw.output_offset);
    fast_layers += dw.fast_requant;
    std::memset(g_out, 0, sizeof(g_out));
    tx_kernels.depthwise_conv2d_3x3(&dw, g_in[0], g_out[0]);
    tx_kernels_portable.depthwise_conv2d(&dw, g_in[0], g_out[1]);
    const bool identical = SameOutputs(dw.out_h * dw.out_w * dw.channels);
    if (!identical) {
      std::printf("depthwise %ldx%ldx%ld s%ld pad %ld,%ld fast %ld differs\n",
                  static_cast<long>(dw.in_h), static_cast<long>(dw.in_w),
                  static_cast<long>(dw.channels), static_cast<long>(dw.stride_h),
                  static_cast<long>(dw.pad_top), static_cast<long>(dw.pad_left),
                  static_cast<long>(dw.fast_requant));
    }
    TT_CHECK(identical);
  }
  TT_CHECK(fast_layers > 40);
}

// ADD: the fast form with one or both inputs at the larger scale, and the
// general parameters the fast form refuses.
void test_add_matches_portable() {
  for (int round = 0; round < 90; ++round) {
    tx_add_params add = {};
    add.count = RandomIn(1, 4096);
    add.left_shift = 20;
    add.input1_offset = RandomIn(-127, 128);
    add.input2_offset = RandomIn(-127, 128);
    add.output_offset = RandomIn(-128, 127);
    add.output_multiplier = RandomIn(1 << 30, INT32_MAX);
    add.output_shift = RandomIn(-20, -15);
    RandomActivation(&add.act_min, &add.act_max, add.output_offset);
    add.fast = RandomIn(0, 2);
    if (add.fast == 0) {
      add.input1_multiplier = RandomIn(1 << 30, INT32_MAX);
      add.input2_multiplier = RandomIn(1 << 30, INT32_MAX);
      add.input1_shift = RandomIn(-3, 0);
      add.input2_shift = RandomIn(-3, 0);
    } else {
      add.input2_multiplier = 1 << 30;
      add.input2_shift = 0;
      add.input1_multiplier = add.fast == 2 ? 1 << 30 : RandomIn(1 << 30, INT32_MAX);
      add.input1_shift = add.fast == 2 ? 0 : RandomIn(-4, -1);
      add.fast_input1_offset = add.input1_offset * (1 << 21);
      add.fast_input1_rounding = add.fast == 2 ? 0 : 1 << (-add.input1_shift - 1);
      add.fast_input2_offset = add.input2_offset * (1 << 19);
      if (add.fast == 1 && add.input1_shift >= -3 && RandomIn(0, 2) != 0) {
        // Input2's offset term folded into input1's rounding, as the compiler
        // does where it fits (the assembly path).
        add.fast_input1_rounding += add.fast_input2_offset * (1 << -add.input1_shift);
        add.fast_input2_offset = 0;
      }
      add.fast_output_rounding =
          (1 << (-add.output_shift - 1)) + add.output_offset * (1 << -add.output_shift);
    }
    FillRandom(g_in[0], add.count);
    FillRandom(g_in[1], add.count);
    tx_kernels.add(&add, g_in[0], g_in[1], g_out[0]);
    tx_kernels_portable.add(&add, g_in[0], g_in[1], g_out[1]);
    TT_CHECK(SameOutputs(add.count));
    // In place, as the memory plan runs it.
    std::memcpy(g_out[0], g_in[0], add.count);
    tx_kernels.add(&add, g_out[0], g_in[1], g_out[0]);
    TT_CHECK(SameOutputs(add.count));
  }
}

void test_other_kernels_match_portable() {
  for (int round = 0; round < 40; ++round) {
    tx_mean_params mean = {};
    mean.in_h = RandomIn(1, 20);
    mean.in_w = RandomIn(1, 20);
    mean.channels = RandomIn(1, 20);
    mean.input_zero_point = RandomIn(-128, 127);
    mean.multiplier = RandomIn(1 << 30, INT32_MAX);
    mean.shift = RandomIn(-12, -1);
    mean.output_zero_point = RandomIn(-128, 127);
    mean.fast = RandomIn(0, 3) != 0;
    mean.fast_rounding =
        (1 << (-mean.shift - 1)) + mean.output_zero_point * (1 << -mean.shift);
    FillRandom(g_in[0], mean.in_h * mean.in_w * mean.channels);
    tx_kernels.mean(&mean, g_in[0], g_out[0]);
    tx_kernels_portable.mean(&mean, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(mean.channels));

    tx_depthwise_params dw = {};
    dw.channels = RandomIn(1, 16);
    dw.in_h = RandomIn(1, 8);
    dw.in_w = RandomIn(1, 8);
    dw.k_h = RandomIn(1, 5);
    dw.k_w = RandomIn(1, 5);
    dw.stride_h = RandomIn(1, 2);
    dw.stride_w = RandomIn(1, 2);
    Geometry(dw.in_h, dw.k_h, dw.stride_h, true, &dw.out_h, &dw.pad_top);
    Geometry(dw.in_w, dw.k_w, dw.stride_w, true, &dw.out_w, &dw.pad_left);
    FillRandom(g_filter, dw.k_h * dw.k_w * dw.channels);
    FillRandom(g_in[0], dw.in_h * dw.in_w * dw.channels);
    dw.output_offset = RandomIn(-128, 127);
    RandomActivation(&dw.act_min, &dw.act_max, dw.output_offset);
    dw.filter = g_filter;
    dw.quant = g_quant;
    dw.fast_requant = RandomQuant(dw.channels, g_filter, dw.k_h * dw.k_w, 1, dw.channels,
                                  dw.output_offset);
    tx_kernels.depthwise_conv2d(&dw, g_in[0], g_out[0]);
    tx_kernels_portable.depthwise_conv2d(&dw, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(dw.out_h * dw.out_w * dw.channels));

    tx_softmax_params softmax = {};
    softmax.rows = RandomIn(1, 4);
    softmax.depth = RandomIn(1, 16);
    softmax.input_multiplier = RandomIn(1 << 30, 0x7fffffff);
    softmax.input_left_shift = RandomIn(18, 24);
    softmax.diff_min = -((31 << 26) >> softmax.input_left_shift);
    FillRandom(g_in[0], softmax.rows * softmax.depth);
    tx_kernels.softmax(&softmax, g_in[0], g_out[0]);
    tx_kernels_portable.softmax(&softmax, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(softmax.rows * softmax.depth));

    tx_requantize_params requantize = {};
    requantize.count = RandomIn(1, 2048);
    requantize.input_zero_point = RandomIn(-128, 127);
    requantize.multiplier = RandomIn(1 << 30, 0x7fffffff);
    requantize.shift = RandomIn(-3, 2);
    requantize.output_zero_point = RandomIn(-128, 127);
    FillRandom(g_in[0], requantize.count);
    tx_kernels.requantize(&requantize, g_in[0], g_out[0]);
    tx_kernels_portable.requantize(&requantize, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(requantize.count));
  }
}

int8_t g_result[MODEL_AOT_OUTPUT_BYTES];

void test_model_matches_tflm_golden_frames() {
  const bool same_model = std::strcmp(golden_frames::kModelSha256, MODEL_AOT_SHA256) == 0;
  if (!same_model) {
    std::printf("golden_frames.h is for another model: run "
                "firmware/test/test_kernels/make_golden_frames.py\n");
  }
  TT_CHECK(same_model);
  TT_CHECK_EQ(golden_frames::kFrameBytes, MODEL_AOT_INPUT_BYTES);
  TT_CHECK_EQ(golden_frames::kOutputBytes, MODEL_AOT_OUTPUT_BYTES);
  CostCounterInit();
  uint64_t total_cost = 0;  // 32-bit CostNow differences, summed without wrapping
  int identical = 0;
  for (int frame = 0; frame < golden_frames::kNumFrames; ++frame) {
    const uint32_t start = CostNow();
    model_invoke(golden_frames::kFrames[frame], g_result);
    total_cost += CostNow() - start;
    const bool same =
        std::memcmp(g_result, golden_frames::kOutputs[frame], MODEL_AOT_OUTPUT_BYTES) == 0;
    identical += same ? 1 : 0;
    TT_CHECK(same);
  }
  std::printf("aot_golden: %d/%d frames byte-identical with tflite-micro\n", identical,
              golden_frames::kNumFrames);
  std::printf("aot_bench: board=%s unit=%s kernels=%s cost_per_inference=%lu macs=%lu "
              "arena_bytes=%lu\n",
              BoardName(), CostUnit(), tx_kernels_name,
              static_cast<unsigned long>(total_cost / golden_frames::kNumFrames),
              static_cast<unsigned long>(MODEL_AOT_MACS),
              static_cast<unsigned long>(MODEL_AOT_ARENA_BYTES));
}

// With -DMODEL_AOT_DEBUG (the benchmark sets it): the cost of each layer on the
// first golden frame, as "aot_layer: <position> <cost>" lines.
void test_layer_profile() {
#ifdef MODEL_AOT_DEBUG
  std::memcpy(model_aot_input(), golden_frames::kFrames[0], MODEL_AOT_INPUT_BYTES);
  for (int position = 0; position < MODEL_AOT_LAYERS; ++position) {
    const uint32_t start = CostNow();
    model_aot_debug_run_layer(position);
    std::printf("aot_layer: %d %lu\n", position, static_cast<unsigned long>(CostNow() - start));
  }
  TT_CHECK(std::memcmp(model_aot_output(), golden_frames::kOutputs[0], MODEL_AOT_OUTPUT_BYTES) ==
           0);
#endif
}

}  // namespace

// -DTX_TEST_MODEL_ONLY: the generated model alone (tests/test_aot_qemu.py and
// the benchmark build other models into this test).
#ifdef TX_TEST_MODEL_ONLY
constexpr bool kModelOnly = true;
#else
constexpr bool kModelOnly = false;
#endif

int main() {
  if (!kModelOnly) {
    TT_RUN(test_fixed_point_primitives);
    TT_RUN(test_fast_primitives_match_their_specification);
    TT_RUN(test_requantisation_matches_tflm);
    TT_RUN(test_conv2d_1x1_matches_portable);
    TT_RUN(test_conv2d_matches_portable);
    TT_RUN(test_depthwise_matches_portable);
    TT_RUN(test_add_matches_portable);
    TT_RUN(test_other_kernels_match_portable);
  }
  TT_RUN(test_model_matches_tflm_golden_frames);
  TT_RUN(test_layer_profile);
  return TinyTestSummary();
}
