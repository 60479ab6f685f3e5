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

/* acc is the accumulator; multiplier, right_shift and rounding are in r9,
 * r10, r11 (a tx_conv_quant record loaded into r8-r11); the output byte goes
 * to [out], out advancing by one. */
.macro REQUANT_R9 acc, out
    lsl     \acc, \acc, #1
    smmlar  r12, \acc, r9, r11
    add     r12, r12, \acc, asr #31
    asr     r12, r12, r10
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

/* One group of four values of the 2x2 block: two LDRDs of the pixels, two
 * LDRs of the rows, four SXTB16 and eight SMLADs (16 MACs). */
.macro PAIRS_GROUP
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
.endm

/* The channel pairs of one pixel pair; the frame at sp holds the
 * tx_conv_pairs_job fields (out0, out1 and quant advance), r1 the weight row
 * and r3 the record of the first channel. */
.macro PAIRS_BLOCKS label, odd
.L\label\()_next:
    ldr     r4, [r3]                @ acc00 = bias[oc]
    ldr     r5, [r3, #16]           @ acc01 = bias[oc + 1]
    mov     r6, r4                  @ acc10
    mov     r7, r5                  @ acc11
    ldrd    r0, r3, [sp]            @ x, x_end
    ldr     r2, [sp, #8]            @ row_offset
    .ifne \odd
    b       .L\label\()_second
    .endif
.L\label\()_first:
    PAIRS_GROUP
.L\label\()_second:
    PAIRS_GROUP
    cmp     r0, r3
    bne     .L\label\()_first
    ldr     r0, [sp, #12]           @ row_advance
    add     r1, r1, r0              @ row of channel oc + 2
    ldr     r3, [sp, #24]           @ quant[oc]
    ldrd    r0, r2, [sp, #16]       @ out0, out1
    ldm     r3!, {r8-r11}           @ bias, multiplier, right_shift, rounding of oc
    REQUANT_R9 r4, r0
    REQUANT_R9 r6, r2
    ldm     r3!, {r8-r11}           @ of oc + 1
    REQUANT_R9 r5, r0
    REQUANT_R9 r7, r2
    strd    r0, r2, [sp, #16]
    str     r3, [sp, #24]
    ldr     r0, [sp, #28]           @ quant_end
    cmp     r3, r0
    bne     .L\label\()_next
.endm

/* void name(tx_conv_pairs_job* job)
 * The channel pairs of one pixel pair already widened in job->x: four
 * accumulators from the biases, the groups two per loop iteration (an odd
 * count enters the loop in its middle: the _odd entry), then four outputs. */
.macro CONV_PAIRS name, odd
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    sub     sp, sp, #32
    ldm     r0, {r1-r9}             @ x, x_end, row_offset, row_advance, out0, out1,
    stm     sp, {r1-r8}             @ quant, quant_end (the frame), filter
    mov     r1, r9                  @ r1: weight row of channel oc
    mov     r3, r7                  @ r3: quant[oc]
    PAIRS_BLOCKS \name, \odd
    add     sp, sp, #32
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    CONV_PAIRS tx_dsp_conv_pairs, 0
    CONV_PAIRS tx_dsp_conv_pairs_odd, 1

/* void name(tx_conv_1x1_job* job)
 * A whole 1x1 convolution with depth % 4 == 0 and an even channel count:
 * per pixel pair, widen both pixels into job->x (per group one LDR per pixel,
 * four SXTB16, one STM), then its channel pairs as above. */
.macro CONV_1X1 name, odd
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    sub     sp, sp, #56
    ldm     r0!, {r1-r7}            @ x, x_end, row_offset, row_advance, out0, out1, quant
    stm     sp, {r1-r7}
    ldm     r0, {r1-r7}             @ quant_end, filter, in, in_end, depth, out_c, (pad)
    add     r8, sp, #28
    stm     r8, {r1-r7}
.L\name\()_pixels:
    @ widen the pair at `in` (pixel 1 is `depth` bytes on) into x
    ldr     r0, [sp, #36]           @ in
    ldr     r2, [sp, #44]           @ depth
    ldrd    r1, r3, [sp]            @ x, x_end
    add     r2, r0, r2              @ pixel 1
.L\name\()_widen:
    ldr     r8, [r0], #4
    ldr     r9, [r2], #4
    sxtb16  r4, r8
    sxtb16  r5, r8, ror #8
    sxtb16  r6, r9
    sxtb16  r7, r9, ror #8
    stm     r1!, {r4-r7}
    cmp     r1, r3
    bne     .L\name\()_widen
    str     r2, [sp, #36]           @ the next pair starts after pixel 1
    ldr     r1, [sp, #32]           @ filter: weight row of channel 0
    ldr     r3, [sp, #24]           @ quant: record of channel 0
    PAIRS_BLOCKS \name, \odd
    @ out1 has reached the next pair's pixel 0; quant goes back to channel 0
    ldr     r1, [sp, #20]
    ldr     r2, [sp, #48]           @ out_c
    add     r0, r1, r2
    strd    r1, r0, [sp, #16]
    ldr     r3, [sp, #28]           @ quant_end
    sub     r3, r3, r2, lsl #4      @ 16 bytes per record
    str     r3, [sp, #24]
    ldrd    r0, r1, [sp, #36]       @ in, in_end
    cmp     r0, r1
    bne     .L\name\()_pixels
    add     sp, sp, #56
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    CONV_1X1 tx_dsp_conv_1x1, 0
    CONV_1X1 tx_dsp_conv_1x1_odd, 1

/* Depthwise 3x3 over four channels of a small padded plane: per tap one LDR
 * of the pixel's four channels, two SXTB16, one LDRD of the four weights
 * (doubled, pre-widened) and four halfword MACs. */
.macro VEC_TAP offset, weights
    ldr     r10, [r0, #\offset]
    sxtb16  r11, r10, ror #8        @ channels 1, 3
    sxtb16  r10, r10                @ channels 0, 2
    ldrd    r8, r9, [r1, #\weights] @ (w0, w2), (w1, w3)
    smlabb  r4, r10, r8, r4
    smlatt  r6, r10, r8, r6
    smlabb  r5, r11, r9, r5
    smlatt  r7, r11, r9, r7
.endm

/* acc (doubled) of channel k to [r3, #k]; r2: its multiplier, rounding,
 * right_shift, advancing. */
.macro VEC_OUT acc, k
    ldm     r2!, {r8-r10}
    smmlar  r11, \acc, r8, r9
    add     r11, r11, \acc, asr #31
    asr     r11, r11, r10
    ssat    r11, #8, r11
    strb    r11, [r3, #\k]
.endm

/* void name(tx_dw_vector_job* job) */
.macro DW_VECTOR name, stride
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    mov     lr, r0                  @ lr: the job
    ldrd    r0, r3, [lr, #8]        @ plane (first window), out
    ldr     r1, [lr]                @ weights
    ldr     r12, [lr, #20]          @ out_w: outputs left in the row
.L\name\()_pixel:
    ldr     r2, [lr, #4]            @ constants: four doubled biases, then
    ldm     r2!, {r4-r7}            @ (multiplier, rounding, right_shift) x 4
    VEC_TAP 0, 0
    VEC_TAP 4, 8
    VEC_TAP 8, 16
    VEC_TAP TX_DW_PLANE_ROW_BYTES, 24
    VEC_TAP TX_DW_PLANE_ROW_BYTES + 4, 32
    VEC_TAP TX_DW_PLANE_ROW_BYTES + 8, 40
    VEC_TAP 2 * TX_DW_PLANE_ROW_BYTES, 48
    VEC_TAP 2 * TX_DW_PLANE_ROW_BYTES + 4, 56
    VEC_TAP 2 * TX_DW_PLANE_ROW_BYTES + 8, 64
    VEC_OUT r4, 0
    VEC_OUT r5, 1
    VEC_OUT r6, 2
    VEC_OUT r7, 3
    ldr     r8, [lr, #16]           @ channels: the next output pixel
    add     r3, r3, r8
    add     r0, r0, #4 * \stride    @ the next window
    subs    r12, r12, #1
    bne     .L\name\()_pixel
    ldr     r12, [lr, #20]          @ the next row
    sub     r0, r0, r12, lsl #(2 + \stride - 1)
    add     r0, r0, #\stride * TX_DW_PLANE_ROW_BYTES
    ldr     r8, [lr, #24]           @ rows left
    subs    r8, r8, #1
    str     r8, [lr, #24]
    bne     .L\name\()_pixel
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    DW_VECTOR tx_dsp_dw_vector_s1, 1
    DW_VECTOR tx_dsp_dw_vector_s2, 2

/* One group of four values of the 1x4 block: an LDRD of the pixel, four LDRs
 * of the rows (r1, r1 + r2, + r10, + r11), eight SXTB16, eight SMLADs. */
.macro ONE_ROW acc, offset
    ldr     lr, [r1, \offset]
    sxtb16  r12, lr, ror #8
    sxtb16  lr, lr
    smlad   \acc, lr, r8, \acc
    smlad   \acc, r12, r9, \acc
.endm

.macro ONE_GROUP
    ldrd    r8, r9, [r0], #8        @ (v0, v2), (v1, v3)
    ldr     lr, [r1], #4            @ row oc
    sxtb16  r12, lr, ror #8
    sxtb16  lr, lr
    smlad   r4, lr, r8, r4
    smlad   r4, r12, r9, r4
    ONE_ROW r5, r2                  @ rows oc + 1 .. oc + 3
    ONE_ROW r6, r10
    ONE_ROW r7, r11
.endm

/* The next record: bias (unused) in r8, multiplier in r9, right_shift in
 * r12, rounding in lr. */
.macro ONE_CONSTANTS
    ldm     r3!, {r8, r9, r12, lr}
.endm

/* acc's output to [r0], r0 advancing; multiplier, right_shift, rounding in
 * r9, r12, lr. */
.macro REQUANT_ONE acc
    lsl     \acc, \acc, #1
    smmlar  r8, \acc, r9, lr
    add     r8, r8, \acc, asr #31
    asr     r8, r8, r12
    ssat    r8, #8, r8
    strb    r8, [r0], #1
.endm

/* void name(tx_conv_one_job* job)
 * Every output channel (a multiple of 4) of one pixel widened in job->x:
 * blocks of four channels, the groups two per loop iteration. */
.macro CONV_ONE name, odd
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    sub     sp, sp, #32
    ldm     r0, {r1-r10}            @ x, x_end, row_offset, row_advance, out, quant,
    stm     sp, {r1-r7}             @ quant_end (the frame), filter, offsets 2 and 3
    mov     r1, r8                  @ r1: weight row of channel oc
    mov     r2, r3                  @ r2: row_offset (row oc + 1)
    mov     r11, r10                @ r11: row oc + 3
    mov     r10, r9                 @ r10: row oc + 2
    mov     r3, r6                  @ r3: quant[oc]
.L\name\()_next:
    ldr     r4, [r3]
    ldr     r5, [r3, #16]
    ldr     r6, [r3, #32]
    ldr     r7, [r3, #48]
    ldrd    r0, r3, [sp]            @ x, x_end
    .ifne \odd
    b       .L\name\()_second
    .endif
.L\name\()_first:
    ONE_GROUP
.L\name\()_second:
    ONE_GROUP
    cmp     r0, r3
    bne     .L\name\()_first
    ldr     r0, [sp, #12]           @ row_advance
    add     r1, r1, r0
    ldr     r3, [sp, #20]           @ quant[oc]
    ldr     r0, [sp, #16]           @ out
    ONE_CONSTANTS
    REQUANT_ONE r4
    ONE_CONSTANTS
    REQUANT_ONE r5
    ONE_CONSTANTS
    REQUANT_ONE r6
    ONE_CONSTANTS
    REQUANT_ONE r7
    str     r0, [sp, #16]
    str     r3, [sp, #20]
    ldr     r0, [sp, #24]           @ quant_end
    cmp     r3, r0
    bne     .L\name\()_next
    add     sp, sp, #32
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    CONV_ONE tx_dsp_conv_one, 0
    CONV_ONE tx_dsp_conv_one_odd, 1

/* One element of the fast ADD (tx_add_dsp.c): input1 rescaled with the
 * fast form, input2 (the larger scale) shifted in, the sum requantised. */
.macro ADD_ONE
    ldrsb   r11, [r0], #1           @ x1
    ldrsb   r12, [r1], #1           @ x2
    add     r11, r4, r11, lsl #21   @ 2 * (x1 + offset1) * 2^20
    smmlar  lr, r11, r5, r6
    add     lr, lr, r11, asr #31
    asr     lr, lr, r7              @ input1 rescaled (+ input2's offset term)
    add     lr, lr, r12, lsl #19    @ + x2 * 2^19
    lsl     lr, lr, #1
    smmlar  r11, lr, r8, r9
    add     r11, r11, lr, asr #31
    asr     r11, r11, r10
    ssat    r11, #8, r11
    strb    r11, [r2], #1
.endm

/* void tx_dsp_add(const int8_t* in1, const int8_t* in2, int8_t* out,
 *                 const tx_add_job* job)
 * An even number of elements, two per iteration; safe in place. */
    .global tx_dsp_add
    .type   tx_dsp_add, %function
    .thumb_func
    .align  2
tx_dsp_add:
    push    {r4-r11, lr}
    ldm     r3, {r3-r10}            @ in1_end, offset1, multiplier1, rounding1, shift1,
.Ladd_two:                          @ multiplier, rounding, shift
    ADD_ONE
    ADD_ONE
    cmp     r0, r3
    bne     .Ladd_two
    pop     {r4-r11, pc}
    .size   tx_dsp_add, . - tx_dsp_add

.macro ONE_GROUP2
    ldrd    r8, r9, [r0], #8
    ldr     lr, [r1], #4            @ row oc
    sxtb16  r12, lr, ror #8
    sxtb16  lr, lr
    smlad   r4, lr, r8, r4
    smlad   r4, r12, r9, r4
    ONE_ROW r5, r2                  @ row oc + 1
.endm

/* void name(tx_conv_one_job* job)
 * As CONV_ONE with blocks of two channels (row_advance = 2 * depth -
 * 4 * groups; row_offset2 and 3 unused): the pairs left after the blocks of
 * four, and FULLY_CONNECTED layers with few outputs. */
.macro CONV_ONE2 name, odd
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    sub     sp, sp, #32
    ldm     r0, {r1-r8}             @ x, x_end, row_offset, row_advance, out, quant,
    stm     sp, {r1-r7}             @ quant_end (the frame), filter
    mov     r1, r8
    mov     r2, r3
    mov     r3, r6
.L\name\()_next:
    ldr     r4, [r3]
    ldr     r5, [r3, #16]
    ldrd    r0, r3, [sp]            @ x, x_end
    .ifne \odd
    b       .L\name\()_second
    .endif
.L\name\()_first:
    ONE_GROUP2
.L\name\()_second:
    ONE_GROUP2
    cmp     r0, r3
    bne     .L\name\()_first
    ldr     r0, [sp, #12]
    add     r1, r1, r0
    ldr     r3, [sp, #20]
    ldr     r0, [sp, #16]
    ONE_CONSTANTS
    REQUANT_ONE r4
    ONE_CONSTANTS
    REQUANT_ONE r5
    str     r0, [sp, #16]
    str     r3, [sp, #20]
    ldr     r0, [sp, #24]
    cmp     r3, r0
    bne     .L\name\()_next
    add     sp, sp, #32
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    CONV_ONE2 tx_dsp_conv_one2, 0
    CONV_ONE2 tx_dsp_conv_one2_odd, 1

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

/* One step of a depthwise row, two outputs: one LDM of the five weight pairs
 * and the bias twice (both accumulators), per kernel row an LDRD of the
 * columns (x0, x1), (x2, x3) and an LDR of (x1, x2) at stride 1 or (x4, x5)
 * at stride 2, two SMLADs and two halfword MACs; then two outputs (33
 * instructions for 18 MACs at stride 1, 35 at stride 2). */
.macro DW_STEP stride
    ldm     lr, {r4-r10}            @ w01_0, w01_1, w01_2, w2_01, w2_2, bias, bias
    .if \stride == 1
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
    .else
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
    .endif
    ldrd    r4, r5, [lr, #28]       @ multiplier, rounding
    ldr     r6, [lr, #36]           @ right_shift
    .if \stride == 2
    lsl     r9, r9, #1
    lsl     r10, r10, #1
    .endif
    REQUANT_R4 r9, r11
    REQUANT_R4 r10, r12
    strb    r11, [r1]
    strb    r12, [r1, r3]
    add     r1, r1, r3, lsl #1
.endm

/* void name(tx_dw_job* job)
 * `rows` output rows of one channel (stride 1: doubled buffer; stride 2:
 * plain), the pair steps unrolled twice (an odd count enters in the middle),
 * an odd last output per row alone. */
.macro DW_ROWS name, stride
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    mov     lr, r0                  @ lr: the job
    ldr     r1, [lr, #44]           @ out
    ldr     r3, [lr, #48]           @ channels
.L\name\()_row:
    ldr     r0, [lr, #40]           @ the row's first window
    ldr     r4, [lr, #52]           @ pairs
    add     r2, r0, r4, lsl #(1 + \stride) @ their end: 4 (stride 1) or 8 bytes per pair
    cmp     r0, r2
    beq     .L\name\()_tail
    tst     r4, #1
    bne     .L\name\()_second
.L\name\()_first:
    DW_STEP \stride
.L\name\()_second:
    DW_STEP \stride
    cmp     r0, r2
    bne     .L\name\()_first
.L\name\()_tail:
    ldr     r4, [lr, #64]           @ an odd last output
    cbz     r4, .L\name\()_next
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
    ldrd    r4, r5, [lr, #28]
    ldr     r6, [lr, #36]
    .if \stride == 2
    lsl     r9, r9, #1
    .endif
    REQUANT_R4 r9, r11
    strb    r11, [r1]
    add     r1, r1, r3
.L\name\()_next:
    ldrd    r4, r5, [lr, #56]       @ rows, row_step
    ldr     r6, [lr, #40]
    add     r6, r6, r5
    str     r6, [lr, #40]
    subs    r4, r4, #1
    str     r4, [lr, #56]
    bne     .L\name\()_row
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    DW_ROWS tx_dsp_dw_rows_s1, 1
    DW_ROWS tx_dsp_dw_rows_s2, 2

/* One channel of `rows` input rows into the depthwise buffer: `count` values
 * per row, `channels` bytes apart, widened to int16 (doubled or not), rows
 * TX_DW_ROW_BYTES apart in the buffer and `row_bytes` apart in the input.
 * Four values per iteration: four LDRSBs, two PKHBTs, one STRD. */
.macro DW_WIDEN name, doubled
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
/* void name(const int8_t* in, int16_t* out, const tx_dw_widen_job* job) */
\name:
    push    {r4-r11, lr}
    ldm     r2, {r2-r5}             @ channels, count, rows, row_bytes
    add     r6, r2, r2              @ 2 * channels
    add     r7, r6, r2              @ 3 * channels
    lsl     r8, r2, #2              @ 4 * channels
.L\name\()_row:
    mov     r9, r0                  @ input cursor
    mov     r10, r1                 @ buffer cursor
    subs    lr, r3, #4
    blt     .L\name\()_tail
.L\name\()_four:
    ldrsb   r11, [r9]
    ldrsb   r12, [r9, r2]
    pkhbt   r11, r11, r12, lsl #16
    ldrsb   r12, [r9, r6]
    .ifne \doubled
    sadd16  r11, r11, r11
    .endif
    str     r11, [r10], #4
    ldrsb   r11, [r9, r7]
    add     r9, r9, r8
    pkhbt   r12, r12, r11, lsl #16
    .ifne \doubled
    sadd16  r12, r12, r12
    .endif
    str     r12, [r10], #4
    subs    lr, lr, #4
    bge     .L\name\()_four
.L\name\()_tail:
    adds    lr, lr, #4              @ 0..3 values left
    beq     .L\name\()_next
.L\name\()_one:
    ldrsb   r11, [r9]
    add     r9, r9, r2
    .ifne \doubled
    lsl     r11, r11, #1
    .endif
    strh    r11, [r10], #2
    subs    lr, lr, #1
    bne     .L\name\()_one
.L\name\()_next:
    add     r0, r0, r5
    add     r1, r1, #ROW
    subs    r4, r4, #1
    bne     .L\name\()_row
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    DW_WIDEN tx_dsp_dw_widen, 0
    DW_WIDEN tx_dsp_dw_widen_doubled, 1

    .equ PLANE, TX_DW_PLANE_BYTES

.macro DOUBLE reg, doubled
    .ifne \doubled
    sadd16  \reg, \reg, \reg
    .endif
.endm

/* As DW_WIDEN for four channels at once (`in` at channel c, a word per pixel)
 * into four planes PLANE bytes apart: per two pixels two LDRs, four SXTB16,
 * four PKHBT/PKHTB and four STRs. */
.macro DW_WIDEN4 name, doubled
    .global \name
    .type   \name, %function
    .thumb_func
    .align  2
\name:
    push    {r4-r11, lr}
    ldm     r2, {r2-r5}             @ channels, count, rows, row_bytes
.L\name\()_row:
    mov     r9, r0
    mov     r10, r1
    subs    lr, r3, #2
    blt     .L\name\()_tail
.L\name\()_two:
    ldr     r6, [r9]                @ pixel 0: channels 0..3
    ldr     r7, [r9, r2]            @ pixel 1
    add     r9, r9, r2, lsl #1
    sxtb16  r8, r6                  @ pixel 0: (c0, c2)
    sxtb16  r6, r6, ror #8          @          (c1, c3)
    sxtb16  r11, r7                 @ pixel 1: (c0, c2)
    sxtb16  r7, r7, ror #8          @          (c1, c3)
    pkhtb   r12, r11, r8, asr #16   @ channel 2: (pixel 0, pixel 1)
    DOUBLE  r12, \doubled
    str     r12, [r10, #2 * PLANE]
    pkhbt   r12, r6, r7, lsl #16    @ channel 1
    DOUBLE  r12, \doubled
    str     r12, [r10, #PLANE]
    pkhtb   r12, r7, r6, asr #16    @ channel 3
    DOUBLE  r12, \doubled
    str     r12, [r10, #3 * PLANE]
    pkhbt   r12, r8, r11, lsl #16   @ channel 0
    DOUBLE  r12, \doubled
    str     r12, [r10], #4
    subs    lr, lr, #2
    bge     .L\name\()_two
.L\name\()_tail:
    adds    lr, lr, #2              @ one pixel left, or none
    beq     .L\name\()_next
    ldr     r6, [r9]
    sxtb16  r8, r6
    sxtb16  r6, r6, ror #8
    DOUBLE  r8, \doubled
    DOUBLE  r6, \doubled
    strh    r8, [r10]
    strh    r6, [r10, #PLANE]
    lsr     r8, r8, #16
    lsr     r6, r6, #16
    strh    r8, [r10, #2 * PLANE]
    strh    r6, [r10, #3 * PLANE]
.L\name\()_next:
    add     r0, r0, r5
    add     r1, r1, #ROW
    subs    r4, r4, #1
    bne     .L\name\()_row
    pop     {r4-r11, pc}
    .size   \name, . - \name
.endm

    DW_WIDEN4 tx_dsp_dw_widen4, 0
    DW_WIDEN4 tx_dsp_dw_widen4_doubled, 1

#endif /* TX_DSP_KERNELS */
