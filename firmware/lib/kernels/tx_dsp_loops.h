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
  const tx_channel_quant* quant;     /* +24 */
  const tx_channel_quant* quant_end; /* +28: quant + 2 * pairs */
  const int8_t* filter;   /* +32: row of channel `quant` */
} tx_conv_pairs_job;

void tx_dsp_conv_pairs(tx_conv_pairs_job* job);

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
  int32_t multiplier;          /* +24 */
  int32_t rounding;            /* +28 */
  int32_t right_shift;         /* +32 */
  const int32_t* row;          /* +36: first window of the first row */
  int8_t* out;                 /* +40 */
  int32_t channels;            /* +44: bytes from one output to the next */
  int32_t pairs;               /* +48 */
  int32_t rows;                /* +52 */
  int32_t row_step;            /* +56: bytes from one row's first window to the next */
  int32_t tail;                /* +60 */
} tx_dw_job;

void tx_dsp_dw_rows_s1(tx_dw_job* job);
void tx_dsp_dw_rows_s2(tx_dw_job* job);

#ifdef __cplusplus
}
#endif

#endif /* TINYXRAY_KERNELS_TX_DSP_LOOPS_H_ */
