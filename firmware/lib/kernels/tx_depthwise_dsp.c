/* DEPTHWISE_CONV_2D 3x3, strides 1 and 2, for Armv7E-M (DSP extension):
 * byte-identical with tx_depthwise_conv2d_s8_portable (the
 * depthwise_conv2d_3x3 entry; the compiler picks it for 3x3 windows with equal
 * strides of 1 or 2 and padding 0 or 1).
 *
 * One channel at a time. Its input rows are widened to int16 into a stack
 * buffer with the padding written in (the input zero point, see
 * tx_channel_quant), so no output needs a border test; rows are converted once
 * and kept while the windows need them. Two adjacent outputs are computed per
 * step from int16 pairs of neighbouring columns: per kernel row, SMLAD does
 * two taps and SMLABB/SMLABT the third (stride 1: the pairs (x0,x1), (x1,x2),
 * (x2,x3); stride 2: (x0,x1), (x2,x3), (x4,x5)), with the channel's nine
 * weights packed in five registers. With stride 1 and the fast requantisation
 * the buffer holds doubled inputs, so the accumulator arrives doubled, as the
 * fast form wants it. Layers wider than the buffer use the portable kernel. */
#include "tx_dsp_kernels.h"

#if TX_DSP_KERNELS

#include "tx_arm_dsp.h"

/* Buffer rows: a fixed stride (in int16 values) so the three rows of a window
 * are at constant offsets, and as many rows as fit 2.5 KB. */
#define TX_DW_ROW 112
#define TX_DW_ROWS 11
#define TX_DW_ROW_WORDS (TX_DW_ROW / 2)

enum { kExact = 0, kFast = 1, kFastClamped = 2 };

typedef struct {
  int32_t w01_0, w01_1, w01_2; /* (w[r][0], w[r][1]) for kernel rows r = 0, 1, 2 */
  int32_t w2_01;               /* (w[0][2], w[1][2]) */
  int32_t w2_2;                /* w[2][2] in the low half */
} tx_dw_weights;

typedef struct {
  int32_t multiplier, rounding, right_shift;
  int32_t output_offset, act_min, act_max;
} tx_dw_requant;

static TX_ALWAYS_INLINE int8_t tx_dw_output(int32_t acc, const tx_dw_requant* q, const int mode,
                                            const int doubled) {
  if (mode == kExact) {
    const int32_t value = tx_multiply_exact_dsp(acc, q->multiplier, q->right_shift);
    return (int8_t)tx_clamp(value + q->output_offset, q->act_min, q->act_max);
  }
  const int32_t twice = doubled ? acc : (int32_t)((uint32_t)acc << 1);
  int32_t value = tx_requantize_fast(twice, q->multiplier, q->rounding, q->right_shift);
  if (mode == kFastClamped) {
    value = tx_clamp(value, q->act_min, q->act_max);
  }
  return (int8_t)value;
}

/* One output row of channel c: `row` is the window's first buffer row, `out`
 * the row's first output; outputs are `channels` bytes apart. */
