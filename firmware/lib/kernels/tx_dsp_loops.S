/* Inner loops of the Armv7E-M DSP kernels (see tx_dsp_loops.h for the jobs
 * and why these few loops are in assembly). Thumb-2, unified syntax, AAPCS:
 * r4-r11 and lr are saved and restored. Assembles to nothing unless
 * tx_dsp_config.h enables the DSP kernels.
 *
 * Every loop ends in the fast requantisation of tx_arm_dsp.h,
 * tx_requantize_fast: smmlar of the doubled accumulator, minus one when it
 * is negative, arithmetic shift, saturation to int8. */
#include "tx_dsp_config.h"

#if TX_DSP_KERNELS

    .syntax unified
    .thumb
    .text

    .equ ROW, TX_DW_ROW_BYTES

/* acc is the accumulator; multiplier, rounding and right_shift are in r9,
 * r10, r11; the output byte goes to [out], out advancing by one. */
.macro REQUANT_R9 acc, out
    lsl     \acc, \acc, #1
    smmlar  r12, \acc, r9, r10
    add     r12, r12, \acc, asr #31
    asr     r12, r12, r11
    ssat    r12, #8, r12
    strb    r12, [\out], #1
.endm

/* tmp = output of the doubled accumulator acc; multiplier, rounding and
 * right_shift in r4, r5, r6. */
.macro REQUANT_R4 acc, tmp
    smmlar  \tmp, \acc, r4, r5
    add     \tmp, \tmp, \acc, asr #31
    asr     \tmp, \tmp, r6
    ssat    \tmp, #8, \tmp
.endm

/* void tx_dsp_conv_pairs(tx_conv_pairs_job* job)
 * Per pair of output channels: four accumulators from the biases, then per
 * group of four values two LDRDs of the pixels, two LDRs of the rows, four
 * SXTB16 and eight SMLADs (18 instructions for 16 MACs), then four outputs. */
    .global tx_dsp_conv_pairs
    .type   tx_dsp_conv_pairs, %function
    .thumb_func
    .align  2
tx_dsp_conv_pairs:
    push    {r4-r11, lr}
    sub     sp, sp, #32
    ldm     r0, {r1-r9}             @ x, x_end, row_offset, row_advance, out0, out1,
    stm     sp, {r1-r8}             @ quant, quant_end (the frame), filter
    mov     r1, r9                  @ r1: weight row of channel oc
    mov     r3, r7                  @ r3: quant[oc]
