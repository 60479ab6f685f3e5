/* DEPTHWISE_CONV_2D int8 with depth multiplier 1 (portable). Same integer
 * arithmetic as TFLM's reference DepthwiseConvPerChannel.
 *
 * Four channels are accumulated together so the loads of a tap are
 * contiguous. For windows without padding taps the input offset is already
 * in interior_bias (offset * sum of weights, compile time), which saves the
 * per-MAC add; border windows add the offset per tap and skip the padding. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"
#include "tx_window.h"

static TX_ALWAYS_INLINE int8_t tx_dw_requantize(const tx_depthwise_params* p, int32_t acc, int32_t c) {
  acc = tx_multiply_by_quantized_multiplier(acc, p->multiplier[c], (int)p->shift[c]);
  acc += p->output_offset;
  return (int8_t)tx_clamp(acc, p->act_min, p->act_max);
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
      const int interior = p->interior_bias != NULL && ky_begin == 0 && kx_begin == 0 &&
                           ky_end == p->k_h && kx_end == p->k_w;
      const int32_t offset = interior ? 0 : p->input_offset;
      const int8_t* window = input + iy0 * row_stride + ix0 * channels;
      int32_t c = 0;
      if (interior && p->k_h == 3 && p->k_w == 3) {
        /* The common case: a full 3x3 window, offset folded, taps unrolled. */
        for (; c + 4 <= channels; c += 4) {
          int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
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
          output[c] = tx_dw_requantize(p, acc0 + p->interior_bias[c], c);
          output[c + 1] = tx_dw_requantize(p, acc1 + p->interior_bias[c + 1], c + 1);
          output[c + 2] = tx_dw_requantize(p, acc2 + p->interior_bias[c + 2], c + 2);
          output[c + 3] = tx_dw_requantize(p, acc3 + p->interior_bias[c + 3], c + 3);
        }
      }
      for (; c + 4 <= channels; c += 4) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
          const int8_t* in = window + ky * row_stride + kx_begin * channels + c;
          const int8_t* w = p->filter + (ky * p->k_w + kx_begin) * channels + c;
          for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
            acc0 += (int32_t)w[0] * ((int32_t)in[0] + offset);
            acc1 += (int32_t)w[1] * ((int32_t)in[1] + offset);
            acc2 += (int32_t)w[2] * ((int32_t)in[2] + offset);
            acc3 += (int32_t)w[3] * ((int32_t)in[3] + offset);
            in += channels;
            w += channels;
          }
        }
        const int32_t* bias = interior ? p->interior_bias : p->bias;
        if (bias != NULL) {
          acc0 += bias[c];
          acc1 += bias[c + 1];
          acc2 += bias[c + 2];
          acc3 += bias[c + 3];
        }
        output[c] = tx_dw_requantize(p, acc0, c);
        output[c + 1] = tx_dw_requantize(p, acc1, c + 1);
        output[c + 2] = tx_dw_requantize(p, acc2, c + 2);
        output[c + 3] = tx_dw_requantize(p, acc3, c + 3);
      }
      for (; c < channels; ++c) {
        int32_t acc = 0;
        for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
          const int8_t* in = window + ky * row_stride + c;
          const int8_t* w = p->filter + ky * p->k_w * channels + c;
          for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
            acc += (int32_t)w[kx * channels] * ((int32_t)in[kx * channels] + offset);
          }
        }
        const int32_t* bias = interior ? p->interior_bias : p->bias;
        if (bias != NULL) {
          acc += bias[c];
        }
        output[c] = tx_dw_requantize(p, acc, c);
      }
      output += channels;
    }
  }
}
