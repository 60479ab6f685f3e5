/* MEAN over H and W for Armv7E-M (DSP extension), byte-identical with
 * tx_mean_s8_portable where the compiler set `fast` (otherwise it runs the
 * portable kernel).
 *
 * Four channels are summed at once: one word load per pixel and two SXTAB16
 * that add its bytes into int16 halves (exact for up to 255 pixels, |x| <=
 * 128), flushed into int32 sums every 255 pixels. Each sum minus count * zero
 * point is requantised with the fast form. */
#include "tx_dsp_kernels.h"

#if TX_DSP_KERNELS

#include "tx_arm_dsp.h"

/* Additions an int16 half takes before it may overflow. */
#define TX_MEAN_CHUNK 255

static TX_ALWAYS_INLINE int8_t tx_mean_output(int32_t sum, int32_t offset, int32_t multiplier,
                                              int32_t rounding, int32_t right_shift) {
  return (int8_t)tx_requantize_fast((sum - offset) * 2, multiplier, rounding, right_shift);
}

void tx_mean_s8_dsp(const tx_mean_params* p, const int8_t* input, int8_t* output) {
  if (!p->fast) {
    tx_mean_s8_portable(p, input, output);
    return;
  }
  const int32_t count = p->in_h * p->in_w;
  const int32_t channels = p->channels;
  const int32_t offset = p->input_zero_point * count;
  const int32_t multiplier = p->multiplier;
  const int32_t rounding = p->fast_rounding;
  const int32_t right_shift = -p->shift;
  int32_t c = 0;
  for (; c + 4 <= channels; c += 4) {
    int32_t sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    const int8_t* in = input + c;
    for (int32_t done = 0; done < count;) {
      const int32_t chunk = count - done < TX_MEAN_CHUNK ? count - done : TX_MEAN_CHUNK;
      int32_t even = 0; /* channels c and c + 2 */
      int32_t odd = 0;  /* channels c + 1 and c + 3 */
      for (int32_t i = 0; i < chunk; ++i) {
        const uint32_t word = tx_load32(in);
        in += channels;
        even = tx_sxtab16(even, word);
        odd = tx_sxtab16_ror8(odd, word);
      }
      sum0 += (int16_t)even;
      sum2 += even >> 16;
      sum1 += (int16_t)odd;
      sum3 += odd >> 16;
      done += chunk;
    }
    output[c] = tx_mean_output(sum0, offset, multiplier, rounding, right_shift);
    output[c + 1] = tx_mean_output(sum1, offset, multiplier, rounding, right_shift);
    output[c + 2] = tx_mean_output(sum2, offset, multiplier, rounding, right_shift);
    output[c + 3] = tx_mean_output(sum3, offset, multiplier, rounding, right_shift);
  }
  for (; c < channels; ++c) {
    int32_t sum = 0;
    for (int32_t i = 0; i < count; ++i) {
      sum += input[i * channels + c];
    }
    output[c] = tx_mean_output(sum, offset, multiplier, rounding, right_shift);
  }
}

#endif /* TX_DSP_KERNELS */
