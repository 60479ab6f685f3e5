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
 * LDRs of the weight rows, four SXTB16 and eight SMLADs: one instruction per
 * MAC. The channels' constants are loaded once per block and its four outputs
 * requantised with the fast form (4 instructions) where the compiler proved
 * it, the exact form otherwise. An odd last pixel uses 1 x 2 blocks. */
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
_Static_assert(sizeof(tx_channel_quant) == 16 && offsetof(tx_channel_quant, bias) == 0 &&
                   offsetof(tx_channel_quant, right_shift) == 12,
               "tx_channel_quant layout is fixed by tx_dsp_loops.S");

/* The widened pixels' stack buffer, in words: two pixels of up to 640 values
 * or one of up to 1280 (a FULLY_CONNECTED row), 2.5 KB. */
#define TX_CONV_MAX_DEPTH 640

enum { kExact = 0, kFast = 1, kFastClamped = 2 };

/* The layer constants a block needs, read once (int8 stores may alias any
 * object, so values read through pointers would be reloaded after each). */
typedef struct {
  int32_t output_offset, act_min, act_max;
} tx_output_range;

static int tx_requant_mode(const tx_conv_params* p) {
  if (!p->fast_requant) {
    return kExact;
  }
  return (p->act_min == -128 && p->act_max == 127) ? kFast : kFastClamped;
}

