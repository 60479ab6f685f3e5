/* DEPTHWISE_CONV_2D 3x3, strides 1 and 2, for Armv7E-M (DSP extension):
 * byte-identical with tx_depthwise_conv2d_s8_portable (the
 * depthwise_conv2d_3x3 entry; the compiler picks it for 3x3 windows with equal
 * strides of 1 or 2 and padding 0 or 1).
 *
 * Channel planes. A channel's input rows are widened to int16 into a stack
 * buffer with the padding written in (the input zero point, see
 * tx_channel_quant), so no output needs a border test; rows are converted once
 * and kept while the windows need them. Four channels are gathered at once
 * (one word load per pixel) into four planes processed in lockstep; a
 * remainder of channels one plane at a time. Two adjacent outputs are computed
 * per step from int16 pairs of neighbouring columns: per kernel row, SMLAD
 * does two taps and a halfword MAC the third (stride 1: the pairs (x0,x1),
 * (x1,x2), (x2,x3); stride 2: (x0,x1), (x2,x3), (x4,x5)), with the channel's
 * nine weights packed in five registers (tx_dsp_dw_rows_s1/s2). With stride 1
 * and the fast requantisation the buffer holds doubled inputs, so the
 * accumulator arrives doubled, as the fast form wants it.
 *
 * Small planes (rows of up to 4 outputs, 7 with stride 2) go four channels at
 * a time straight from NHWC words instead (tx_dsp_dw_vector_s1/s2). Layers
 * wider than the buffer use the portable kernel. */
#include "tx_dsp_kernels.h"

#if TX_DSP_KERNELS

#include <stddef.h>

#include "tx_arm_dsp.h"
#include "tx_dsp_loops.h"

#define TX_DW_ROW_WORDS (TX_DW_ROW / 2)
#define TX_DW_PLANE_WORDS (TX_DW_PLANE_BYTES / 4)

_Static_assert(offsetof(tx_dw_vector_job, plane) == 8 && offsetof(tx_dw_vector_job, rows) == 24,
               "tx_dw_vector_job layout is fixed by tx_dsp_loops.S");
_Static_assert(offsetof(tx_dw_job, bias) == 20 && offsetof(tx_dw_job, multiplier) == 28 &&
                   offsetof(tx_dw_job, right_shift) == 36 && offsetof(tx_dw_job, row) == 40 &&
                   offsetof(tx_dw_job, rows) == 56 && offsetof(tx_dw_job, tail) == 64,
               "tx_dw_job layout is fixed by tx_dsp_loops.S");
_Static_assert(offsetof(tx_dw_widen_job, row_bytes) == 12,
               "tx_dw_widen_job layout is fixed by tx_dsp_loops.S");

enum { kExact = 0, kFast = 1, kFastClamped = 2 };

/* The layer's geometry in the buffer. */
typedef struct {
  int32_t stride, width, height; /* padded columns and rows the windows use */
  int32_t interior;              /* input columns inside them */
  int32_t words;                 /* words of a buffer row in use (slack included) */
  int32_t scale;                 /* 2 when the buffer holds doubled inputs */
  int16_t pad;                   /* the padding value (times scale) */
} tx_dw_layout;

static int8_t tx_dw_output(const tx_depthwise_params* p, const tx_dw_job* job, int32_t acc,
                          int mode) {
  if (mode == kExact) {
    const int32_t value = tx_multiply_exact_dsp(acc, job->multiplier, job->right_shift);
    return (int8_t)tx_clamp(value + p->output_offset, p->act_min, p->act_max);
  }
  /* The fast modes: doubled already with stride 1 (scale 2). */
  const int32_t twice = p->stride_w == 1 ? acc : (int32_t)((uint32_t)acc << 1);
  const int32_t value = tx_requantize_fast(twice, job->multiplier, job->rounding,
                                           job->right_shift);
  return (int8_t)tx_clamp(value, p->act_min, p->act_max);
}

/* The rows of job in C, for the clamped and exact modes (tx_dsp_dw_rows_s1/s2
 * do the fast full-range one). */
