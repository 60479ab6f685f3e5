/* Clipping of a convolution window to the input, shared by CONV_2D and
 * DEPTHWISE_CONV_2D: the taps that fall in the padding contribute nothing. */
#ifndef TINYXRAY_KERNELS_TX_WINDOW_H_
#define TINYXRAY_KERNELS_TX_WINDOW_H_

#include <stdint.h>

#include "tx_fixed_point.h"

/* The kernel taps [*begin, *end) along one axis that land inside an input of
 * `in_size`, for a window whose first tap is at `origin` (negative inside the
 * leading padding). */
static TX_ALWAYS_INLINE void tx_window_taps(int32_t origin, int32_t in_size, int32_t k_size,
                                            int32_t* begin, int32_t* end) {
  *begin = origin < 0 ? -origin : 0;
  *end = (in_size - origin) < k_size ? (in_size - origin) : k_size;
}

#endif /* TINYXRAY_KERNELS_TX_WINDOW_H_ */
