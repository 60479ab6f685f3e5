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

#include <stddef.h>

#include "tx_arm_dsp.h"
#include "tx_dsp_loops.h"

/* Buffer rows (a fixed stride, TX_DW_ROW int16 values, so the three rows of a
 * window are at constant offsets): as many as fit 4 KB of stack. */
#define TX_DW_ROWS 18
#define TX_DW_ROW_WORDS (TX_DW_ROW / 2)

_Static_assert(offsetof(tx_dw_vector_job, plane) == 8 && offsetof(tx_dw_vector_job, rows) == 24,
               "tx_dw_vector_job layout is fixed by tx_dsp_loops.S");
_Static_assert(offsetof(tx_dw_job, bias) == 20 && offsetof(tx_dw_job, right_shift) == 32 &&
                   offsetof(tx_dw_job, row) == 36 && offsetof(tx_dw_job, rows) == 52 &&
                   offsetof(tx_dw_job, tail) == 60,
               "tx_dw_job layout is fixed by tx_dsp_loops.S");

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

/* `count` input values `channels` bytes apart, times `scale`, into int16 `out`. */
static TX_ALWAYS_INLINE void tx_dw_widen(const int8_t* in, int32_t channels, int32_t count,
                                         int16_t* out, const int32_t scale) {
  const int32_t two_channels = 2 * channels;
  for (; count >= 4; count -= 4) {
    int32_t pair0 = tx_pack16(in[0], in[channels]);
    in += two_channels;
    int32_t pair1 = tx_pack16(in[0], in[channels]);
    in += two_channels;
    if (scale == 2) {
      pair0 = tx_sadd16(pair0, pair0);
      pair1 = tx_sadd16(pair1, pair1);
    }
    memcpy(out, &pair0, sizeof(pair0));
    memcpy(out + 2, &pair1, sizeof(pair1));
    out += 4;
  }
  for (; count > 0; --count) {
    *out++ = (int16_t)(in[0] * scale);
    in += channels;
  }
}

/* `count` rows of one channel into the buffer (see tx_dsp_dw_widen). */
static TX_ALWAYS_INLINE void tx_dw_widen_rows(const int8_t* in, int16_t* out, int32_t channels,
                                              int32_t count, int32_t rows, int32_t row_bytes,
                                              const int mode, const int32_t scale) {
  if (mode == kFast) {
    const tx_dw_widen_job job = {channels, count, rows, row_bytes};
    if (scale == 2) {
      tx_dsp_dw_widen_doubled(in, out, &job);
    } else {
      tx_dsp_dw_widen(in, out, &job);
    }
    return;
  }
  for (int32_t i = 0; i < rows; ++i) {
    tx_dw_widen(in, channels, count, out, scale);
    in += row_bytes;
    out += TX_DW_ROW;
  }
}

/* The interior of buffer row `slot` set to the pad value. */
static void tx_dw_pad_row(int32_t* rows, int32_t slot, int32_t pad_left, int32_t interior,
                          int16_t pad) {
  int16_t* row = (int16_t*)(rows + slot * TX_DW_ROW_WORDS) + pad_left;
  for (int32_t i = 0; i < interior; ++i) {
    row[i] = pad;
  }
}

/* The pad value in columns [0, width + 2) of every buffer row (the pad columns
 * are never written again; data rows overwrite only their interior). */
static void tx_dw_fill_pads(int32_t* rows, int32_t slots, int32_t width, int16_t pad) {
  const int32_t words = (width + 3) / 2;
  const int32_t pair = tx_pack16(pad, pad);
  for (int32_t slot = 0; slot < slots; ++slot) {
    int32_t* row = rows + slot * TX_DW_ROW_WORDS;
    for (int32_t i = 0; i < words; ++i) {
      row[i] = pair;
    }
  }
}

/* Output rows [oy, oy + count) of channel c; their windows' first rows start at
 * `row`. The fast full-range case runs in assembly. */
