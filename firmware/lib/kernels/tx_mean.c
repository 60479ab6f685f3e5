/* MEAN over H,W int8 (portable), as TFLM's quantised mean: the int32 sum of
 * (input - input_zero_point) over H*W, times a compile-time multiplier/shift
 * that folds input_scale / output_scale and the division by H*W, plus the
 * output zero point, clamped to int8. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

void tx_mean_s8_portable(const tx_mean_params* p, const int8_t* input, int8_t* output) {
  const int32_t count = p->in_h * p->in_w;
  const int32_t channels = p->channels;
  for (int32_t c = 0; c < channels; ++c) {
    int32_t sum = 0;
    const int8_t* in = input + c;
    for (int32_t i = 0; i < count; ++i) {
      sum += in[i * channels];
    }
    sum -= p->input_zero_point * count;
    int32_t result = tx_multiply_by_quantized_multiplier(sum, p->multiplier, (int)p->shift);
    result += p->output_zero_point;
    output[c] = (int8_t)tx_clamp(result, -128, 127);
  }
}