static TX_ALWAYS_INLINE void tx_dw_row(const int32_t* row, int32_t out_w, int32_t channels,
                                       int32_t bias, const tx_dw_weights* w,
                                       const tx_dw_requant* q, int8_t* out, const int stride,
                                       const int mode, const int doubled) {
  const int32_t w01_0 = w->w01_0;
  const int32_t w01_1 = w->w01_1;
  const int32_t w01_2 = w->w01_2;
  const int32_t w2_01 = w->w2_01;
  const int32_t w2_2 = w->w2_2;
  int32_t ox = 0;
  for (; ox + 2 <= out_w; ox += 2) {
    int32_t acc0 = bias;
    int32_t acc1 = bias;
    if (stride == 1) {
      const int32_t* r1 = row + TX_DW_ROW_WORDS;
      const int32_t* r2 = row + 2 * TX_DW_ROW_WORDS;
      acc0 = tx_smlad(w01_0, row[0], acc0);
      acc1 = tx_smlad(w01_0, (int32_t)tx_load32((const int16_t*)row + 1), acc1);
      acc0 = tx_smlabb(w2_01, row[1], acc0);
      acc1 = tx_smlabt(w2_01, row[1], acc1);
      acc0 = tx_smlad(w01_1, r1[0], acc0);
      acc1 = tx_smlad(w01_1, (int32_t)tx_load32((const int16_t*)r1 + 1), acc1);
      acc0 = tx_smlatb(w2_01, r1[1], acc0);
      acc1 = tx_smlatt(w2_01, r1[1], acc1);
      acc0 = tx_smlad(w01_2, r2[0], acc0);
      acc1 = tx_smlad(w01_2, (int32_t)tx_load32((const int16_t*)r2 + 1), acc1);
      acc0 = tx_smlabb(w2_2, r2[1], acc0);
      acc1 = tx_smlabt(w2_2, r2[1], acc1);
      row += 1;
    } else {
      const int32_t* r1 = row + TX_DW_ROW_WORDS;
      const int32_t* r2 = row + 2 * TX_DW_ROW_WORDS;
      acc0 = tx_smlad(w01_0, row[0], acc0);
      acc1 = tx_smlad(w01_0, row[1], acc1);
      acc0 = tx_smlabb(w2_01, row[1], acc0);
      acc1 = tx_smlabb(w2_01, row[2], acc1);
      acc0 = tx_smlad(w01_1, r1[0], acc0);
      acc1 = tx_smlad(w01_1, r1[1], acc1);
      acc0 = tx_smlatb(w2_01, r1[1], acc0);
      acc1 = tx_smlatb(w2_01, r1[2], acc1);
      acc0 = tx_smlad(w01_2, r2[0], acc0);
      acc1 = tx_smlad(w01_2, r2[1], acc1);
      acc0 = tx_smlabb(w2_2, r2[1], acc0);
      acc1 = tx_smlabb(w2_2, r2[2], acc1);
      row += 2;
    }
    out[0] = tx_dw_output(acc0, q, mode, doubled);
    out[channels] = tx_dw_output(acc1, q, mode, doubled);
    out += 2 * channels;
  }
  if (ox < out_w) {
    const int32_t* r1 = row + TX_DW_ROW_WORDS;
    const int32_t* r2 = row + 2 * TX_DW_ROW_WORDS;
    int32_t acc = tx_smlad(w01_0, row[0], bias);
    acc = tx_smlabb(w2_01, row[1], acc);
    acc = tx_smlad(w01_1, r1[0], acc);
    acc = tx_smlatb(w2_01, r1[1], acc);
    acc = tx_smlad(w01_2, r2[0], acc);
    acc = tx_smlabb(w2_2, r2[1], acc);
    out[0] = tx_dw_output(acc, q, mode, doubled);
  }
}

/* Padded row `py` of channel c into `out` (`width` int16 values plus two of
 * slack for the pair loads), each value times `scale` (1, or 2 when doubled). */
static void tx_dw_widen_row(const tx_depthwise_params* p, const int8_t* input, int32_t c,
                            int32_t py, int32_t width, int32_t scale, int16_t* out) {
  const int32_t channels = p->channels;
  const int16_t pad = (int16_t)(p->input_zero_point * scale);
  const int32_t iy = py - p->pad_top;
  int32_t x = 0;
  if (iy >= 0 && iy < p->in_h) {
    for (; x < p->pad_left; ++x) {
      out[x] = pad;
    }
    int32_t count = p->in_w < width - x ? p->in_w : width - x;
    const int8_t* in = input + iy * p->in_w * channels + c;
    int16_t* dst = out + x;
    x += count;
    const int32_t two_channels = 2 * channels;
    for (; count >= 2; count -= 2) {
      int32_t pair = tx_pack16(in[0], in[channels]);
      if (scale == 2) {
        pair = tx_sadd16(pair, pair);
      }
      memcpy(dst, &pair, sizeof(pair));
      dst += 2;
      in += two_channels;
    }
    if (count) {
      *dst = (int16_t)(in[0] * scale);
    }
  }
  for (; x < width + 2; ++x) {
    out[x] = pad;
  }
}