static TX_ALWAYS_INLINE void tx_dw_rows(tx_dw_job* job, const tx_dw_weights* w,
                                        const tx_dw_requant* q, const int32_t* row,
                                        int32_t out_w, int32_t channels, int8_t* out,
                                        int32_t count, const int stride, const int mode,
                                        const int doubled) {
  if (count <= 0) {
    return;
  }
  if (mode == kFast) {
    job->row = row;
    job->out = out;
    job->rows = count;
    if (stride == 1) {
      tx_dsp_dw_rows_s1(job);
    } else {
      tx_dsp_dw_rows_s2(job);
    }
    return;
  }
  for (int32_t i = 0; i < count; ++i) {
    tx_dw_row(row, out_w, channels, job->bias, w, q, out, stride, mode, doubled);
    row += stride * TX_DW_ROW_WORDS;
    out += out_w * channels;
  }
}

static TX_ALWAYS_INLINE void tx_dw_3x3(const tx_depthwise_params* p, const int8_t* input,
                                       int8_t* output, const int stride, const int mode) {
  int32_t rows[TX_DW_ROWS * TX_DW_ROW_WORDS];
  const int doubled = stride == 1 && mode != kExact;
  const int32_t scale = doubled ? 2 : 1;
  const int32_t channels = p->channels;
  const int32_t out_w = p->out_w;
  const int32_t out_h = p->out_h;
  const int32_t width = (out_w - 1) * stride + 3;
  const int32_t height = (out_h - 1) * stride + 3;
  const int8_t* filter = p->filter;
  tx_dw_requant q = {0, 0, 0, p->output_offset, p->act_min, p->act_max};
  const int32_t in_h = p->in_h;
  const int32_t pad_top = p->pad_top;
  const int32_t pad_left = p->pad_left;
  const int32_t row_bytes = p->in_w * channels;
  /* Input columns inside the windows (VALID or stride 2 may leave the last out). */
  const int32_t interior = p->in_w < width - pad_left ? p->in_w : width - pad_left;
  const int16_t pad = (int16_t)(p->input_zero_point * scale);
  const int resident = height <= TX_DW_ROWS;
  tx_dw_fill_pads(rows, resident ? height : TX_DW_ROWS, width, pad);
  tx_dw_job job;
  job.channels = channels;
  job.pairs = out_w / 2;
  job.row_step = stride * TX_DW_ROW_BYTES;
  job.tail = out_w & 1;
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
    job.w01_0 = w.w01_0;
    job.w01_1 = w.w01_1;
    job.w01_2 = w.w01_2;
    job.w2_01 = w.w2_01;
    job.w2_2 = w.w2_2;
    job.bias = channel.bias * scale;
    job.multiplier = channel.multiplier;
    job.rounding = channel.rounding;
    job.right_shift = channel.right_shift;
    /* Padded rows [first, next) are in the buffer, row `first` at the top. */
    int32_t first = 0;
    int32_t next = 0;
    int32_t oy = 0;
    while (oy < out_h) {
      const int32_t limit = height < first + TX_DW_ROWS ? height : first + TX_DW_ROWS;
      /* Padding rows: already in place when the plane is resident (written
       * once above), rewritten when a data row may have used the slot. */
      for (; next < limit && next < pad_top; ++next) {
        if (!resident) {
          tx_dw_pad_row(rows, next - first, pad_left, interior, pad);
        }
      }
      const int32_t data_end = limit < pad_top + in_h ? limit : pad_top + in_h;
      if (next < data_end) {
        tx_dw_widen_rows(input + (next - pad_top) * row_bytes + c,
                         (int16_t*)(rows + (next - first) * TX_DW_ROW_WORDS) + pad_left,
                         channels, interior, data_end - next, row_bytes, mode, scale);
        next = data_end;
      }
      for (; next < limit; ++next) {
        if (!resident) {
          tx_dw_pad_row(rows, next - first, pad_left, interior, pad);
        }
      }
      /* The output rows whose three window rows are all in. */
      int32_t end = (next - 3) / stride + 1;
      end = end < out_h ? end : out_h;
      tx_dw_rows(&job, &w, &q, rows + (oy * stride - first) * TX_DW_ROW_WORDS, out_w, channels,
                 output + oy * out_w * channels + c, end - oy, stride, mode, doubled);
      oy = end;
      if (oy < out_h) {
        const int32_t keep = oy * stride;
        memmove(rows, rows + (keep - first) * TX_DW_ROW_WORDS,
                (size_t)(next - keep) * TX_DW_ROW_BYTES);
        first = keep;
      }
    }
  }
}

