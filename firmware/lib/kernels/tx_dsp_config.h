/* Whether the Armv7E-M DSP kernels are built: on every target with the DSP
 * extension (Cortex-M4, M7, M33 with DSP), unless -DTX_KERNELS_PORTABLE=1.
 * Preprocessor only, so tx_dsp_loops.S includes it too. */
#ifndef TINYXRAY_KERNELS_TX_DSP_CONFIG_H_
#define TINYXRAY_KERNELS_TX_DSP_CONFIG_H_

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__thumb2__) && \
    !(defined(TX_KERNELS_PORTABLE) && TX_KERNELS_PORTABLE)
#define TX_DSP_KERNELS 1
#else
#define TX_DSP_KERNELS 0
#endif

/* Depthwise row buffer (tx_depthwise_dsp.c, tx_dsp_loops.S): int16 values per
 * row and bytes from one row to the next (immediate offsets in the loops),
 * TX_DW_ROWS rows (4 KB); gathering four channels at once, four planes of
 * TX_DW_ROWS / 4 rows, TX_DW_PLANE_BYTES apart. */
#define TX_DW_ROW 64
#define TX_DW_ROW_BYTES (2 * TX_DW_ROW)
#define TX_DW_ROWS 32
#define TX_DW_PLANE_BYTES (TX_DW_ROWS / 4 * TX_DW_ROW_BYTES)

/* Small depthwise planes, four channels at a time: a padded copy of the
 * plane, one word (four channels) per pixel, rows TX_DW_PLANE_ROW words apart
 * and at most TX_DW_PLANE_ROW rows. */
#define TX_DW_PLANE_ROW 16
#define TX_DW_PLANE_ROW_BYTES (4 * TX_DW_PLANE_ROW)

#endif /* TINYXRAY_KERNELS_TX_DSP_CONFIG_H_ */
