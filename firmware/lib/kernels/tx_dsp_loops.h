/* The inner loops of the DSP kernels, in Thumb-2 assembly (tx_dsp_loops.S),
 * and the job blocks their C callers fill. Written in assembly because the
 * loops need all fourteen registers: compilers spill weights or loop bounds
 * there (GCC 12 took 60 instructions for the 35 of a depthwise step), and
 * instruction counts should not depend on the compiler a user has (GCC 7 for
 * the Nano 33 BLE). Only the fast requantisation with the full int8 range is
 * here; clamped activations and the exact form stay in C.
 *
 * The field offsets are part of the assembly's contract: the static
 * assertions in the C files check them. */
#ifndef TINYXRAY_KERNELS_TX_DSP_LOOPS_H_
#define TINYXRAY_KERNELS_TX_DSP_LOOPS_H_

#include <stdint.h>

#include "tx_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every pair of output channels for two pixels (tx_conv_dsp.c): `x` holds the
 * pixels' widened patches, per group of four values the two words of pixel 0
 * then pixel 1; weight rows are `depth` bytes long. */
typedef struct {
  const int32_t* x;       /* +0 */
  const int32_t* x_end;   /* +4: x + 4 * groups */
  int32_t row_offset;     /* +8: depth - 4 (row oc+1 from row oc's next word) */
  int32_t row_advance;    /* +12: 2 * depth - 4 * groups */
  int8_t* out0;           /* +16 */
  int8_t* out1;           /* +20 */
  const tx_conv_quant* quant;     /* +24 */
  const tx_conv_quant* quant_end; /* +28: quant + 2 * pairs */
  const int8_t* filter;   /* +32: row of channel `quant` */
} tx_conv_pairs_job;

/* For an even number of groups, and for an odd one. */
void tx_dsp_conv_pairs(tx_conv_pairs_job* job);
void tx_dsp_conv_pairs_odd(tx_conv_pairs_job* job);

/* A whole 1x1 convolution whose depth is a multiple of 4 and channel count
 * even, over `in`'s pixel pairs [in, in_end): each pair widened into `x` in
 * assembly, then as tx_dsp_conv_pairs (the first nine fields alike). */
typedef struct {
  const int32_t* x;       /* +0: scratch for one widened pair */
  const int32_t* x_end;   /* +4 */
  int32_t row_offset;     /* +8 */
  int32_t row_advance;    /* +12 */
  int8_t* out0;           /* +16: output of the first pair */
  int8_t* out1;           /* +20 */
  const tx_conv_quant* quant;     /* +24: channel 0 */
  const tx_conv_quant* quant_end; /* +28 */
  const int8_t* filter;   /* +32 */
  const int8_t* in;       /* +36: the first pair's pixel 0 */
  const int8_t* in_end;   /* +40: in + 2 * depth * pairs */
  int32_t depth;          /* +44 */
  int32_t out_c;          /* +48 */
  int32_t unused;         /* +52 */
} tx_conv_1x1_job;

void tx_dsp_conv_1x1(tx_conv_1x1_job* job);
void tx_dsp_conv_1x1_odd(tx_conv_1x1_job* job);

/* The fast ADD with input2's offset folded (fast == 1, fast_input2_offset
 * == 0) over an even number of elements, [in1, in1_end). */
typedef struct {
  const int8_t* in1_end;
  int32_t offset1;     /* fast_input1_offset */
  int32_t multiplier1; /* input1_multiplier */
  int32_t rounding1;   /* fast_input1_rounding */
  int32_t shift1;      /* -input1_shift */
  int32_t multiplier;  /* output_multiplier */
  int32_t rounding;    /* fast_output_rounding */
  int32_t shift;       /* -output_shift */
} tx_add_job;

void tx_dsp_add(const int8_t* in1, const int8_t* in2, int8_t* out, const tx_add_job* job);

/* Every output channel (a multiple of 4) of one pixel widened in `x` (per
 * group its two words), in blocks of four channels. */
typedef struct {
  const int32_t* x;       /* +0 */
  const int32_t* x_end;   /* +4: x + 2 * groups */
  int32_t row_offset;     /* +8: depth - 4 (row oc+1 from row oc's next word) */
  int32_t row_advance;    /* +12: 4 * depth - 4 * groups */
  int8_t* out;            /* +16 */
  const tx_conv_quant* quant;     /* +20 */
  const tx_conv_quant* quant_end; /* +24 */
  const int8_t* filter;   /* +28 */
  int32_t row_offset2;    /* +32: 2 * depth - 4 */
  int32_t row_offset3;    /* +36: 3 * depth - 4 */
} tx_conv_one_job;