static void tx_dw_rows_c(const tx_depthwise_params* p, const tx_dw_job* job, int mode) {
  const int32_t channels = job->channels;
  const int32_t out_w = p->out_w;
  const int32_t stride = p->stride_w;
  const int32_t* window = job->row;
  int8_t* out = job->out;
  for (int32_t oy = 0; oy < job->rows; ++oy) {
    const int32_t* row = window;
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int16_t* r0 = (const int16_t*)row + ox * stride;
      const int16_t* r1 = r0 + TX_DW_ROW;
      const int16_t* r2 = r1 + TX_DW_ROW;
      int32_t acc = job->bias;
      acc = tx_smlad(job->w01_0, (int32_t)tx_load32(r0), acc);
      acc = tx_smlabb(job->w2_01, r0[2], acc);
      acc = tx_smlad(job->w01_1, (int32_t)tx_load32(r1), acc);
      acc = tx_smlatb(job->w2_01, r1[2], acc);
      acc = tx_smlad(job->w01_2, (int32_t)tx_load32(r2), acc);
      acc = tx_smlabb(job->w2_2, r2[2], acc);
      out[ox * channels] = tx_dw_output(p, job, acc, mode);
    }
    window += stride * TX_DW_ROW_WORDS;
    out += out_w * channels;
  }
}

/* Channel c's weights, packed as the row loops read them, and constants. */
static void tx_dw_channel(const tx_depthwise_params* p, int32_t c, int32_t scale,
                          tx_dw_job* job) {
  const int8_t* w = p->filter + c;
  const int32_t channels = p->channels;
  job->w01_0 = tx_pack16(w[0], w[channels]);
  job->w2_01 = tx_pack16(w[2 * channels], w[5 * channels]);
  job->w01_1 = tx_pack16(w[3 * channels], w[4 * channels]);
  job->w01_2 = tx_pack16(w[6 * channels], w[7 * channels]);
  job->w2_2 = w[8 * channels];
  const tx_channel_quant* q = &p->quant[c];
  job->bias = q->bias * scale;
  job->bias_again = job->bias;
  job->multiplier = q->multiplier;
  job->rounding = tx_rounding(q->right_shift, p->output_offset);
  job->right_shift = q->right_shift;
}

/* `count` input values `channels` bytes apart, times `scale`, into `out`. */
static void tx_dw_widen_c(const int8_t* in, int32_t channels, int32_t count, int16_t* out,
                          int32_t scale) {
  for (int32_t i = 0; i < count; ++i) {
    out[i] = (int16_t)(in[i * channels] * scale);
  }
}

/* Input rows [iy, iy + rows) of channels c.. (one or four planes) into
 * buffer rows starting at `slot`. */
static void tx_dw_widen_rows(const tx_depthwise_params* p, const tx_dw_layout* layout,
                             const int8_t* input, int32_t c, int32_t planes, int32_t iy,
                             int32_t rows, int32_t* slot, int mode) {
  const int32_t row_bytes = p->in_w * p->channels;
  const int8_t* in = input + iy * row_bytes + c;
  int16_t* out = (int16_t*)slot + p->pad_left;
  const tx_dw_widen_job job = {p->channels, layout->interior, rows, row_bytes};
  if (planes == 4) {
    if (layout->scale == 2) {
      tx_dsp_dw_widen4_doubled(in, out, &job);
    } else {
      tx_dsp_dw_widen4(in, out, &job);
    }
  } else if (mode == kFast || mode == kFastClamped) {
    if (layout->scale == 2) {
      tx_dsp_dw_widen_doubled(in, out, &job);
    } else {
      tx_dsp_dw_widen(in, out, &job);
    }
  } else {
    for (int32_t i = 0; i < rows; ++i) {
      tx_dw_widen_c(in, p->channels, layout->interior, out, layout->scale);
      in += row_bytes;
      out += TX_DW_ROW;
    }
  }
}

/* n words (a multiple of 4 is copied four at a time; newlib-nano's memcpy goes
 * byte by byte). */
