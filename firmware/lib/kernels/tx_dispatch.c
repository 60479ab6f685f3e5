/* Kernel selection at build time. On a target with the Armv7E-M DSP extension
 * (__ARM_FEATURE_DSP: Cortex-M4, M7, M33 with DSP) the table holds the DSP
 * kernels (tx_*_dsp.c) wherever they exist; -DTX_KERNELS_PORTABLE=1 keeps the
 * portable C kernels there too. Other targets (host, ESP32-S3) use the
 * portable kernels. A single entry can still be overridden with a define,
 * e.g. -DTX_IMPL_CONV2D=tx_conv2d_s8_cmsis (the variant's source file is
 * added to the build and must be byte-identical with the portable kernel). */
#include "tx_dsp_kernels.h"
#include "tx_kernels.h"

#if TX_DSP_KERNELS
#ifndef TX_IMPL_CONV2D
#define TX_IMPL_CONV2D tx_conv2d_s8_dsp
#endif
#ifndef TX_IMPL_CONV2D_1X1
#define TX_IMPL_CONV2D_1X1 tx_conv2d_1x1_s8_dsp
#endif
#ifndef TX_IMPL_DEPTHWISE_CONV2D_3X3
#define TX_IMPL_DEPTHWISE_CONV2D_3X3 tx_depthwise_conv2d_3x3_s8_dsp
#endif
#ifndef TX_IMPL_ADD
#define TX_IMPL_ADD tx_add_s8_dsp
#endif
#ifndef TX_IMPL_MEAN
#define TX_IMPL_MEAN tx_mean_s8_dsp
#endif
#define TX_KERNELS_NAME "dsp"
#else
#define TX_KERNELS_NAME "portable"
#endif

#ifndef TX_IMPL_CONV2D
#define TX_IMPL_CONV2D tx_conv2d_s8_portable
#endif
#ifndef TX_IMPL_CONV2D_1X1
#define TX_IMPL_CONV2D_1X1 tx_conv2d_s8_portable
#endif
#ifndef TX_IMPL_DEPTHWISE_CONV2D
#define TX_IMPL_DEPTHWISE_CONV2D tx_depthwise_conv2d_s8_portable
#endif
#ifndef TX_IMPL_DEPTHWISE_CONV2D_3X3
#define TX_IMPL_DEPTHWISE_CONV2D_3X3 tx_depthwise_conv2d_s8_portable
#endif
#ifndef TX_IMPL_ADD
#define TX_IMPL_ADD tx_add_s8_portable
#endif
#ifndef TX_IMPL_MEAN
#define TX_IMPL_MEAN tx_mean_s8_portable
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
    tx_conv2d_s8_portable,
    tx_conv2d_s8_portable,
    tx_depthwise_conv2d_s8_portable,
    tx_depthwise_conv2d_s8_portable,
    tx_add_s8_portable,
    tx_mean_s8_portable,
    tx_softmax_s8_portable,
    tx_pad_s8_portable,
    tx_requantize_s8_portable,
};

const tx_kernel_table tx_kernels = {
    TX_IMPL_CONV2D,
    TX_IMPL_CONV2D_1X1,
    TX_IMPL_DEPTHWISE_CONV2D,
    TX_IMPL_DEPTHWISE_CONV2D_3X3,
    TX_IMPL_ADD,
    TX_IMPL_MEAN,
    TX_IMPL_SOFTMAX,
    TX_IMPL_PAD,
    TX_IMPL_REQUANTIZE,
};

const char* const tx_kernels_name = TX_KERNELS_NAME;
