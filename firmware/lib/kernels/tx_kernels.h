/* tinyxray int8 kernels: parameter blocks, portable implementations and the
 * dispatch table the generated model calls through.
 *
 * All tensors are NHWC with batch 1. Parameter blocks are built at compile
 * time by the AOT compiler (host/aot) and live in flash as const data: every
 * multiplier, shift, zero point and activation bound is precomputed there.
 *
 * Optimised variants: `tx_kernels` (tx_dispatch.c) maps each op to an
 * implementation chosen at build time, per op, with the portable one as the
 * default, e.g. -DTX_IMPL_CONV2D=tx_conv2d_s8_cmsis. A variant must be
 * byte-identical with the portable kernel it replaces; the portable kernels
 * stay compiled so tests can compare them. */
#ifndef TINYXRAY_KERNELS_TX_KERNELS_H_
#define TINYXRAY_KERNELS_TX_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D, per-channel int8 weights [out_c][k_h][k_w][in_c]. */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t input_offset;  /* -input zero point */
  int32_t output_offset; /* output zero point */
  int32_t act_min, act_max;
  const int8_t* filter;
  /* Bias per output channel, or NULL. For a pointwise conv (1x1, no padding)
   * the compiler folds input_offset * sum(filter) into it and sets
   * bias_has_input_offset, which lets the kernel skip the per-MAC offset. */
  const int32_t* bias;
  int32_t bias_has_input_offset;
  const int32_t* multiplier; /* [out_c] */
  const int32_t* shift;      /* [out_c] */
} tx_conv_params;

/* DEPTHWISE_CONV_2D with depth multiplier 1, weights [k_h][k_w][c]. */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left;
  int32_t input_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  const int8_t* filter;
  const int32_t* bias; /* [channels] or NULL */
  /* bias + input_offset * sum of the channel's weights (compile time): the
   * whole accumulator offset for outputs whose window has no padding taps. */
  const int32_t* interior_bias;
  const int32_t* multiplier;
  const int32_t* shift;
} tx_depthwise_params;

/* ADD of two same-shape int8 tensors with requantisation. */
typedef struct {
  int32_t count;
  int32_t left_shift;
  int32_t input1_offset, input1_multiplier, input1_shift;
  int32_t input2_offset, input2_multiplier, input2_shift;
  int32_t output_offset, output_multiplier, output_shift;
  int32_t act_min, act_max;
} tx_add_params;

/* MEAN over H and W of an HxWxC tensor (TFLM's quantised mean): the int32
 * sum minus count * input zero point, rescaled by a multiplier/shift that
 * already includes the division by the count (see host/aot/lowering.py). */
typedef struct {
  int32_t in_h, in_w, channels;
  int32_t input_zero_point;
  int32_t multiplier, shift;
  int32_t output_zero_point;
} tx_mean_params;

/* FULLY_CONNECTED, int8 weights [out][in], per-tensor or per-channel. */
typedef struct {
  int32_t in_features, out_features;
  int32_t input_offset;
  int32_t filter_offset;
  int32_t output_offset;
  int32_t act_min, act_max;
  const int8_t* filter;
  const int32_t* bias; /* [out_features] or NULL */
  int32_t per_channel; /* 0: multiplier[0]/shift[0] for every output */
  const int32_t* multiplier;
  const int32_t* shift;
} tx_fully_connected_params;

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
typedef void (*tx_fully_connected_fn)(const tx_fully_connected_params* params,
                                      const int8_t* input, int8_t* output);
typedef void (*tx_softmax_fn)(const tx_softmax_params* params, const int8_t* input,
                              int8_t* output);
typedef void (*tx_pad_fn)(const tx_pad_params* params, const int8_t* input, int8_t* output);
typedef void (*tx_requantize_fn)(const tx_requantize_params* params, const int8_t* input,
                                 int8_t* output);

/* One implementation per op; const, so the table lives in flash. */
typedef struct {
  tx_conv2d_fn conv2d;
  tx_depthwise_fn depthwise_conv2d;
  tx_add_fn add;
  tx_mean_fn mean;
  tx_fully_connected_fn fully_connected;
  tx_softmax_fn softmax;
  tx_pad_fn pad;
  tx_requantize_fn requantize;
} tx_kernel_table;

/* The table the generated model uses (tx_dispatch.c). */
extern const tx_kernel_table tx_kernels;
/* The portable reference implementations, always available. */
extern const tx_kernel_table tx_kernels_portable;

void tx_conv2d_s8_portable(const tx_conv_params* params, const int8_t* input, int8_t* output);
void tx_depthwise_conv2d_s8_portable(const tx_depthwise_params* params, const int8_t* input,
                                     int8_t* output);
void tx_add_s8_portable(const tx_add_params* params, const int8_t* input1, const int8_t* input2,
                        int8_t* output);
void tx_mean_s8_portable(const tx_mean_params* params, const int8_t* input, int8_t* output);
void tx_fully_connected_s8_portable(const tx_fully_connected_params* params, const int8_t* input,
                                    int8_t* output);
void tx_softmax_s8_portable(const tx_softmax_params* params, const int8_t* input, int8_t* output);
void tx_pad_s8_portable(const tx_pad_params* params, const int8_t* input, int8_t* output);
void tx_requantize_s8_portable(const tx_requantize_params* params, const int8_t* input,
                               int8_t* output);

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_KERNELS_H_ */
