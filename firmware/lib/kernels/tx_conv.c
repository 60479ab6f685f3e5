/* CONV_2D int8, per-channel quantised (portable). Same integers as TFLM's
 * reference ConvPerChannel: there acc = bias + sum over the window's valid
 * taps of filter * (input + input_offset); here the compiler has folded
 * input_offset * sum(filter) into the channel's bias, so the kernel sums
 * filter * input over every tap and reads a padding tap as the input zero
 * point (which adds filter * (zero_point + input_offset) = 0 on TFLM's side).
 * The accumulator is then requantised per output channel, offset by the
 * output zero point and clamped to the fused activation range. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"
#include "tx_window.h"

static TX_ALWAYS_INLINE int8_t tx_conv_requantize(const tx_conv_params* p, int32_t acc,
                                                  int32_t channel) {
  const tx_conv_quant* q = &p->quant[channel];
  return tx_requantize_exact(acc, q->multiplier, q->right_shift, p->output_offset, p->act_min,
                             p->act_max);
}

/* One output channel of one pixel (the remainder path of the blocked loop). */
static inline int32_t tx_dot(const int8_t* w, const int8_t* x, int32_t n, int32_t acc) {
  for (int32_t i = 0; i < n; ++i) {
    acc += (int32_t)w[i] * (int32_t)x[i];
  }
  return acc;
}

/* 1x1, stride 1, no padding: a matrix product. Blocked 2 pixels x 2 output
 * channels so each load feeds two MACs. */
static void tx_conv2d_pointwise(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  const int32_t pixels = p->in_h * p->in_w;
  const int32_t in_c = p->in_c;
  const int32_t out_c = p->out_c;
  int32_t pixel = 0;
  for (; pixel + 2 <= pixels; pixel += 2) {
    const int8_t* x0 = input + pixel * in_c;
    int8_t* out0 = output + pixel * out_c;
    int8_t* out1 = out0 + out_c;
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
      const int8_t* w0 = p->filter + oc * in_c;
      int32_t acc00 = p->quant[oc].bias;
      int32_t acc01 = p->quant[oc + 1].bias;
      int32_t acc10 = acc00;
      int32_t acc11 = acc01;
      const int8_t* a_ptr = x0;
      const int8_t* u_ptr = w0;
      /* x1 and w1 are at a fixed distance from x0 and w0. */
      for (int32_t n = in_c; n != 0; --n) {
        const int32_t a = a_ptr[0];
        const int32_t b = a_ptr[in_c];
        const int32_t u = u_ptr[0];
        const int32_t v = u_ptr[in_c];
        acc00 += u * a;
        acc01 += v * a;
        acc10 += u * b;
        acc11 += v * b;
        ++a_ptr;
        ++u_ptr;
      }
      out0[oc] = tx_conv_requantize(p, acc00, oc);
      out0[oc + 1] = tx_conv_requantize(p, acc01, oc + 1);
      out1[oc] = tx_conv_requantize(p, acc10, oc);
      out1[oc + 1] = tx_conv_requantize(p, acc11, oc + 1);
    }
    for (; oc < out_c; ++oc) {
      const int8_t* w = p->filter + oc * in_c;
      out0[oc] = tx_conv_requantize(p, tx_dot(w, x0, in_c, p->quant[oc].bias), oc);
      out1[oc] = tx_conv_requantize(p, tx_dot(w, x0 + in_c, in_c, p->quant[oc].bias), oc);
    }
  }
  for (; pixel < pixels; ++pixel) {
    const int8_t* x = input + pixel * in_c;
    for (int32_t oc = 0; oc < out_c; ++oc) {
      const int8_t* w = p->filter + oc * in_c;
      output[pixel * out_c + oc] =
          tx_conv_requantize(p, tx_dot(w, x, in_c, p->quant[oc].bias), oc);
    }
  }
}

/* The valid taps of one output pixel for output channels [oc, oc + 4), so
 * each input value loaded feeds four MACs. */