static TX_ALWAYS_INLINE int8_t tx_conv_output(int32_t acc, const tx_channel_quant* q,
                                              const tx_output_range* range, const int mode) {
  if (mode == kExact) {
    const int32_t value =
        tx_multiply_exact_dsp(acc, q->multiplier, q->right_shift) + range->output_offset;
    return (int8_t)tx_clamp(value, range->act_min, range->act_max);
  }
  int32_t value = tx_requantize_fast((int32_t)((uint32_t)acc << 1), q->multiplier, q->rounding,
                                     q->right_shift);
  if (mode == kFastClamped) {
    value = tx_clamp(value, range->act_min, range->act_max);
  }
  return (int8_t)value;
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

/* acc00..acc11 += weight rows w0, w1 (depth apart) . the two pixels in x. */
static TX_ALWAYS_INLINE void tx_dot_2x2(const int32_t* x, const int8_t* w0, int32_t depth,
                                        int32_t groups, int32_t* acc) {
  int32_t acc00 = acc[0];
  int32_t acc01 = acc[1];
  int32_t acc10 = acc[2];
  int32_t acc11 = acc[3];
  const int32_t* end = x + 4 * groups;
  while (x != end) {
    const int32_t x0a = x[0];
    const int32_t x0b = x[1];
    const int32_t x1a = x[2];
    const int32_t x1b = x[3];
    x += 4;
    uint32_t word = tx_load32(w0);
    int32_t wa = tx_sxtb16(word);
    int32_t wb = tx_sxtb16_ror8(word);
    acc00 = tx_smlad(wa, x0a, acc00);
    acc00 = tx_smlad(wb, x0b, acc00);
    acc10 = tx_smlad(wa, x1a, acc10);
    acc10 = tx_smlad(wb, x1b, acc10);
    word = tx_load32(w0 + depth);
    w0 += 4;
    wa = tx_sxtb16(word);
    wb = tx_sxtb16_ror8(word);
    acc01 = tx_smlad(wa, x0a, acc01);
    acc01 = tx_smlad(wb, x0b, acc01);
    acc11 = tx_smlad(wa, x1a, acc11);
    acc11 = tx_smlad(wb, x1b, acc11);
  }
  acc[0] = acc00;
  acc[1] = acc01;
  acc[2] = acc10;
  acc[3] = acc11;
}

/* Every output channel of two pixels whose widened patches are interleaved in
 * `x` (per group: pixel 0's two words, then pixel 1's). */
static TX_ALWAYS_INLINE void tx_pixel_pair(const tx_conv_params* p, const int32_t* x,
                                           int32_t depth, int8_t* out0, int8_t* out1,
                                           const int mode) {
  const tx_output_range range = {p->output_offset, p->act_min, p->act_max};
  const int32_t groups = (depth + 3) >> 2;
  const int8_t* row = p->filter;
  const tx_channel_quant* q = p->quant;
  const tx_channel_quant* pairs_end = q + (p->out_c & ~1);
  if (mode == kFast && q != pairs_end) {
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
    tx_dot_2x2(x, row, depth, groups, acc);
    row += 2 * depth;
    /* All four before any store: a byte store may alias the records, which
     * would make the compiler read their fields again. */
    const int8_t value00 = tx_conv_output(acc[0], &q[0], &range, mode);
    const int8_t value10 = tx_conv_output(acc[2], &q[0], &range, mode);
    const int8_t value01 = tx_conv_output(acc[1], &q[1], &range, mode);
    const int8_t value11 = tx_conv_output(acc[3], &q[1], &range, mode);
    out0[0] = value00;
    out0[1] = value01;
    out1[0] = value10;
    out1[1] = value11;
    out0 += 2;
    out1 += 2;
  }
  if (p->out_c & 1) {
    /* The odd last channel, as a pair with itself (the copy is not stored). */
    int32_t acc[4] = {q->bias, q->bias, q->bias, q->bias};
    tx_dot_2x2(x, row, 0, groups, acc);
    *out0 = tx_conv_output(acc[0], q, &range, mode);
    *out1 = tx_conv_output(acc[2], q, &range, mode);
  }
}

/* Every output channel of one pixel whose widened patch is in `x`. */
static TX_ALWAYS_INLINE void tx_pixel_one(const tx_conv_params* p, const int32_t* x,
                                          int32_t depth, int8_t* out, const int mode) {
  const tx_output_range range = {p->output_offset, p->act_min, p->act_max};
  const int32_t groups = (depth + 3) >> 2;
  const int32_t out_c = p->out_c;
  const int8_t* row = p->filter;
  const tx_channel_quant* quant = p->quant;
  int32_t oc = 0;
  if (mode == kFast && out_c >= 4) {
    const int32_t quads = out_c >> 2;
    tx_conv_one_job job = {x,   x + 2 * groups, depth - 4,         4 * depth - 4 * groups,
                           out, quant,          quant + 4 * quads, row,
                           2 * depth - 4,       3 * depth - 4};
    if (groups & 1) {
      tx_dsp_conv_one_odd(&job);
    } else {
      tx_dsp_conv_one(&job);
    }
    oc = 4 * quads;
    row += oc * depth;
  }
  if (mode == kFast && out_c - oc >= 2) {
    tx_conv_one_job job = {x,   x + 2 * groups,  depth - 4,    2 * depth - 4 * groups,
                           out + oc, quant + oc, quant + oc + 2, row,
                           0,   0};
    if (groups & 1) {
      tx_dsp_conv_one2_odd(&job);
    } else {
      tx_dsp_conv_one2(&job);
    }
    oc += 2;
    row += 2 * depth;
  }
  for (; oc < out_c; oc += 2) {
    const int32_t second = oc + 1 < out_c ? 1 : 0;
    const tx_channel_quant q0 = quant[oc];
    const tx_channel_quant q1 = quant[oc + second];
    int32_t acc0 = q0.bias;
    int32_t acc1 = q1.bias;
    const int32_t* xp = x;
    const int8_t* w0 = row;
    const int8_t* w1 = row + second * depth;
    for (int32_t n = groups; n != 0; --n) {
      const int32_t xa = xp[0];
      const int32_t xb = xp[1];
      xp += 2;
      const uint32_t word0 = tx_load32(w0);
      const uint32_t word1 = tx_load32(w1);
      w0 += 4;
      w1 += 4;
      acc0 = tx_smlad(tx_sxtb16(word0), xa, acc0);
      acc0 = tx_smlad(tx_sxtb16_ror8(word0), xb, acc0);
      acc1 = tx_smlad(tx_sxtb16(word1), xa, acc1);
      acc1 = tx_smlad(tx_sxtb16_ror8(word1), xb, acc1);
    }
    row += 2 * depth;
    out[oc] = tx_conv_output(acc0, &q0, &range, mode);
    if (second) {
      out[oc + 1] = tx_conv_output(acc1, &q1, &range, mode);
    }
  }
}

static TX_ALWAYS_INLINE void tx_conv2d_1x1(const tx_conv_params* p, const int8_t* input,
                                           int8_t* output, const int mode) {
  int32_t widened[TX_CONV_MAX_DEPTH];
  const int32_t depth = p->in_c;
  const int32_t out_c = p->out_c;
  const int32_t pixels = p->in_h * p->in_w;
  int32_t pixel = 0;
  const int32_t pairs = pixels / 2;
  if (mode == kFast && (depth & 3) == 0 && (out_c & 1) == 0 && pairs > 0 && out_c > 0) {
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
    tx_pixel_pair(p, widened, depth, out0, out0 + out_c, mode);
  }
  if (pixel < pixels) {
    tx_widen(input + pixel * depth, depth, widened, 2);
    tx_pixel_one(p, widened, depth, output + pixel * out_c, mode);
  }
}

void tx_conv2d_1x1_s8_dsp(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t pixels = p->in_h * p->in_w;
  if (p->in_c > (pixels == 1 ? 2 * TX_CONV_MAX_DEPTH : TX_CONV_MAX_DEPTH)) {
    tx_conv2d_s8_portable(p, input, output);
    return;
  }
  switch (tx_requant_mode(p)) {
    case kFast:
      tx_conv2d_1x1(p, input, output, kFast);
      break;
    case kFastClamped:
      tx_conv2d_1x1(p, input, output, kFastClamped);
      break;
    default:
      tx_conv2d_1x1(p, input, output, kExact);
      break;
  }
}

/* n bytes: a byte loop for the short rows of small windows, memcpy/memset
 * (a call) for long ones. */
static TX_ALWAYS_INLINE void tx_copy(int8_t* out, const int8_t* in, int32_t n) {
  if (n >= 16) {
    memcpy(out, in, (size_t)n);
    return;
  }
  for (int32_t i = 0; i < n; ++i) {
    out[i] = in[i];
  }
}

static TX_ALWAYS_INLINE void tx_fill(int8_t* out, int8_t value, int32_t n) {
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

static TX_ALWAYS_INLINE void tx_conv2d_windows(const tx_conv_params* p, const int8_t* input,
                                               int8_t* output, const int mode) {
  int32_t widened[TX_CONV_MAX_DEPTH];
  int8_t patch[TX_CONV_MAX_DEPTH] TX_ALIGN4;
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
    tx_pixel_pair(p, widened, depth, out0, out0 + out_c, mode);
  }
  if (pixel < pixels) {
    tx_gather_window(p, input, pixel / p->out_w, pixel % p->out_w, patch);
    tx_widen(patch, depth, widened, 2);
    tx_pixel_one(p, widened, depth, output + pixel * out_c, mode);
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

/* Window value k of output pixel (oy, ox), [k_h][k_w][in_c] order; the input
 * zero point in the padding, and 0 past the window (weight 0 there). */
static TX_ALWAYS_INLINE int32_t tx_window_value(const tx_conv_params* p, const int8_t* input,
                                                int32_t iy0, int32_t ix0, int32_t k) {
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
    frame[5] = p->quant[oc].bias * 2;
    frame[6] = p->quant[oc].multiplier;
    frame[7] = p->quant[oc].rounding;
    frame[8] = p->quant[oc].right_shift;
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
    return;
  }
  if (p->k_h * p->k_w * p->in_c > TX_CONV_MAX_DEPTH) {
    tx_conv2d_s8_portable(p, input, output);
    return;
  }
  switch (tx_requant_mode(p)) {
    case kFast:
      tx_conv2d_windows(p, input, output, kFast);
      break;
    case kFastClamped:
      tx_conv2d_windows(p, input, output, kFastClamped);
      break;
    default:
      tx_conv2d_windows(p, input, output, kExact);
      break;
  }
}

#endif /* TX_DSP_KERNELS */
