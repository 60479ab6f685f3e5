/* tinyxray int8 kernels: parameter blocks, portable implementations and the
 * dispatch table the generated model calls through.
 *
 * All tensors are NHWC with batch 1. Parameter blocks are built at compile
 * time by the AOT compiler (host/aot) and live in flash as const data: every
 * multiplier, shift, zero point, activation bound and folded bias is
 * precomputed there.
 *
 * Kernel choice happens twice, both before run time:
 *  - the compiler picks a table entry per layer (e.g. conv2d_1x1 for a
 *    pointwise convolution) and proves per layer whether the fast
 *    requantisation may be used (fast_requant, see tx_channel_quant);
 *  - the build picks the implementation behind each entry (tx_dispatch.c):
 *    the Armv7E-M DSP kernels (tx_*_dsp.c) whenever the target has the DSP
 *    extension (Cortex-M4/M7/M33), unless -DTX_KERNELS_PORTABLE=1; the
 *    portable C kernels everywhere else.
 * Every implementation of an entry is byte-identical with the portable one;
 * the portable kernels stay linked (tx_kernels_portable) so tests compare. */
#ifndef TINYXRAY_KERNELS_TX_KERNELS_H_
#define TINYXRAY_KERNELS_TX_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Word alignment for the generated int8 constants (filters are read 4 bytes at
 * a time by the DSP kernels). */
#if defined(__GNUC__) || defined(__clang__)
#define TX_ALIGN4 __attribute__((aligned(4)))
#else
#define TX_ALIGN4
#endif

/* The constants of one output channel of CONV_2D, DEPTHWISE_CONV_2D or
 * FULLY_CONNECTED, in one 12-byte record so a kernel loads them together.
 *
 * bias: where the accumulator starts, bias + input_offset * sum(weights). The
 *   input offset is folded in for every tap, so kernels accumulate raw input
 *   values and read a padding tap as the input zero point (it then adds
 *   w * (zero_point + input_offset) = 0, as TFLM's skipped tap does).
 * multiplier, right_shift: TFLM's quantised multiplier and shift, negated:
 *   right_shift > 0 is a rounding division by 2^right_shift after the
 *   rounding doubling high multiply, right_shift <= 0 a left shift before it.
 *
 * Fast requantisation (tx_arm_dsp.h): smmlar(2 * acc, multiplier, rounding),
 * minus one for a negative acc, arithmetic shift right by right_shift,
 * saturate, where rounding = 2^(right_shift - 1) + output_zero_point *
 * 2^right_shift (derived by the kernels from the shift and the layer, stored
 * for convolutions, below). It equals TFLM's double rounding exactly when |acc| < 2^30,
 * right_shift >= 1 and the sums cannot overflow; the compiler proves that for
 * every channel of a layer from its weights and bias (host/aot/requant.py)
 * and sets the layer's fast_requant, otherwise the exact form is used. */
typedef struct {
  int32_t bias;
  int32_t multiplier;
  int32_t right_shift;
} tx_channel_quant;

/* The same for CONV_2D and FULLY_CONNECTED plus the fast form's rounding
 * constant (meaningful where fast_requant is set): their assembly loops load
 * all four with one LDM per block of outputs. */
typedef struct {
  int32_t bias;
  int32_t multiplier;
  int32_t right_shift;
  int32_t rounding;
} tx_conv_quant;

/* CONV_2D (and FULLY_CONNECTED as a 1x1 convolution of a 1x1 image),
 * per-channel int8 weights [out_c][k_h][k_w][in_c]. */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t input_zero_point; /* the value of a padding tap */
  int32_t output_offset;    /* output zero point */
  int32_t act_min, act_max;
  int32_t fast_requant; /* compiler-proven, see tx_channel_quant */
  const int8_t* filter; /* 4-byte aligned, 4 readable bytes past the end */
  const tx_conv_quant* quant; /* [out_c] */
} tx_conv_params;

/* DEPTHWISE_CONV_2D with depth multiplier 1, weights [k_h][k_w][channels]. */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t input_zero_point;
  int32_t output_offset;
  int32_t act_min, act_max;
  int32_t fast_requant;
  const int8_t* filter;
  const tx_channel_quant* quant; /* [channels] */
} tx_depthwise_params;

/* ADD of two same-shape int8 tensors with requantisation (TFLM's int8 add:
 * left shift 20, each input rescaled to twice the larger scale, summed,
 * rescaled to the output).
 *
 * fast != 0 (compiler-proven, host/aot/requant.py): input2 is the input with
 * the larger scale, whose rescaling is exactly (x + offset) * 2^19, and every
 * requantisation may use the single-multiply form; the fast_* fields are the
 * constants of that form (see tx_add_dsp.c). fast == 2: both inputs have the
 * same scale. With fast == 1 the compiler folds input2's offset term into
 * fast_input1_rounding where that cannot overflow (fast_input2_offset = 0). */
