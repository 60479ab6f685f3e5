/* DEPTHWISE_CONV_2D int8 with depth multiplier 1 (portable). Same integer
 * arithmetic as TFLM's reference DepthwiseConvPerChannel. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

void tx_depthwise_conv2d_s8_portable(const tx_depthwise_params* p, const int8_t* input,
                                     int8_t* output) {
  const int32_t channels = p->channels;
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    /* The kernel rows that fall inside the image. */
    const int32_t ky_begin = iy0 < 0 ? -iy0 : 0;
    const int32_t ky_end = (p->in_h - iy0) < p->k_h ? (p->in_h - iy0) : p->k_h;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      const int32_t kx_begin = ix0 < 0 ? -ix0 : 0;
      const int32_t kx_end = (p->in_w - ix0) < p->k_w ? (p->in_w - ix0) : p->k_w;
      for (int32_t c = 0; c < channels; ++c) {
        int32_t acc = 0;
        for (int32_t ky = ky_begin; ky < ky_end; ++ky) {
          const int8_t* in = input + ((iy0 + ky) * p->in_w + ix0) * channels + c;
          const int8_t* weights = p->filter + ky * p->k_w * channels + c;
          for (int32_t kx = kx_begin; kx < kx_end; ++kx) {
            acc += (int32_t)weights[kx * channels] * ((int32_t)in[kx * channels] + p->input_offset);
          }
        }
        if (p->bias != NULL) {
          acc += p->bias[c];
        }
        acc = tx_multiply_by_quantized_multiplier(acc, p->multiplier[c], (int)p->shift[c]);
        acc += p->output_offset;
        *output++ = (int8_t)tx_clamp(acc, p->act_min, p->act_max);
      }
    }
  }
}
