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
#include "tx_fixed_point.h"
#include "tx_kernels.h"

namespace {

uint32_t g_seed = 12345u;

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

int8_t g_in[2][2048];
int8_t g_out[2][2048];
int8_t g_filter[4096];
int32_t g_bias[64];
int32_t g_multiplier[64];
int32_t g_shift[64];

void RandomQuantisation(int channels) {
  for (int c = 0; c < channels; ++c) {
    g_bias[c] = RandomIn(-5000, 5000);
    g_multiplier[c] = RandomIn(1 << 30, 0x7fffffff);
    g_shift[c] = RandomIn(-12, 1);
  }
}

bool SameOutputs(int count) { return std::memcmp(g_out[0], g_out[1], count) == 0; }

void test_dispatch_matches_portable() {
  for (int round = 0; round < 20; ++round) {
    // CONV_2D with random geometry.
    tx_conv_params conv = {};
    conv.in_h = RandomIn(1, 8);
    conv.in_w = RandomIn(1, 8);
    conv.in_c = RandomIn(1, 8);
    conv.k_h = RandomIn(1, 3);
    conv.k_w = RandomIn(1, 3);
    conv.stride_h = RandomIn(1, 2);
    conv.stride_w = RandomIn(1, 2);
    conv.out_c = RandomIn(1, 16);
    conv.out_h = (conv.in_h + conv.stride_h - 1) / conv.stride_h;
    conv.out_w = (conv.in_w + conv.stride_w - 1) / conv.stride_w;
    conv.pad_top = conv.k_h / 2;
    conv.pad_left = conv.k_w / 2;
    conv.input_offset = RandomIn(-127, 128);
    conv.output_offset = RandomIn(-128, 127);
    conv.act_min = -128;
    conv.act_max = 127;
    conv.filter = g_filter;
    conv.bias = g_bias;
    conv.multiplier = g_multiplier;
    conv.shift = g_shift;
    FillRandom(g_filter, conv.out_c * conv.k_h * conv.k_w * conv.in_c);
    FillRandom(g_in[0], conv.in_h * conv.in_w * conv.in_c);
    RandomQuantisation(conv.out_c);
    tx_kernels.conv2d(&conv, g_in[0], g_out[0]);
    tx_kernels_portable.conv2d(&conv, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(conv.out_h * conv.out_w * conv.out_c));

    // DEPTHWISE_CONV_2D.
    tx_depthwise_params dw = {};
    dw.in_h = RandomIn(1, 8);
    dw.in_w = RandomIn(1, 8);
    dw.channels = RandomIn(1, 32);
    dw.k_h = 3;
    dw.k_w = 3;
    dw.stride_h = RandomIn(1, 2);
    dw.stride_w = dw.stride_h;
    dw.out_h = (dw.in_h + dw.stride_h - 1) / dw.stride_h;
    dw.out_w = (dw.in_w + dw.stride_w - 1) / dw.stride_w;
    dw.pad_top = 1;
    dw.pad_left = 1;
    dw.input_offset = RandomIn(-127, 128);
    dw.output_offset = RandomIn(-128, 127);
    dw.act_min = RandomIn(-128, 0);
    dw.act_max = 127;
    dw.filter = g_filter;
    dw.bias = g_bias;
    dw.interior_bias = RandomIn(0, 1) ? g_bias + 32 : nullptr;
    dw.multiplier = g_multiplier;
    dw.shift = g_shift;
    FillRandom(g_filter, 9 * dw.channels);
    FillRandom(g_in[0], dw.in_h * dw.in_w * dw.channels);
    RandomQuantisation(dw.channels);
    tx_kernels.depthwise_conv2d(&dw, g_in[0], g_out[0]);
    tx_kernels_portable.depthwise_conv2d(&dw, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(dw.out_h * dw.out_w * dw.channels));

    // ADD.
    tx_add_params add = {};
    add.count = RandomIn(1, 2048);
    add.left_shift = 20;
    add.input1_offset = RandomIn(-127, 128);
    add.input2_offset = RandomIn(-127, 128);
    add.input1_multiplier = RandomIn(1 << 30, 0x7fffffff);
    add.input2_multiplier = RandomIn(1 << 30, 0x7fffffff);
    add.output_multiplier = RandomIn(1 << 30, 0x7fffffff);
    add.input1_shift = RandomIn(-3, 0);
    add.input2_shift = RandomIn(-3, 0);
    add.output_shift = RandomIn(-20, -15);
    add.output_offset = RandomIn(-128, 127);
    add.act_min = -128;
    add.act_max = 127;
    FillRandom(g_in[0], add.count);
    FillRandom(g_in[1], add.count);
    tx_kernels.add(&add, g_in[0], g_in[1], g_out[0]);
    tx_kernels_portable.add(&add, g_in[0], g_in[1], g_out[1]);
    TT_CHECK(SameOutputs(add.count));

    // MEAN, FULLY_CONNECTED, SOFTMAX.
    tx_mean_params mean = {};
    mean.in_h = RandomIn(1, 8);
    mean.in_w = RandomIn(1, 8);
    mean.channels = RandomIn(1, 32);
    mean.input_zero_point = RandomIn(-128, 127);
    mean.multiplier = RandomIn(1 << 30, 0x7fffffff);
    mean.shift = RandomIn(-8, 0);
    mean.output_zero_point = RandomIn(-128, 127);
    FillRandom(g_in[0], mean.in_h * mean.in_w * mean.channels);
    tx_kernels.mean(&mean, g_in[0], g_out[0]);
    tx_kernels_portable.mean(&mean, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(mean.channels));

    tx_fully_connected_params fc = {};
    fc.in_features = RandomIn(1, 64);
    fc.out_features = RandomIn(1, 64);
    fc.input_offset = RandomIn(-127, 128);
    fc.output_offset = RandomIn(-128, 127);
    fc.act_min = -128;
    fc.act_max = 127;
    fc.filter = g_filter;
    fc.bias = g_bias;
    fc.per_channel = RandomIn(0, 1);
    fc.multiplier = g_multiplier;
    fc.shift = g_shift;
    FillRandom(g_filter, fc.in_features * fc.out_features);
    FillRandom(g_in[0], fc.in_features);
    RandomQuantisation(fc.out_features);
    tx_kernels.fully_connected(&fc, g_in[0], g_out[0]);
    tx_kernels_portable.fully_connected(&fc, g_in[0], g_out[1]);
    TT_CHECK(SameOutputs(fc.out_features));

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
  std::printf("aot_bench: board=%s unit=%s cost_per_inference=%lu macs=%lu arena_bytes=%lu\n",
              BoardName(), CostUnit(),
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

int main() {
  TT_RUN(test_fixed_point_primitives);
  TT_RUN(test_fast_primitives_match_their_specification);
  TT_RUN(test_dispatch_matches_portable);
  TT_RUN(test_model_matches_tflm_golden_frames);
  TT_RUN(test_layer_profile);
  return TinyTestSummary();
}
