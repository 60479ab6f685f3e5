/* CONV_2D int8 for Armv7E-M (DSP extension), byte-identical with
 * tx_conv2d_s8_portable: the conv2d_1x1 entry (pointwise convolutions and
 * FULLY_CONNECTED) and the conv2d entry (any geometry).
 *
 * Both reduce the layer to dot products of length `depth` between weight rows
 * and input patches: a pixel's channels for a 1x1 convolution, otherwise the
 * k_h x k_w x in_c window gathered into a stack buffer (padding read as the
 * input zero point, see tx_channel_quant). Two pixels' patches are widened
 * once to int16 in the layout SXTB16 leaves a weight word in: for every four
 * values v0..v3 the words (v0, v2) and (v1, v3). A block of 2 pixels x 2
 * output channels then costs, per four values, two LDRDs of the pixels, two
 * LDRs of the weight rows, four SXTB16 and eight SMLADs (tx_dsp_conv_pairs,
 * tx_dsp_conv_1x1: 18 instructions per 16 MACs). The channels' constants are
 * loaded once per block and its four outputs requantised with the fast form
 * (4 instructions) where the compiler proved it. An odd last pixel runs in
 * blocks of 1 x 4 and 1 x 2 channels (tx_dsp_conv_one, _one2). Windows of at
 * most 10 values (a 3x3 stem on one channel) are gathered into registers
 * instead (tx_dsp_conv_taps).
 *
 * The assembly does the fast requantisation with the full int8 range; the C
 * loops here do the rest (the exact form, clamped activations, an odd last
 * channel), one compiled copy with the mode tested per output. */
#include "tx_dsp_kernels.h"

#if TX_DSP_KERNELS

#include <stddef.h>

#include "tx_arm_dsp.h"
#include "tx_dsp_loops.h"

_Static_assert(offsetof(tx_conv_one_job, quant) == 20 &&
                   offsetof(tx_conv_one_job, row_offset3) == 36,
               "tx_conv_one_job layout is fixed by tx_dsp_loops.S");
_Static_assert(offsetof(tx_conv_1x1_job, in) == 36 && offsetof(tx_conv_1x1_job, out_c) == 48 &&
                   sizeof(tx_conv_1x1_job) == 56,
               "tx_conv_1x1_job layout is fixed by tx_dsp_loops.S");
_Static_assert(offsetof(tx_conv_pairs_job, out0) == 16 &&
                   offsetof(tx_conv_pairs_job, quant) == 24 &&
                   offsetof(tx_conv_pairs_job, filter) == 32,
               "tx_conv_pairs_job layout is fixed by tx_dsp_loops.S");
_Static_assert(sizeof(tx_conv_quant) == 16 && offsetof(tx_conv_quant, bias) == 0 &&
                   offsetof(tx_conv_quant, right_shift) == 8 &&
                   offsetof(tx_conv_quant, rounding) == 12,
               "tx_conv_quant layout is fixed by tx_dsp_loops.S");

/* The widened pixels' stack buffer, in words: two pixels of up to 640 values
 * or one of up to 1280 (a FULLY_CONNECTED row), 2.5 KB. */
#define TX_CONV_MAX_DEPTH 640

enum { kExact = 0, kFast = 1, kFastClamped = 2 };

/* What the C loops need of the layer, read once (int8 stores may alias any
 * object, so values read through pointers would be reloaded after each). */
typedef struct {
  int32_t output_offset, act_min, act_max, mode;
} tx_conv_context;

static int tx_requant_mode(const tx_conv_params* p) {
  if (!p->fast_requant) {
    return kExact;
  }
  return (p->act_min == -128 && p->act_max == 127) ? kFast : kFastClamped;
}

static int8_t tx_conv_output(int32_t acc, const tx_conv_quant* q,
                             const tx_conv_context* context) {
  int32_t value;
  if (context->mode == kExact) {
    value = tx_multiply_exact_dsp(acc, q->multiplier, q->right_shift) + context->output_offset;
  } else {
    value = tx_requantize_fast((int32_t)((uint32_t)acc << 1), q->multiplier, q->rounding,
                               q->right_shift);
  }
  return (int8_t)tx_clamp(value, context->act_min, context->act_max);
}

/* `depth` int8 values widened into word pairs (v0, v2), (v1, v3) per group of
 * four, `step` words from one group to the next; the last group zero-filled. */