static TX_ALWAYS_INLINE void tx_dw_copy_words(int32_t* to, const int32_t* from, int32_t n) {
  for (; n >= 4; n -= 4) {
    const int32_t a = from[0];
    const int32_t b = from[1];
    const int32_t c = from[2];
    const int32_t d = from[3];
    to[0] = a;
    to[1] = b;
    to[2] = c;
    to[3] = d;
    from += 4;
    to += 4;
  }
  for (; n > 0; --n) {
    *to++ = *from++;
  }
}

/* The interior of buffer row `slot` of each plane set to the padding. */
static void tx_dw_pad_row(const tx_depthwise_params* p, const tx_dw_layout* layout,
                          int32_t* slot, int32_t planes) {
  /* Whole words from column 0: the pad columns hold the padding already. */
  const int32_t words = (p->pad_left + layout->interior + 1) / 2;
  const int32_t pair = tx_pack16(layout->pad, layout->pad);
  for (int32_t k = 0; k < planes; ++k) {
    int32_t* row = slot + k * TX_DW_PLANE_WORDS;
    for (int32_t i = 0; i < words; ++i) {
      row[i] = pair;
    }
  }
}

/* Channels [c, c + planes) over the whole layer: fill the buffer with the rows
 * the next windows need, run the output rows whose windows are in, keep the
 * rows still needed, repeat. */
static void tx_dw_planes(const tx_depthwise_params* p, const tx_dw_layout* layout,
                         int32_t* rows, const int8_t* input, int8_t* output, int32_t c,
                         int32_t planes, int mode) {
  const int32_t slots = TX_DW_ROWS / (planes == 4 ? 4 : 1);
  const int32_t stride = layout->stride;
  const int32_t out_h = p->out_h;
  const int32_t out_w = p->out_w;
  const int32_t channels = p->channels;
  tx_dw_job jobs[4];
  for (int32_t k = 0; k < planes; ++k) {
    tx_dw_channel(p, c + k, layout->scale, &jobs[k]);
    jobs[k].channels = channels;
    jobs[k].pairs = out_w / 2;
    jobs[k].row_step = stride * TX_DW_ROW_BYTES;
    jobs[k].tail = out_w & 1;
  }
  const int32_t data_begin = p->pad_top;
  const int32_t data_end = p->pad_top + p->in_h;
  int32_t first = 0; /* padded row held in slot 0 */
  int32_t next = 0;  /* next padded row to convert */
  int32_t oy = 0;
  while (oy < out_h) {
    const int32_t limit = layout->height < first + slots ? layout->height : first + slots;
    for (; next < limit && next < data_begin; ++next) {
      tx_dw_pad_row(p, layout, rows + (next - first) * TX_DW_ROW_WORDS, planes);
    }
    const int32_t convert_end = limit < data_end ? limit : data_end;
    if (next < convert_end) {
      tx_dw_widen_rows(p, layout, input, c, planes, next - data_begin, convert_end - next,
                       rows + (next - first) * TX_DW_ROW_WORDS, mode);
      next = convert_end;
    }
    for (; next < limit; ++next) {
      tx_dw_pad_row(p, layout, rows + (next - first) * TX_DW_ROW_WORDS, planes);
    }
    /* The output rows whose three window rows are all in. */
    int32_t end = (next - 3) / stride + 1;
    end = end < out_h ? end : out_h;
    for (int32_t k = 0; k < planes; ++k) {
      tx_dw_job* job = &jobs[k];
      job->row = rows + k * TX_DW_PLANE_WORDS + (oy * stride - first) * TX_DW_ROW_WORDS;
      job->out = output + oy * out_w * channels + c + k;
      job->rows = end - oy;
      if (mode == kFast) {
        if (stride == 1) {
          tx_dsp_dw_rows_s1(job);
        } else {
          tx_dsp_dw_rows_s2(job);
        }
      } else {
        tx_dw_rows_c(p, job, mode);
      }
    }
    oy = end;
    if (oy < out_h) {
      /* Keep the rows from oy * stride on, at the top of each plane (the used
       * words of each row; they never overlap the rows they replace). */
      const int32_t keep = oy * stride;
      for (int32_t k = 0; k < planes; ++k) {
        int32_t* to = rows + k * TX_DW_PLANE_WORDS;
        const int32_t* from = to + (keep - first) * TX_DW_ROW_WORDS;
        for (int32_t row = keep; row < next; ++row) {
          tx_dw_copy_words(to, from, layout->words);
          to += TX_DW_ROW_WORDS;
          from += TX_DW_ROW_WORDS;
        }
      }
      first = keep;
    }
  }
}