/* Small planes (narrower than TX_DW_VECTOR_WIDTH outputs), four channels at a
 * time: one pass of tx_dsp_dw_vector_s1/s2 per group over a padded copy of
 * its plane, 103 instructions per output pixel of four channels. On such
 * planes the one-channel rows above spend more on row and channel set-up
 * than on MACs. */
#define TX_DW_VECTOR_WIDTH 8

static int tx_dw_uses_vector(const tx_depthwise_params* p) {
  const int32_t stride = p->stride_h;
  const int32_t width = (p->out_w - 1) * stride + 3;
  const int32_t height = (p->out_h - 1) * stride + 3;
  return p->fast_requant && p->act_min == -128 && p->act_max == 127 && (p->channels & 3) == 0 &&
         p->out_w < TX_DW_VECTOR_WIDTH && width <= TX_DW_PLANE_ROW && height <= TX_DW_PLANE_ROW;
}

static __attribute__((noinline)) void tx_dw_3x3_vector(const tx_depthwise_params* p,
                                                       const int8_t* input, int8_t* output) {
  int32_t plane[TX_DW_PLANE_ROW * TX_DW_PLANE_ROW];
  int32_t weights[18];
  int32_t constants[16];
  const int32_t channels = p->channels;
  const int32_t stride = p->stride_h;
  const int32_t width = (p->out_w - 1) * stride + 3;
  const int32_t height = (p->out_h - 1) * stride + 3;
  const int32_t pad_top = p->pad_top;
  const int32_t pad_left = p->pad_left;
  const int32_t rows = p->in_h < height - pad_top ? p->in_h : height - pad_top;
  const int32_t columns = p->in_w < width - pad_left ? p->in_w : width - pad_left;
  const int32_t row_bytes = p->in_w * channels;
  /* The padding (the zero point in all four bytes) once; interiors per group. */
  const int32_t pad = (int32_t)((uint32_t)(uint8_t)p->input_zero_point * 0x01010101u);
  for (int32_t y = 0; y < height; ++y) {
    for (int32_t x = 0; x < width; ++x) {
      plane[y * TX_DW_PLANE_ROW + x] = pad;
    }
  }
  tx_dw_vector_job job = {weights, constants, plane, output, channels, p->out_w, p->out_h};
  for (int32_t c = 0; c < channels; c += 4) {
    for (int32_t iy = 0; iy < rows; ++iy) {
      const int8_t* in = input + iy * row_bytes + c;
      int32_t* cell = plane + (iy + pad_top) * TX_DW_PLANE_ROW + pad_left;
      for (int32_t ix = 0; ix < columns; ++ix) {
        cell[ix] = (int32_t)tx_load32(in);
        in += channels;
      }
    }
    for (int32_t tap = 0; tap < 9; ++tap) {
      const uint32_t word = tx_load32(p->filter + tap * channels + c);
      const int32_t even = tx_sxtb16(word);
      const int32_t odd = tx_sxtb16_ror8(word);
      weights[2 * tap] = tx_sadd16(even, even);
      weights[2 * tap + 1] = tx_sadd16(odd, odd);
    }
    for (int32_t k = 0; k < 4; ++k) {
      const tx_channel_quant* q = &p->quant[c + k];
      constants[k] = q->bias * 2;
      constants[4 + 3 * k] = q->multiplier;
      constants[5 + 3 * k] = q->rounding;
      constants[6 + 3 * k] = q->right_shift;
    }
    job.out = output + c;
    job.rows = p->out_h;
    if (stride == 1) {
      tx_dsp_dw_vector_s1(&job);
    } else {
      tx_dsp_dw_vector_s2(&job);
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
  if (tx_dw_uses_vector(p)) {
    tx_dw_3x3_vector(p, input, output);
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