static TX_ALWAYS_INLINE void tx_dw_3x3(const tx_depthwise_params* p, const int8_t* input,
                                       int8_t* output, const int stride, const int mode) {
  int32_t rows[TX_DW_ROWS * TX_DW_ROW_WORDS];
  const int doubled = stride == 1 && mode != kExact;
  const int32_t scale = doubled ? 2 : 1;
  const int32_t channels = p->channels;
  const int32_t out_w = p->out_w;
  const int32_t width = (out_w - 1) * stride + 3;
  const int8_t* filter = p->filter;
  tx_dw_requant q = {0, 0, 0, p->output_offset, p->act_min, p->act_max};
  for (int32_t c = 0; c < channels; ++c) {
    tx_dw_weights w;
    w.w01_0 = tx_pack16(filter[c], filter[channels + c]);
    w.w2_01 = tx_pack16(filter[2 * channels + c], filter[5 * channels + c]);
    w.w01_1 = tx_pack16(filter[3 * channels + c], filter[4 * channels + c]);
    w.w01_2 = tx_pack16(filter[6 * channels + c], filter[7 * channels + c]);
    w.w2_2 = filter[8 * channels + c];
    const tx_channel_quant channel = p->quant[c];
    q.multiplier = channel.multiplier;
    q.rounding = channel.rounding;
    q.right_shift = channel.right_shift;
    const int32_t bias = channel.bias * scale;
    int32_t first = 0; /* padded row held in buffer row 0 */
    int32_t next = 0;  /* next padded row to convert */
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t top = oy * stride;
      while (next <= top + 2) {
        if (next - first == TX_DW_ROWS) {
          /* Full: keep the rows from `top` on, at the start. */
          memmove(rows, rows + (top - first) * TX_DW_ROW_WORDS,
                  (size_t)(next - top) * TX_DW_ROW * sizeof(int16_t));
          first = top;
        }
        tx_dw_widen_row(p, input, c, next, width, scale,
                        (int16_t*)(rows + (next - first) * TX_DW_ROW_WORDS));
        ++next;
      }
      tx_dw_row(rows + (top - first) * TX_DW_ROW_WORDS, out_w, channels, bias, &w, &q,
                output + oy * out_w * channels + c, stride, mode, doubled);
    }
  }
}

void tx_depthwise_conv2d_3x3_s8_dsp(const tx_depthwise_params* p, const int8_t* input,
                                    int8_t* output) {
  const int32_t width = (p->out_w - 1) * p->stride_w + 3;
  if (width + 2 > TX_DW_ROW || p->k_h != 3 || p->k_w != 3 || p->stride_h != p->stride_w ||
      (p->stride_h != 1 && p->stride_h != 2)) {
    tx_depthwise_conv2d_s8_portable(p, input, output);
    return;
  }
  const int fast = p->fast_requant;
  const int clamped = p->act_min != -128 || p->act_max != 127;
  if (p->stride_h == 1) {
    if (!fast) {
      tx_dw_3x3(p, input, output, 1, kExact);
    } else if (clamped) {
      tx_dw_3x3(p, input, output, 1, kFastClamped);
    } else {
      tx_dw_3x3(p, input, output, 1, kFast);
    }
  } else {
    if (!fast) {
      tx_dw_3x3(p, input, output, 2, kExact);
    } else if (clamped) {
      tx_dw_3x3(p, input, output, 2, kFastClamped);
    } else {
      tx_dw_3x3(p, input, output, 2, kFast);
    }
  }
}

#endif /* TX_DSP_KERNELS */
