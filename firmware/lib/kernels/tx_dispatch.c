/* Kernel selection. Each op defaults to its portable implementation; a build
 * for a target with optimised kernels overrides single ops with defines, e.g.
 * -DTX_IMPL_CONV2D=tx_conv2d_s8_cmsis (the variant's source file is added to
 * the build and must be byte-identical with the portable kernel). */
#include "tx_kernels.h"

/* -DTX_KERNELS_DSP=1: the Armv7E-M DSP variants (tx_*_dsp.c) where they exist. */
#if defined(TX_KERNELS_DSP) && TX_KERNELS_DSP && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
void tx_conv2d_s8_dsp(const tx_conv_params* params, const int8_t* input, int8_t* output);
#ifndef TX_IMPL_CONV2D
#define TX_IMPL_CONV2D tx_conv2d_s8_dsp
#endif
#endif

#ifndef TX_IMPL_CONV2D
#define TX_IMPL_CONV2D tx_conv2d_s8_portable
#endif
#ifndef TX_IMPL_DEPTHWISE_CONV2D
#define TX_IMPL_DEPTHWISE_CONV2D tx_depthwise_conv2d_s8_portable
#endif
#ifndef TX_IMPL_ADD
#define TX_IMPL_ADD tx_add_s8_portable
#endif
#ifndef TX_IMPL_MEAN
#define TX_IMPL_MEAN tx_mean_s8_portable
#endif
#ifndef TX_IMPL_FULLY_CONNECTED
#define TX_IMPL_FULLY_CONNECTED tx_fully_connected_s8_portable
#endif
#ifndef TX_IMPL_SOFTMAX
#define TX_IMPL_SOFTMAX tx_softmax_s8_portable
#endif
#ifndef TX_IMPL_PAD
#define TX_IMPL_PAD tx_pad_s8_portable
#endif
#ifndef TX_IMPL_REQUANTIZE
#define TX_IMPL_REQUANTIZE tx_requantize_s8_portable
#endif

const tx_kernel_table tx_kernels_portable = {
    tx_conv2d_s8_portable,   tx_depthwise_conv2d_s8_portable, tx_add_s8_portable,
    tx_mean_s8_portable,     tx_fully_connected_s8_portable,  tx_softmax_s8_portable,
    tx_pad_s8_portable,      tx_requantize_s8_portable,
};

const tx_kernel_table tx_kernels = {
    TX_IMPL_CONV2D,  TX_IMPL_DEPTHWISE_CONV2D, TX_IMPL_ADD, TX_IMPL_MEAN,
    TX_IMPL_FULLY_CONNECTED, TX_IMPL_SOFTMAX, TX_IMPL_PAD, TX_IMPL_REQUANTIZE,
};
