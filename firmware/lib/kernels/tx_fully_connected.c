/* FULLY_CONNECTED int8 (portable), as TFLM's reference integer
 * FullyConnected / FullyConnectedPerChannel. */
#include "tx_fixed_point.h"
#include "tx_kernels.h"

void tx_fully_connected_s8_portable(const tx_fully_connected_params* p, const int8_t* input,
                                    int8_t* output) {
  for (int32_t o = 0; o < p->out_features; ++o) {
    const int8_t* weights = p->filter + o * p->in_features;
    int32_t acc = 0;
    for (int32_t i = 0; i < p->in_features; ++i) {
      acc += ((int32_t)weights[i] + p->filter_offset) * ((int32_t)input[i] + p->input_offset);
    }
    if (p->bias != NULL) {
      acc += p->bias[o];
    }
    const int32_t q = p->per_channel ? o : 0;
    acc = tx_multiply_by_quantized_multiplier(acc, p->multiplier[q], (int)p->shift[q]);
    acc += p->output_offset;
    output[o] = (int8_t)tx_clamp(acc, p->act_min, p->act_max);
  }
}
