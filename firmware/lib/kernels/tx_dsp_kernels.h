/* The Armv7E-M DSP kernels (tx_*_dsp.c): built and selected by tx_dispatch.c
 * whenever the target has the DSP extension, unless -DTX_KERNELS_PORTABLE=1.
 * Each is byte-identical with the portable kernel of its table entry
 * (firmware/test/test_kernels checks that on qemu_m4). */
#ifndef TINYXRAY_KERNELS_TX_DSP_KERNELS_H_
#define TINYXRAY_KERNELS_TX_DSP_KERNELS_H_

#include "tx_dsp_config.h"
#include "tx_kernels.h"

#if TX_DSP_KERNELS
#ifdef __cplusplus
extern "C" {
#endif

void tx_conv2d_s8_dsp(const tx_conv_params* params, const int8_t* input, int8_t* output);
void tx_conv2d_1x1_s8_dsp(const tx_conv_params* params, const int8_t* input, int8_t* output);
void tx_depthwise_conv2d_3x3_s8_dsp(const tx_depthwise_params* params, const int8_t* input,
                                    int8_t* output);
void tx_add_s8_dsp(const tx_add_params* params, const int8_t* input1, const int8_t* input2,
                   int8_t* output);
void tx_mean_s8_dsp(const tx_mean_params* params, const int8_t* input, int8_t* output);

#ifdef __cplusplus
}
#endif
#endif /* TX_DSP_KERNELS */

#endif /* TINYXRAY_KERNELS_TX_DSP_KERNELS_H_ */