static void tx_widen(const int8_t* values, int32_t depth, int32_t* out, int32_t step) {
  int32_t c = 0;
  for (; c + 4 <= depth; c += 4) {
    const uint32_t word = tx_load32(values + c);
    out[0] = tx_sxtb16(word);
    out[1] = tx_sxtb16_ror8(word);
    out += step;
  }
  if (c < depth) {
    uint32_t word = 0;
    memcpy(&word, values + c, (size_t)(depth - c));
    out[0] = tx_sxtb16(word);
    out[1] = tx_sxtb16_ror8(word);
  }
}

/* acc[0..3] (pixel 0 row 0, row 1, pixel 1 row 0, row 1) += the rows at w0 and
 * w0 + row (`row` 0: the same row twice) . the two pixels in x. */
static void tx_dot_2x2(const int32_t* x, int32_t groups, const int8_t* w0, int32_t row,
                       int32_t acc[4]) {
  for (int32_t n = groups; n != 0; --n) {
    const uint32_t a = tx_load32(w0);
    const uint32_t b = tx_load32(w0 + row);
    w0 += 4;
    acc[0] = tx_smlad(tx_sxtb16(a), x[0], acc[0]);
    acc[0] = tx_smlad(tx_sxtb16_ror8(a), x[1], acc[0]);
    acc[1] = tx_smlad(tx_sxtb16(b), x[0], acc[1]);
    acc[1] = tx_smlad(tx_sxtb16_ror8(b), x[1], acc[1]);
    acc[2] = tx_smlad(tx_sxtb16(a), x[2], acc[2]);
    acc[2] = tx_smlad(tx_sxtb16_ror8(a), x[3], acc[2]);
    acc[3] = tx_smlad(tx_sxtb16(b), x[2], acc[3]);
    acc[3] = tx_smlad(tx_sxtb16_ror8(b), x[3], acc[3]);
    x += 4;
  }
}

/* Every output channel of two pixels whose widened patches are interleaved in
 * `x` (per group: pixel 0's two words, then pixel 1's). */
static void tx_pixel_pair(const tx_conv_params* p, const tx_conv_context* context,
                          const int32_t* x, int32_t depth, int8_t* out0, int8_t* out1) {
  const int32_t groups = (depth + 3) >> 2;
  const int8_t* row = p->filter;
  const tx_conv_quant* q = p->quant;
  const tx_conv_quant* pairs_end = q + (p->out_c & ~1);
  if (context->mode == kFast && q != pairs_end) {
    tx_conv_pairs_job job = {x,    x + 4 * groups, depth - 4, 2 * depth - 4 * groups,
                             out0, out1,           q,         pairs_end,
                             row};
    if (groups & 1) {
      tx_dsp_conv_pairs_odd(&job);
    } else {
      tx_dsp_conv_pairs(&job);
    }
    row += (pairs_end - q) * depth;
    out0 += pairs_end - q;
    out1 += pairs_end - q;
    q = pairs_end;
  }
  for (; q != pairs_end; q += 2) {
    int32_t acc[4] = {q[0].bias, q[1].bias, q[0].bias, q[1].bias};
    tx_dot_2x2(x, groups, row, depth, acc);
    row += 2 * depth;
    /* All four before any store: a byte store may alias the records. */
    const int8_t value00 = tx_conv_output(acc[0], &q[0], context);
    const int8_t value01 = tx_conv_output(acc[1], &q[1], context);
    const int8_t value10 = tx_conv_output(acc[2], &q[0], context);
    const int8_t value11 = tx_conv_output(acc[3], &q[1], context);
    out0[0] = value00;
    out0[1] = value01;
    out1[0] = value10;
    out1[1] = value11;
    out0 += 2;
    out1 += 2;
  }
  if (p->out_c & 1) {
    int32_t acc[4] = {q->bias, q->bias, q->bias, q->bias};
    tx_dot_2x2(x, groups, row, 0, acc);
    const int8_t value0 = tx_conv_output(acc[0], q, context);
    const int8_t value1 = tx_conv_output(acc[2], q, context);
    *out0 = value0;
    *out1 = value1;
  }
}

/* Every output channel of one pixel whose widened patch is in `x` (per group
 * two words). */