static __attribute__((noinline)) void tx_dw_3x3(const tx_depthwise_params* p,
                                                const int8_t* input, int8_t* output, int mode) {
  const int32_t stride = p->stride_w;
  int32_t rows[TX_DW_ROWS * TX_DW_ROW_WORDS];
  tx_dw_layout layout;
  layout.stride = stride;
  layout.width = (p->out_w - 1) * stride + 3;
  layout.height = (p->out_h - 1) * stride + 3;
  layout.interior = p->in_w < layout.width - p->pad_left ? p->in_w : layout.width - p->pad_left;
  layout.scale = stride == 1 && mode != kExact ? 2 : 1;
  layout.pad = (int16_t)(p->input_zero_point * layout.scale);
  /* The pad columns once (rows keep them; conversions write the interior),
   * plus two columns of slack for the pair loads. */
  const int32_t pair = tx_pack16(layout.pad, layout.pad);
  const int32_t words = (layout.width + 3) / 2;
  layout.words = words;
  for (int32_t slot = 0; slot < TX_DW_ROWS; ++slot) {
    for (int32_t i = 0; i < words; ++i) {
      rows[slot * TX_DW_ROW_WORDS + i] = pair;
    }
  }
  const int32_t channels = p->channels;
  int32_t c = 0;
  if (mode == kFast) {
    for (; c + 4 <= channels; c += 4) {
      tx_dw_planes(p, &layout, rows, input, output, c, 4, mode);
    }
  }
  for (; c < channels; ++c) {
    tx_dw_planes(p, &layout, rows, input, output, c, 1, mode);
  }
}

/* Small planes, four channels at a time: one pass of tx_dsp_dw_vector_s1/s2
 * per group over a padded copy of its plane, 103 instructions per output pixel
 * of four channels. On such planes the channel planes above spend more on row
 * and channel set-up (and, with stride 2, on widening) than on MACs. */
static int tx_dw_uses_vector(const tx_depthwise_params* p) {
  const int32_t stride = p->stride_h;
  const int32_t width = (p->out_w - 1) * stride + 3;
  const int32_t height = (p->out_h - 1) * stride + 3;
  /* Where it beats the planes (measured on qemu): rows of up to 4 outputs, or
   * up to 7 with stride 2, whose planes cost four widened values per output. */
  const int32_t narrow = stride == 1 ? 5 : 8;
  return p->fast_requant && p->act_min == -128 && p->act_max == 127 && (p->channels & 3) == 0 &&
         p->out_w < narrow && width <= TX_DW_PLANE_ROW && height <= TX_DW_PLANE_ROW;
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
      int32_t ix = 0;
      for (; ix + 2 <= columns; ix += 2) {
        const int32_t first = (int32_t)tx_load32(in);
        const int32_t second = (int32_t)tx_load32(in + channels);
        cell[ix] = first;
        cell[ix + 1] = second;
        in += 2 * channels;
      }
      if (ix < columns) {
        cell[ix] = (int32_t)tx_load32(in);
      }
    }
    /* Weights and biases doubled: the accumulators arrive doubled. */
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
      constants[5 + 3 * k] = tx_rounding(q->right_shift, p->output_offset);
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
      (p->stride_h != 1 && p->stride_h != 2) || p->pad_top > 1 || p->pad_left > 1) {
    tx_depthwise_conv2d_s8_portable(p, input, output);
    return;
  }
  if (tx_dw_uses_vector(p)) {
    tx_dw_3x3_vector(p, input, output);
    return;
  }
  const int full_range = p->act_min == -128 && p->act_max == 127;
  tx_dw_3x3(p, input, output, !p->fast_requant ? kExact : (full_range ? kFast : kFastClamped));
}

#endif /* TX_DSP_KERNELS */
