/* DEPTHWISE_CONV_2D int8 with depth multiplier 1 (portable). Same integers as
 * TFLM's reference DepthwiseConvPerChannel, with the input offset folded into
 * the channel's bias as in tx_conv.c: every tap adds weight * input, a padding
 * tap weight * input zero point.
 *
 * Four channels are accumulated together so the loads of a tap are
 * contiguous; a full 3x3 window (the common case) is unrolled, border windows
 * sum their valid taps and add the zero point times the padding taps'
 * weights. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"
#include "tx_window.h"

static TX_ALWAYS_INLINE int8_t tx_dw_requantize(const tx_depthwise_params* p, int32_t acc,
                                                int32_t c) {
  const tx_channel_quant* q = &p->quant[c];
  return tx_requantize_exact(acc, q->multiplier, q->right_shift, p->output_offset, p->act_min,
                             p->act_max);
}

/* Channels [c, c + 4) of a window: the valid taps
 * [ky_begin, ky_end) x [kx_begin, kx_end), plus zero_point times the weights
 * of the taps in the padding. */
static void tx_dw_window4(const tx_depthwise_params* p, const int8_t* window, int32_t ky_begin,
                          int32_t ky_end, int32_t kx_begin, int32_t kx_end, int32_t c,
                          int32_t acc[4]) {
  const int32_t channels = p->channels;
  const int32_t row_stride = p->in_w * channels;
  int32_t padding[4] = {0, 0, 0, 0};
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    for (int32_t kx = 0; kx < p->k_w; ++kx) {
      const int8_t* w = p->filter + (ky * p->k_w + kx) * channels + c;
      if (ky >= ky_begin && ky < ky_end && kx >= kx_begin && kx < kx_end) {
        const int8_t* in = window + ky * row_stride + kx * channels + c;
        acc[0] += (int32_t)w[0] * (int32_t)in[0];
        acc[1] += (int32_t)w[1] * (int32_t)in[1];
        acc[2] += (int32_t)w[2] * (int32_t)in[2];
        acc[3] += (int32_t)w[3] * (int32_t)in[3];
      } else {
        padding[0] += w[0];
        padding[1] += w[1];
        padding[2] += w[2];
        padding[3] += w[3];
      }
    }
  }
  for (int32_t j = 0; j < 4; ++j) {
    acc[j] += padding[j] * p->input_zero_point;
  }
}

/* Channel c's accumulator over the window whose first tap is (iy0, ix0):
 * input values inside the image, the zero point outside. */
static int32_t tx_dw_window(const tx_depthwise_params* p, const int8_t* input, int32_t iy0,
                            int32_t ix0, int32_t c) {
  const int32_t channels = p->channels;
  int32_t acc = p->quant[c].bias;
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    const int32_t iy = iy0 + ky;
    for (int32_t kx = 0; kx < p->k_w; ++kx) {
      const int32_t ix = ix0 + kx;
      const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
      const int32_t x = inside ? input[(iy * p->in_w + ix) * channels + c] : p->input_zero_point;
      acc += (int32_t)p->filter[(ky * p->k_w + kx) * channels + c] * x;
    }
  }
  return acc;
}

void tx_depthwise_conv2d_s8_portable(const tx_depthwise_params* p, const int8_t* input,
                                     int8_t* output) {
  const int32_t channels = p->channels;
  const int32_t row_stride = p->in_w * channels;
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ky_begin, ky_end;
    tx_window_taps(iy0, p->in_h, p->k_h, &ky_begin, &ky_end);
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      int32_t kx_begin, kx_end;
      tx_window_taps(ix0, p->in_w, p->k_w, &kx_begin, &kx_end);
      const int interior = ky_begin == 0 && kx_begin == 0 && ky_end == p->k_h && kx_end == p->k_w;
      const int8_t* window = input + iy0 * row_stride + ix0 * channels;
      int32_t c = 0;
      if (interior && p->k_h == 3 && p->k_w == 3) {
        for (; c + 4 <= channels; c += 4) {
          int32_t acc0 = p->quant[c].bias;
          int32_t acc1 = p->quant[c + 1].bias;
          int32_t acc2 = p->quant[c + 2].bias;
          int32_t acc3 = p->quant[c + 3].bias;
          const int8_t* w = p->filter + c;
          for (int32_t ky = 0; ky < 3; ++ky) {
            const int8_t* in = window + ky * row_stride + c;
            for (int32_t kx = 0; kx < 3; ++kx) {
              acc0 += (int32_t)w[0] * (int32_t)in[0];
              acc1 += (int32_t)w[1] * (int32_t)in[1];
              acc2 += (int32_t)w[2] * (int32_t)in[2];
              acc3 += (int32_t)w[3] * (int32_t)in[3];
              in += channels;
              w += channels;
            }
          }
          output[c] = tx_dw_requantize(p, acc0, c);
          output[c + 1] = tx_dw_requantize(p, acc1, c + 1);
          output[c + 2] = tx_dw_requantize(p, acc2, c + 2);
          output[c + 3] = tx_dw_requantize(p, acc3, c + 3);
        }
      }
      /* Border windows, other kernel sizes, and what the 3x3 loop left. */
      for (; c + 4 <= channels; c += 4) {
        int32_t acc[4] = {p->quant[c].bias, p->quant[c + 1].bias, p->quant[c + 2].bias,
                          p->quant[c + 3].bias};
        tx_dw_window4(p, window, ky_begin, ky_end, kx_begin, kx_end, c, acc);
        for (int32_t j = 0; j < 4; ++j) {
          output[c + j] = tx_dw_requantize(p, acc[j], c + j);
        }
      }
      for (; c < channels; ++c) {
        output[c] = tx_dw_requantize(p, tx_dw_window(p, input, iy0, ix0, c), c);
      }
      output += channels;
    }
  }
}