void tx_dsp_conv_one(tx_conv_one_job* job);
void tx_dsp_conv_one_odd(tx_conv_one_job* job);
/* The same in blocks of two channels (row_advance = 2 * depth - 4 * groups). */
void tx_dsp_conv_one2(tx_conv_one_job* job);
void tx_dsp_conv_one2_odd(tx_conv_one_job* job);

/* Every output channel of one pixel whose window (at most ten values) is in
 * five int16 pairs `taps`; `channels` holds per output channel nine words:
 * the five weight pairs in the same order and the bias, all doubled (the
 * accumulator arrives doubled), multiplier, rounding, right_shift. */
void tx_dsp_conv_taps(const int32_t* taps, const int32_t* channels, const int32_t* channels_end,
                      int8_t* out);

/* One channel of a depthwise 3x3 convolution over buffer rows
 * TX_DW_ROW_BYTES apart (tx_depthwise_dsp.c), `rows` output rows of
 * `pairs` output pairs, plus one more output per row when `tail`. */
typedef struct {
  int32_t w01_0, w01_1, w01_2; /* +0: (w[r][0], w[r][1]) of kernel rows r = 0, 1, 2 */
  int32_t w2_01;               /* +12: (w[0][2], w[1][2]) */
  int32_t w2_2;                /* +16: w[2][2] */
  int32_t bias;                /* +20: doubled with stride 1 (the buffer holds 2x) */
  int32_t bias_again;          /* +24: the same (one LDM starts both accumulators) */
  int32_t multiplier;          /* +28 */
  int32_t rounding;            /* +32 */
  int32_t right_shift;         /* +36 */
  const int32_t* row;          /* +40: first window of the first row */
  int8_t* out;                 /* +44 */
  int32_t channels;            /* +48: bytes from one output to the next */
  int32_t pairs;               /* +52 */
  int32_t rows;                /* +56 */
  int32_t row_step;            /* +60: bytes from one row's first window to the next */
  int32_t tail;                /* +64 */
} tx_dw_job;

void tx_dsp_dw_rows_s1(tx_dw_job* job);
void tx_dsp_dw_rows_s2(tx_dw_job* job);

/* Four channels of a small depthwise 3x3 layer from a padded copy of their
 * plane: one word (the four channels) per pixel, rows TX_DW_PLANE_ROW_BYTES
 * apart; outputs stored in NHWC. */
typedef struct {
  const int32_t* weights;   /* +0: per tap (w0, w2), (w1, w3) doubled: 18 words */
  const int32_t* constants; /* +4: 4 doubled biases, then multiplier, rounding,
                               right_shift of each channel: 16 words */
  const int32_t* plane;     /* +8: the first window's top-left pixel */
  int8_t* out;              /* +12: channel 0 of the first output */
  int32_t channels;         /* +16: bytes from one output pixel to the next */
  int32_t out_w;            /* +20 */
  int32_t rows;             /* +24: output rows (>= 1) */
} tx_dw_vector_job;

void tx_dsp_dw_vector_s1(tx_dw_vector_job* job);
void tx_dsp_dw_vector_s2(tx_dw_vector_job* job);

/* `rows` input rows of one channel into the buffer, from `in` (the channel's
 * first value) to `out` (rows TX_DW_ROW_BYTES apart), widened to int16. */
typedef struct {
  int32_t channels;  /* +0: bytes between values of the channel */
  int32_t count;     /* +4: values per row (>= 1) */
  int32_t rows;      /* +8: >= 1 */
  int32_t row_bytes; /* +12: bytes between input rows */
} tx_dw_widen_job;

void tx_dsp_dw_widen(const int8_t* in, int16_t* out, const tx_dw_widen_job* job);
void tx_dsp_dw_widen_doubled(const int8_t* in, int16_t* out, const tx_dw_widen_job* job);
/* Four channels at once (`in` at the first, a word per pixel), into four
 * planes TX_DW_PLANE_BYTES apart (`out` in the first). */
void tx_dsp_dw_widen4(const int8_t* in, int16_t* out, const tx_dw_widen_job* job);
void tx_dsp_dw_widen4_doubled(const int8_t* in, int16_t* out, const tx_dw_widen_job* job);

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_DSP_LOOPS_H_ */
