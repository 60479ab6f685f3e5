/* PAD in H and W with a constant value (portable). */
#include <string.h>

#include "tx_kernels.h"

void tx_pad_s8_portable(const tx_pad_params* p, const int8_t* input, int8_t* output) {
  const int32_t out_w = p->in_w + p->pad_left + p->pad_right;
  const int32_t row_bytes = out_w * p->channels;
  const int32_t out_h = p->in_h + p->pad_top + p->pad_bottom;
  for (int32_t y = 0; y < out_h; ++y) {
    int8_t* row = output + y * row_bytes;
    const int32_t iy = y - p->pad_top;
    if (iy < 0 || iy >= p->in_h) {
      memset(row, p->pad_value, (size_t)row_bytes);
      continue;
    }
    memset(row, p->pad_value, (size_t)(p->pad_left * p->channels));
    memcpy(row + p->pad_left * p->channels, input + iy * p->in_w * p->channels,
           (size_t)(p->in_w * p->channels));
    memset(row + (p->pad_left + p->in_w) * p->channels, p->pad_value,
           (size_t)(p->pad_right * p->channels));
  }
}