.Lpairs_next:
    ldr     r4, [r3]                @ acc00 = bias[oc]
    ldr     r5, [r3, #16]           @ acc01 = bias[oc + 1]
    mov     r6, r4                  @ acc10
    mov     r7, r5                  @ acc11
    ldrd    r0, r3, [sp]            @ x, x_end
    ldr     r2, [sp, #8]            @ row_offset
.Lpairs_group:
    ldrd    r10, r11, [r0, #8]      @ pixel 1: (v0, v2), (v1, v3)
    ldrd    r8, r9, [r0], #16       @ pixel 0
    ldr     lr, [r1], #4            @ row oc: w0..w3
    sxtb16  r12, lr, ror #8         @ (w1, w3)
    sxtb16  lr, lr                  @ (w0, w2)
    smlad   r4, lr, r8, r4
    smlad   r4, r12, r9, r4
    smlad   r6, lr, r10, r6
    smlad   r6, r12, r11, r6
    ldr     lr, [r1, r2]            @ row oc + 1
    sxtb16  r12, lr, ror #8
    sxtb16  lr, lr
    smlad   r5, lr, r8, r5
    smlad   r5, r12, r9, r5
    smlad   r7, lr, r10, r7
    smlad   r7, r12, r11, r7
    cmp     r0, r3
    bne     .Lpairs_group
    ldr     r0, [sp, #12]           @ row_advance
    add     r1, r1, r0              @ row of channel oc + 2
    ldr     r3, [sp, #24]           @ quant[oc]
    ldrd    r0, r2, [sp, #16]       @ out0, out1
    ldm     r3!, {r8-r11}           @ bias, multiplier, rounding, right_shift of oc
    REQUANT_R9 r4, r0
    REQUANT_R9 r6, r2
    ldm     r3!, {r8-r11}           @ of oc + 1
    REQUANT_R9 r5, r0
    REQUANT_R9 r7, r2
    strd    r0, r2, [sp, #16]
    str     r3, [sp, #24]
    ldr     r0, [sp, #28]           @ quant_end
    cmp     r3, r0
    bne     .Lpairs_next
    add     sp, sp, #32
    pop     {r4-r11, pc}
    .size   tx_dsp_conv_pairs, . - tx_dsp_conv_pairs

/* void tx_dsp_conv_taps(const int32_t* taps, const int32_t* channels,
 *                       const int32_t* channels_end, int8_t* out)
 * The window in r0-r4 (weights and biases doubled); per output channel
 * one LDM of its weights and bias, five SMLADs, one LDM of its
 * requantisation constants, five instructions to the stored output. */
    .global tx_dsp_conv_taps
    .type   tx_dsp_conv_taps, %function
    .thumb_func
    .align  2
tx_dsp_conv_taps:
    push    {r4-r11, lr}
    mov     r5, r1
    mov     r7, r2
    mov     r6, r3
    ldm     r0, {r0-r4}             @ the five tap pairs
.Ltaps_next:
    ldm     r5!, {r8-r12, lr}       @ the five weight pairs, bias
    smlad   lr, r8, r0, lr
    smlad   lr, r9, r1, lr
    smlad   lr, r10, r2, lr
    smlad   lr, r11, r3, lr
    smlad   lr, r12, r4, lr
    ldm     r5!, {r8-r10}           @ multiplier, rounding, right_shift
    smmlar  r11, lr, r8, r9
    add     r11, r11, lr, asr #31
    asr     r11, r11, r10
    ssat    r11, #8, r11
    strb    r11, [r6], #1
    cmp     r5, r7
    bne     .Ltaps_next
    pop     {r4-r11, pc}
    .size   tx_dsp_conv_taps, . - tx_dsp_conv_taps

/* void tx_dsp_dw_rows_s1(tx_dw_job* job)
 * Stride 1, doubled buffer. Per output pair: one LDM of the five weight
 * pairs and the bias, per kernel row an LDRD of the columns (x0, x1),
 * (x2, x3), an LDR of (x1, x2), two SMLADs and two halfword MACs; then two
 * outputs (35 instructions for 18 MACs). */
    .global tx_dsp_dw_rows_s1
    .type   tx_dsp_dw_rows_s1, %function
    .thumb_func
    .align  2
tx_dsp_dw_rows_s1:
    push    {r4-r11, lr}
    mov     lr, r0                  @ lr: the job
    ldr     r1, [lr, #40]           @ out
    ldr     r3, [lr, #44]           @ channels
.Ls1_row:
    ldr     r0, [lr, #36]           @ the row's first window
    ldr     r2, [lr, #48]           @ pairs
    add     r2, r0, r2, lsl #2      @ its end: two columns (4 bytes) per pair
    cmp     r0, r2
    beq     .Ls1_tail
.Ls1_pair:
    ldm     lr, {r4-r9}             @ w01_0, w01_1, w01_2, w2_01, w2_2, bias
    mov     r10, r9
    ldrd    r11, r12, [r0, #ROW]    @ kernel row 1: (x0, x1), (x2, x3)
    smlad   r9, r5, r11, r9
    smlatb  r9, r7, r12, r9         @ w[1][2] * x2
    ldr     r11, [r0, #ROW + 2]     @ (x1, x2)
    smlad   r10, r5, r11, r10
    smlatt  r10, r7, r12, r10       @ w[1][2] * x3
    ldrd    r11, r12, [r0, #2 * ROW] @ kernel row 2
    smlad   r9, r6, r11, r9
    smlabb  r9, r8, r12, r9
    ldr     r11, [r0, #2 * ROW + 2]
    smlad   r10, r6, r11, r10
    smlabt  r10, r8, r12, r10
    ldr     r11, [r0, #2]           @ kernel row 0, then two columns on
    smlad   r10, r4, r11, r10
    ldrd    r11, r12, [r0], #4
    smlad   r9, r4, r11, r9
    smlabb  r9, r7, r12, r9
    smlabt  r10, r7, r12, r10
    ldrd    r4, r5, [lr, #24]       @ multiplier, rounding
    ldr     r6, [lr, #32]           @ right_shift
    REQUANT_R4 r9, r11
    REQUANT_R4 r10, r12
    strb    r11, [r1]
    strb    r12, [r1, r3]
    add     r1, r1, r3, lsl #1
    cmp     r0, r2
    bne     .Ls1_pair
.Ls1_tail:
    ldr     r4, [lr, #60]           @ an odd last output
    cbz     r4, .Ls1_next
    ldm     lr, {r4-r9}
    ldrd    r11, r12, [r0, #ROW]
    smlad   r9, r5, r11, r9
    smlatb  r9, r7, r12, r9
    ldrd    r11, r12, [r0, #2 * ROW]
    smlad   r9, r6, r11, r9
    smlabb  r9, r8, r12, r9
    ldrd    r11, r12, [r0]
    smlad   r9, r4, r11, r9
    smlabb  r9, r7, r12, r9
    ldrd    r4, r5, [lr, #24]
    ldr     r6, [lr, #32]
    REQUANT_R4 r9, r11
    strb    r11, [r1]
    add     r1, r1, r3
.Ls1_next:
    ldrd    r4, r5, [lr, #52]       @ rows, row_step
    ldr     r6, [lr, #36]
    add     r6, r6, r5
    str     r6, [lr, #36]
    subs    r4, r4, #1
    str     r4, [lr, #52]
    bne     .Ls1_row
    pop     {r4-r11, pc}
    .size   tx_dsp_dw_rows_s1, . - tx_dsp_dw_rows_s1

/* void tx_dsp_dw_rows_s2(tx_dw_job* job)
 * Stride 2, plain buffer. Per output pair and kernel row: an LDRD of
 * (x0, x1), (x2, x3), an LDR of (x4, x5), two SMLADs and two halfword MACs. */
    .global tx_dsp_dw_rows_s2
    .type   tx_dsp_dw_rows_s2, %function
    .thumb_func
    .align  2
tx_dsp_dw_rows_s2:
    push    {r4-r11, lr}
    mov     lr, r0
    ldr     r1, [lr, #40]
    ldr     r3, [lr, #44]
.Ls2_row:
    ldr     r0, [lr, #36]
    ldr     r2, [lr, #48]
    add     r2, r0, r2, lsl #3      @ four columns (8 bytes) per pair
    cmp     r0, r2
    beq     .Ls2_tail
.Ls2_pair:
    ldm     lr, {r4-r9}
    mov     r10, r9
    ldrd    r11, r12, [r0, #ROW]    @ kernel row 1: (x0, x1), (x2, x3)
    smlad   r9, r5, r11, r9         @ out0: w0 x0 + w1 x1
    smlatb  r9, r7, r12, r9         @ out0: w[1][2] x2
    smlad   r10, r5, r12, r10       @ out1: w0 x2 + w1 x3
    ldr     r11, [r0, #ROW + 8]     @ (x4, x5)
    smlatb  r10, r7, r11, r10       @ out1: w[1][2] x4
    ldrd    r11, r12, [r0, #2 * ROW] @ kernel row 2
    smlad   r9, r6, r11, r9
    smlabb  r9, r8, r12, r9
    smlad   r10, r6, r12, r10
    ldr     r11, [r0, #2 * ROW + 8]
    smlabb  r10, r8, r11, r10
    ldr     r11, [r0, #8]           @ kernel row 0, then four columns on
    smlabb  r10, r7, r11, r10
    ldrd    r11, r12, [r0], #8
    smlad   r9, r4, r11, r9
    smlabb  r9, r7, r12, r9
    smlad   r10, r4, r12, r10
    ldrd    r4, r5, [lr, #24]
    ldr     r6, [lr, #32]
    lsl     r9, r9, #1
    lsl     r10, r10, #1
    REQUANT_R4 r9, r11
    REQUANT_R4 r10, r12
    strb    r11, [r1]
    strb    r12, [r1, r3]
    add     r1, r1, r3, lsl #1
    cmp     r0, r2
    bne     .Ls2_pair
.Ls2_tail:
    ldr     r4, [lr, #60]
    cbz     r4, .Ls2_next
    ldm     lr, {r4-r9}
    ldrd    r11, r12, [r0, #ROW]
    smlad   r9, r5, r11, r9
    smlatb  r9, r7, r12, r9
    ldrd    r11, r12, [r0, #2 * ROW]
    smlad   r9, r6, r11, r9
    smlabb  r9, r8, r12, r9
    ldrd    r11, r12, [r0]
    smlad   r9, r4, r11, r9
    smlabb  r9, r7, r12, r9
    ldrd    r4, r5, [lr, #24]
    ldr     r6, [lr, #32]
    lsl     r9, r9, #1
    REQUANT_R4 r9, r11
    strb    r11, [r1]
    add     r1, r1, r3
.Ls2_next:
    ldrd    r4, r5, [lr, #52]
    ldr     r6, [lr, #36]
    add     r6, r6, r5
    str     r6, [lr, #36]
    subs    r4, r4, #1
    str     r4, [lr, #52]
    bne     .Ls2_row
    pop     {r4-r11, pc}
    .size   tx_dsp_dw_rows_s2, . - tx_dsp_dw_rows_s2

#endif /* TX_DSP_KERNELS */
