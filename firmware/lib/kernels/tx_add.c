/* ADD int8 with requantisation (portable), as TFLM's reference integer add:
 * both inputs are offset, shifted left by left_shift, rescaled to a common
 * scale, summed, then rescaled to the output. Safe in place (output may
 * alias either input): each element is read before it is written. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

void tx_add_s8_portable(const tx_add_params* p, const int8_t* input1, const int8_t* input2,
                        int8_t* output) {
  for (int32_t i = 0; i < p->count; ++i) {
    const int32_t shifted1 = tx_shift_left(p->input1_offset + input1[i], (int)p->left_shift);
    const int32_t shifted2 = tx_shift_left(p->input2_offset + input2[i], (int)p->left_shift);
    const int32_t scaled1 = tx_multiply_by_quantized_multiplier(shifted1, p->input1_multiplier,
                                                                (int)p->input1_shift);
    const int32_t scaled2 = tx_multiply_by_quantized_multiplier(shifted2, p->input2_multiplier,
                                                                (int)p->input2_shift);
    int32_t sum = tx_multiply_by_quantized_multiplier(scaled1 + scaled2, p->output_multiplier,
                                                      (int)p->output_shift);
    sum += p->output_offset;
    output[i] = (int8_t)tx_clamp(sum, p->act_min, p->act_max);
  }
}