typedef struct {
  int32_t count;
  int32_t left_shift;
  int32_t input1_offset, input1_multiplier, input1_shift;
  int32_t input2_offset, input2_multiplier, input2_shift;
  int32_t output_offset, output_multiplier, output_shift;
  int32_t act_min, act_max;
  int32_t fast;
  int32_t fast_input1_offset;   /* input1_offset << 21 */
  int32_t fast_input1_rounding; /* 2^(-input1_shift - 1), plus the folded offset term */
  int32_t fast_input2_offset;   /* input2_offset << 19 */
  int32_t fast_output_rounding; /* 2^(-output_shift - 1) + output_offset << -output_shift */
} tx_add_params;

/* MEAN over H and W of an HxWxC tensor (TFLM's quantised mean): the int32
 * sum minus count * input zero point, rescaled by a multiplier/shift that
 * already includes the division by the count (see host/aot/lowering.py).
 * fast != 0: the sum fits the single-multiply form (fast_rounding as in
 * tx_channel_quant, with the output zero point). */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t input_zero_point;
  int32_t multiplier, shift;
  int32_t output_zero_point;
  int32_t fast;
  int32_t fast_rounding;
} tx_mean_params;

/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), beta folded
 * into input_multiplier / input_left_shift; diff_min the input radius. */
typedef struct {
  int32_t rows, depth;
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t diff_min;
} tx_softmax_params;

/* QUANTIZE int8 -> int8 (requantisation to another scale/zero point). */
typedef struct {
  int32_t count;
  int32_t input_zero_point;
  int32_t multiplier, shift;
  int32_t output_zero_point;
} tx_requantize_params;

/* PAD of an HxWxC tensor in H and W with a constant (the zero point). */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t pad_top, pad_bottom, pad_left, pad_right;
  int8_t pad_value;
} tx_pad_params;

typedef void (*tx_conv2d_fn)(const tx_conv_params* params, const int8_t* input, int8_t* output);
typedef void (*tx_depthwise_fn)(const tx_depthwise_params* params, const int8_t* input,
                                int8_t* output);
typedef void (*tx_add_fn)(const tx_add_params* params, const int8_t* input1,
                          const int8_t* input2, int8_t* output);
typedef void (*tx_mean_fn)(const tx_mean_params* params, const int8_t* input, int8_t* output);
typedef void (*tx_softmax_fn)(const tx_softmax_params* params, const int8_t* input,
                              int8_t* output);
typedef void (*tx_pad_fn)(const tx_pad_params* params, const int8_t* input, int8_t* output);
typedef void (*tx_requantize_fn)(const tx_requantize_params* params, const int8_t* input,
                                 int8_t* output);

/* One implementation per entry; const, so the table lives in flash. The
 * compiler uses a specialised entry only for the geometry it names. */
typedef struct {
  tx_conv2d_fn conv2d;              /* any CONV_2D */
  tx_conv2d_fn conv2d_1x1;          /* 1x1, stride 1, no padding (and FULLY_CONNECTED) */
  tx_depthwise_fn depthwise_conv2d; /* any DEPTHWISE_CONV_2D */
  tx_depthwise_fn depthwise_conv2d_3x3; /* 3x3, equal strides 1 or 2, padding 0 or 1 */
  tx_add_fn add;
  tx_mean_fn mean;
  tx_softmax_fn softmax;
  tx_pad_fn pad;
  tx_requantize_fn requantize;
} tx_kernel_table;

/* The table the generated model uses (tx_dispatch.c). */
extern const tx_kernel_table tx_kernels;
/* The portable reference implementations, always available. */
extern const tx_kernel_table tx_kernels_portable;
/* "dsp" or "portable": which implementations tx_kernels holds. */
extern const char* const tx_kernels_name;

void tx_conv2d_s8_portable(const tx_conv_params* params, const int8_t* input, int8_t* output);
void tx_depthwise_conv2d_s8_portable(const tx_depthwise_params* params, const int8_t* input,
                                     int8_t* output);
void tx_add_s8_portable(const tx_add_params* params, const int8_t* input1, const int8_t* input2,
                        int8_t* output);
void tx_mean_s8_portable(const tx_mean_params* params, const int8_t* input, int8_t* output);
void tx_softmax_s8_portable(const tx_softmax_params* params, const int8_t* input, int8_t* output);
void tx_pad_s8_portable(const tx_pad_params* params, const int8_t* input, int8_t* output);
void tx_requantize_s8_portable(const tx_requantize_params* params, const int8_t* input,
                               int8_t* output);

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_KERNELS_H_ */
