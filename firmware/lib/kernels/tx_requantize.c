/* QUANTIZE int8 -> int8 (portable), as TFLM's reference Requantize:
 * (x - input_zp) rescaled by input_scale / output_scale, + output_zp, clamped.
 * Safe in place. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

void tx_requantize_s8_portable(const tx_requantize_params* p, const int8_t* input,
                               int8_t* output) {
  for (int32_t i = 0; i < p->count; ++i) {
    int32_t value = tx_multiply_by_quantized_multiplier((int32_t)input[i] - p->input_zero_point,
                                                        p->multiplier, (int)p->shift);
    value += p->output_zero_point;
    output[i] = (int8_t)tx_clamp(value, -128, 127);
  }
}