static void tx_pixel_one(const tx_conv_params* p, const tx_conv_context* context,
                         const int32_t* x, int32_t depth, int8_t* out) {
  const int32_t groups = (depth + 3) >> 2;
  const int32_t out_c = p->out_c;
  const int8_t* row = p->filter;
  const tx_conv_quant* quant = p->quant;
  int32_t oc = 0;
  if (context->mode == kFast) {
    tx_conv_one_job job = {x,   x + 2 * groups, depth - 4, 0,
                           out, quant,          quant,     row,
                           2 * depth - 4,       3 * depth - 4};
    if (out_c >= 4) {
      const int32_t quads = out_c >> 2;
      job.row_advance = 4 * depth - 4 * groups;
      job.quant_end = quant + 4 * quads;
      if (groups & 1) {
        tx_dsp_conv_one_odd(&job);
      } else {
        tx_dsp_conv_one(&job);
      }
      oc = 4 * quads;
    }
    if (out_c - oc >= 2) {
      job.row_advance = 2 * depth - 4 * groups;
      job.out = out + oc;
      job.quant = quant + oc;
      job.quant_end = quant + oc + 2;
      job.filter = row + oc * depth;
      if (groups & 1) {
        tx_dsp_conv_one2_odd(&job);
      } else {
        tx_dsp_conv_one2(&job);
      }
      oc += 2;
    }
  }
  for (; oc < out_c; ++oc) {
    const int32_t* xp = x;
    const int8_t* w = row + oc * depth;
    int32_t acc = quant[oc].bias;
    for (int32_t n = groups; n != 0; --n) {
      const uint32_t word = tx_load32(w);
      w += 4;
      acc = tx_smlad(tx_sxtb16(word), xp[0], acc);
      acc = tx_smlad(tx_sxtb16_ror8(word), xp[1], acc);
      xp += 2;
    }
    out[oc] = tx_conv_output(acc, &quant[oc], context);
  }
}

static void tx_context(const tx_conv_params* p, tx_conv_context* context) {
  context->output_offset = p->output_offset;
  context->act_min = p->act_min;
  context->act_max = p->act_max;
  context->mode = tx_requant_mode(p);
}

void tx_conv2d_1x1_s8_dsp(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t depth = p->in_c;
  const int32_t out_c = p->out_c;
  const int32_t pixels = p->in_h * p->in_w;
  if (depth > (pixels == 1 ? 2 * TX_CONV_MAX_DEPTH : TX_CONV_MAX_DEPTH)) {
    tx_conv2d_s8_portable(p, input, output);
    return;
  }
  int32_t widened[TX_CONV_MAX_DEPTH];
  tx_conv_context context;
  tx_context(p, &context);
  int32_t pixel = 0;
  const int32_t pairs = pixels / 2;
  if (context.mode == kFast && (depth & 3) == 0 && (out_c & 1) == 0 && pairs > 0 && out_c > 0) {
    /* All pixel pairs in assembly, widening included. */
    const int32_t groups = depth >> 2;
    tx_conv_1x1_job job = {widened,
                           widened + 4 * groups,
                           depth - 4,
                           2 * depth - 4 * groups,
                           output,
                           output + out_c,
                           p->quant,
                           p->quant + out_c,
                           p->filter,
                           input,
                           input + 2 * depth * pairs,
                           depth,
                           out_c,
                           0};
    if (groups & 1) {
      tx_dsp_conv_1x1_odd(&job);
    } else {
      tx_dsp_conv_1x1(&job);
    }
    pixel = 2 * pairs;
  }
  for (; pixel + 2 <= pixels; pixel += 2) {
    const int8_t* x0 = input + pixel * depth;
    tx_widen(x0, depth, widened, 4);
    tx_widen(x0 + depth, depth, widened + 2, 4);
    int8_t* out0 = output + pixel * out_c;
    tx_pixel_pair(p, &context, widened, depth, out0, out0 + out_c);
  }
  if (pixel < pixels) {
    tx_widen(input + pixel * depth, depth, widened, 2);
    tx_pixel_one(p, &context, widened, depth, output + pixel * out_c);
  }
}

/* n bytes: a byte loop for the short rows of small windows, memcpy/memset
 * (a call) for long ones. */
static void tx_copy(int8_t* out, const int8_t* in, int32_t n) {
  if (n >= 16) {
    memcpy(out, in, (size_t)n);
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    out[i] = in[i];
  }
}

static void tx_fill(int8_t* out, int8_t value, int32_t n) {
  if (n >= 16) {
    memset(out, value, (size_t)n);
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    out[i] = value;
  }
}

/* The window of output pixel (oy, ox) as [k_h][k_w][in_c] bytes, padding taps
 * set to the input zero point. */
