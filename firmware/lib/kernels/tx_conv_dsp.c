/* CONV_2D int8 for Armv7E-M (Cortex-M4/M7/M33 with the DSP extension): an
 * optimised variant of tx_conv2d_s8_portable, byte-identical with it.
 *
 * The pointwise case (1x1, stride 1, no padding taps) is a dot product over
 * input channels: four int8 values are loaded as one word, sign-extended in
 * pairs to int16 (SXTB16) and multiplied-accumulated two at a time (SMLAD).
 * The sums are the same integers as the portable loop's, so the results are
 * identical. Every other geometry falls back to the portable kernel.
 *
 * Selected by building with -DTX_KERNELS_DSP=1 (see tx_dispatch.c); compiled
 * to nothing on targets without the DSP extension. */
#include "tx_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>
#include <string.h>

#include "tx_fixed_point.h"

static inline uint32_t tx_load4(const int8_t* p) {
  uint32_t word;
  memcpy(&word, p, sizeof(word));
  return word;
}

static inline uint32_t tx_ror8(uint32_t x) { return (x >> 8) | (x << 24); }

static TX_ALWAYS_INLINE int8_t tx_requantize_dsp(const tx_conv_params* p, int32_t acc, int32_t channel) {
  acc = tx_multiply_by_quantized_multiplier(acc, p->multiplier[channel], (int)p->shift[channel]);
  acc += p->output_offset;
  return (int8_t)tx_clamp(acc, p->act_min, p->act_max);
}

/* Two output channels of one pixel: acc0 += w0 . x, acc1 += w1 . x. */
static inline void tx_dot2(const int8_t* x, const int8_t* w0, const int8_t* w1, int32_t n,
                           int32_t* acc0, int32_t* acc1) {
  int32_t a0 = *acc0;
  int32_t a1 = *acc1;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t xw = tx_load4(x + i);
    const int16x2_t x_even = __sxtb16(xw);
    const int16x2_t x_odd = __sxtb16(tx_ror8(xw));
    const uint32_t w0w = tx_load4(w0 + i);
    const uint32_t w1w = tx_load4(w1 + i);
    a0 = __smlad(__sxtb16(w0w), x_even, a0);
    a0 = __smlad(__sxtb16(tx_ror8(w0w)), x_odd, a0);
    a1 = __smlad(__sxtb16(w1w), x_even, a1);
    a1 = __smlad(__sxtb16(tx_ror8(w1w)), x_odd, a1);
  }
  for (; i < n; ++i) {
    a0 += (int32_t)w0[i] * (int32_t)x[i];
    a1 += (int32_t)w1[i] * (int32_t)x[i];
  }
  *acc0 = a0;
  *acc1 = a1;
}

void tx_conv2d_s8_dsp(const tx_conv_params* p, const int8_t* input, int8_t* output) {
  if (!(p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
        p->bias_has_input_offset && p->bias != NULL)) {
    tx_conv2d_s8_portable(p, input, output);
    return;
  }
  const int32_t pixels = p->in_h * p->in_w;
  const int32_t in_c = p->in_c;
  const int32_t out_c = p->out_c;
  for (int32_t pixel = 0; pixel < pixels; ++pixel) {
    const int8_t* x = input + pixel * in_c;
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
      const int8_t* w0 = p->filter + oc * in_c;
      int32_t acc0 = p->bias[oc];
      int32_t acc1 = p->bias[oc + 1];
      tx_dot2(x, w0, w0 + in_c, in_c, &acc0, &acc1);
      output[oc] = tx_requantize_dsp(p, acc0, oc);
      output[oc + 1] = tx_requantize_dsp(p, acc1, oc + 1);
    }
    if (oc < out_c) {
      const int8_t* w0 = p->filter + oc * in_c;
      int32_t acc0 = p->bias[oc];
      int32_t unused = 0;
      tx_dot2(x, w0, w0, in_c, &acc0, &unused);
      output[oc] = tx_requantize_dsp(p, acc0, oc);
    }
    output += out_c;
  }
}

#endif /* __ARM_FEATURE_DSP */