static void tx_conv2d_pixel4(const tx_conv_params* p, const int8_t* input, int32_t iy0,
                             int32_t ix0, int32_t ky_begin, int32_t ky_end, int32_t kx_begin,
                             int32_t kx_end, int32_t oc, int32_t acc[4]) {
  const int32_t in_c = p->in_c;
  const int32_t filter_stride = p->k_h * p->k_w * in_c;
  for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
    for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
      const int8_t* in = input + ((iy0 + ky) * p->in_w + ix0 + kx) * in_c;
      const int8_t* w0 = p->filter + oc * filter_stride + (ky * p->k_w + kx) * in_c;
      const int8_t* w1 = w0 + filter_stride;
      const int8_t* w2 = w1 + filter_stride;
      const int8_t* w3 = w2 + filter_stride;
      for (int32_t ic = 0; ic < in_c; ++ic) {
        const int32_t x = in[ic];
        acc[0] += (int32_t)w0[ic] * x;
        acc[1] += (int32_t)w1[ic] * x;
        acc[2] += (int32_t)w2[ic] * x;
        acc[3] += (int32_t)w3[ic] * x;
      }
    }
  }
}

/* zero_point * (sum of channel oc's weights on the taps outside
 * [ky_begin, ky_end) x [kx_begin, kx_end)): the padding taps' share. */
static int32_t tx_conv2d_padding_taps(const tx_conv_params* p, int32_t ky_begin, int32_t ky_end,
                                      int32_t kx_begin, int32_t kx_end, int32_t oc) {
  const int32_t in_c = p->in_c;
  int32_t sum = 0;
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    for (int32_t kx = 0; kx < p->k_w; ++kx) {
      if (ky >= ky_begin && ky < ky_end && kx >= kx_begin && kx < kx_end) {
        continue;
      }
      const int8_t* w = p->filter + ((oc * p->k_h + ky) * p->k_w + kx) * in_c;
      for (int32_t ic = 0; ic < in_c; ++ic) {
        sum += w[ic];
      }
    }
  }
  return sum * p->input_zero_point;
}

void tx_conv2d_s8_portable(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  if (p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 &&
      p->pad_left == 0 && p->out_h == p->in_h && p->out_w == p->in_w) {
    tx_conv2d_pointwise(p, input, output);
    return;
  }
  const int32_t in_c = p->in_c;
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ky_begin, ky_end;
    tx_window_taps(iy0, p->in_h, p->k_h, &ky_begin, &ky_end);
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      int32_t kx_begin, kx_end;
      tx_window_taps(ix0, p->in_w, p->k_w, &kx_begin, &kx_end);
      const int border = ky_begin != 0 || kx_begin != 0 || ky_end != p->k_h || kx_end != p->k_w;
      int32_t oc = 0;
      for (; oc + 4 <= p->out_c; oc += 4) {
        int32_t acc[4];
        for (int32_t j = 0; j < 4; ++j) {
          acc[j] = p->quant[oc + j].bias;
          if (border) {
            acc[j] += tx_conv2d_padding_taps(p, ky_begin, ky_end, kx_begin, kx_end, oc + j);
          }
        }
        tx_conv2d_pixel4(p, input, iy0, ix0, ky_begin, ky_end, kx_begin, kx_end, oc, acc);
        for (int32_t j = 0; j < 4; ++j) {
          output[oc + j] = tx_conv_requantize(p, acc[j], oc + j);
        }
      }
      for (; oc < p->out_c; ++oc) {
        int32_t acc = p->quant[oc].bias;
        if (border) {
          acc += tx_conv2d_padding_taps(p, ky_begin, ky_end, kx_begin, kx_end, oc);
        }
        for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
          for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
            const int8_t* in = input + ((iy0 + ky) * p->in_w + ix0 + kx) * in_c;
            const int8_t* weights = p->filter + ((oc * p->k_h + ky) * p->k_w + kx) * in_c;
            acc = tx_dot(weights, in, in_c, acc);
          }
        }
        output[oc] = tx_conv_requantize(p, acc, oc);
      }
      output += p->out_c;
    }
  }
}