static void tx_gather_window(const tx_conv_params* p, const int8_t* input, int32_t oy,
                             int32_t ox, int8_t* patch) {
  const int32_t in_c = p->in_c;
  const int32_t row_bytes = p->k_w * in_c;
  const int8_t pad = (int8_t)p->input_zero_point;
  const int32_t iy0 = oy * p->stride_h - p->pad_top;
  const int32_t ix0 = ox * p->stride_w - p->pad_left;
  const int columns_inside = ix0 >= 0 && ix0 + p->k_w <= p->in_w;
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    const int32_t iy = iy0 + ky;
    if (iy < 0 || iy >= p->in_h) {
      tx_fill(patch, pad, row_bytes);
    } else if (columns_inside) {
      tx_copy(patch, input + (iy * p->in_w + ix0) * in_c, row_bytes);
    } else {
      for (int32_t kx = 0; kx < p->k_w; ++kx) {
        const int32_t ix = ix0 + kx;
        if (ix < 0 || ix >= p->in_w) {
          tx_fill(patch + kx * in_c, pad, in_c);
        } else {
          tx_copy(patch + kx * in_c, input + (iy * p->in_w + ix) * in_c, in_c);
        }
      }
    }
    patch += row_bytes;
  }
}

static __attribute__((noinline)) void tx_conv2d_windows(const tx_conv_params* p,
                                                        const int8_t* input, int8_t* output) {
  int32_t widened[TX_CONV_MAX_DEPTH];
  int8_t patch[TX_CONV_MAX_DEPTH] TX_ALIGN4;
  tx_conv_context context;
  tx_context(p, &context);
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const int32_t out_c = p->out_c;
  const int32_t pixels = p->out_h * p->out_w;
  int32_t pixel = 0;
  for (; pixel + 2 <= pixels; pixel += 2) {
    tx_gather_window(p, input, pixel / p->out_w, pixel % p->out_w, patch);
    tx_widen(patch, depth, widened, 4);
    tx_gather_window(p, input, (pixel + 1) / p->out_w, (pixel + 1) % p->out_w, patch);
    tx_widen(patch, depth, widened + 2, 4);
    int8_t* out0 = output + pixel * out_c;
    tx_pixel_pair(p, &context, widened, depth, out0, out0 + out_c);
  }
  if (pixel < pixels) {
    tx_gather_window(p, input, pixel / p->out_w, pixel % p->out_w, patch);
    tx_widen(patch, depth, widened, 2);
    tx_pixel_one(p, &context, widened, depth, output + pixel * out_c);
  }
}

/* Windows of at most 10 values (a 3x3 stem on a one-channel image) with up to
 * TX_CONV_TAPS_MAX_CHANNELS outputs and the fast full-range requantisation:
 * each window is gathered once into five int16 pairs, and tx_dsp_conv_taps
 * runs every output channel on it with weights widened (and doubled) once per
 * call. */
#define TX_CONV_TAPS 10
#define TX_CONV_TAPS_MAX_CHANNELS 32
#define TX_CONV_TAPS_WORDS 9 /* per channel: five weight pairs, bias, multiplier, rounding, shift */

static int tx_conv2d_uses_taps(const tx_conv_params* p) {
  return p->k_h * p->k_w * p->in_c <= TX_CONV_TAPS && p->out_c <= TX_CONV_TAPS_MAX_CHANNELS &&
         tx_requant_mode(p) == kFast;
}

/* Window value k of the output pixel whose window starts at (iy0, ix0),
 * [k_h][k_w][in_c] order; the input zero point in the padding, 0 past the
 * window (weight 0 there). */
static int32_t tx_window_value(const tx_conv_params* p, const int8_t* input, int32_t iy0,
                               int32_t ix0, int32_t k) {
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  if (k >= depth) {
    return 0;
  }
  const int32_t tap = k / p->in_c;
  const int32_t iy = iy0 + tap / p->k_w;
  const int32_t ix = ix0 + tap % p->k_w;
  if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
    return p->input_zero_point;
  }
  return input[(iy * p->in_w + ix) * p->in_c + k % p->in_c];
}

static __attribute__((noinline)) void tx_conv2d_taps(const tx_conv_params* p,
                                                     const int8_t* input, int8_t* output) {
  int32_t channels[TX_CONV_TAPS_MAX_CHANNELS * TX_CONV_TAPS_WORDS];
  const int32_t depth = p->k_h * p->k_w * p->in_c;
  const int32_t out_c = p->out_c;
  /* Weights and biases doubled (|2w| fits int16; |bias| < 2^30 is proven),
   * so the accumulators arrive doubled as the requantisation wants them. */
  for (int32_t oc = 0; oc < out_c; ++oc) {
    const int8_t* w = p->filter + oc * depth;
    int32_t* frame = channels + oc * TX_CONV_TAPS_WORDS;
    for (int32_t k = 0; k < TX_CONV_TAPS; k += 2) {
      frame[k / 2] = tx_pack16(k < depth ? 2 * w[k] : 0, k + 1 < depth ? 2 * w[k + 1] : 0);
    }
    const tx_conv_quant* q = &p->quant[oc];
    frame[5] = q->bias * 2;
    frame[6] = q->multiplier;
    frame[7] = q->rounding;
    frame[8] = q->right_shift;
  }
  const int32_t* channels_end = channels + out_c * TX_CONV_TAPS_WORDS;
  /* Inside the image a window value is input[base + offset[k]]; values past
   * the window repeat the last offset (their weights are 0). */
  int32_t offset[TX_CONV_TAPS];
  for (int32_t k = 0; k < TX_CONV_TAPS; ++k) {
    const int32_t v = k < depth ? k : depth - 1;
    const int32_t tap = v / p->in_c;
    offset[k] = ((tap / p->k_w) * p->in_w + tap % p->k_w) * p->in_c + v % p->in_c;
  }
  const int stem = p->k_h == 3 && p->k_w == 3 && p->in_c == 1;
  const int32_t in_w = p->in_w;
  const int32_t out_w = p->out_w;
  const int32_t stride_w = p->stride_w;
  const int32_t pixel_step = stride_w * p->in_c;
  /* Output columns [ox_begin, ox_end) have windows inside the image's width. */
  const int32_t ox_begin = (p->pad_left + stride_w - 1) / stride_w;
  const int32_t last_start = in_w - p->k_w + p->pad_left; /* may be negative */
  int32_t ox_end = last_start < 0 ? 0 : last_start / stride_w + 1;
  ox_end = ox_end < out_w ? ox_end : out_w;
  int32_t taps[5];
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int rows_inside = iy0 >= 0 && iy0 + p->k_h <= p->in_h;
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const int32_t ix0 = ox * stride_w - p->pad_left;
      if (rows_inside && stem && ox >= ox_begin && ox < ox_end) {
        /* The stem's interior: one run of columns in three rows. */
        const int8_t* base = input + iy0 * in_w + ix0;
        int8_t* out = output + ox * out_c;
        for (; ox < ox_end; ++ox) {
          const int8_t* row1 = base + in_w;
          const int8_t* row2 = row1 + in_w;
          taps[0] = tx_pack16(base[0], base[1]);
          taps[1] = tx_pack16(base[2], row1[0]);
          taps[2] = tx_pack16(row1[1], row1[2]);
          taps[3] = tx_pack16(row2[0], row2[1]);
          taps[4] = row2[2]; /* its pair's high half meets weight 0 */
          tx_dsp_conv_taps(taps, channels, channels_end, out);
          base += pixel_step;
          out += out_c;
        }
        --ox;
        continue;
      }
      if (rows_inside && ix0 >= 0 && ix0 + p->k_w <= in_w) {
        const int8_t* base = input + (iy0 * in_w + ix0) * p->in_c;
        for (int32_t k = 0; k < 5; ++k) {
          taps[k] = tx_pack16(base[offset[2 * k]], base[offset[2 * k + 1]]);
        }
      } else {
        for (int32_t k = 0; k < 5; ++k) {
          taps[k] = tx_pack16(tx_window_value(p, input, iy0, ix0, 2 * k),
                              tx_window_value(p, input, iy0, ix0, 2 * k + 1));
        }
      }
      tx_dsp_conv_taps(taps, channels, channels_end, output + ox * out_c);
    }
    output += out_w * out_c;
  }
}

void tx_conv2d_s8_dsp(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  if (tx_conv2d_uses_taps(p)) {
    tx_conv2d_taps(p, input, output);
  } else if (p->k_h * p->k_w * p->in_c > TX_CONV_MAX_DEPTH) {
    tx_conv2d_s8_portable(p, input, output);
  } else {
    tx_conv2d_windows(p, input, output);
  }
}

#endif /* TX_DSP_KERNELS */
