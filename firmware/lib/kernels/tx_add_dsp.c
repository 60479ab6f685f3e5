/* ADD int8 for Armv7E-M (DSP extension), byte-identical with
 * tx_add_s8_portable where the compiler set `fast` (otherwise it runs the
 * portable kernel).
 *
 * TFLM rescales each input, (x + offset) * 2^20, to twice the larger scale:
 * input2 (the larger, the compiler orders them) by exactly 1/2, which is a
 * shift, (x2 + offset2) * 2^19; input1 with the fast requantisation of
 * tx_arm_dsp.h applied to (x1 + offset1) * 2^21, its doubled value. The sum is
 * rescaled to the output the same way, zero point folded in: 14 instructions
 * per element (tx_dsp_add) instead of three 64-bit requantisations; the
 * compiler checked it against TFLM's arithmetic on all 65,536 input pairs
 * (host/aot/requant.py). Safe in place: each element is read before it is
 * written. */
#include "tx_dsp_kernels.h"

#if TX_DSP_KERNELS

#include "tx_arm_dsp.h"
#include "tx_dsp_loops.h"

static TX_ALWAYS_INLINE void tx_add_fast(const tx_add_params* p, const int8_t* input1,
                                         const int8_t* input2, int8_t* output,
                                         const int same_scale, const int clamped) {
  const int32_t offset1 = same_scale ? p->input1_offset * (1 << 19) : p->fast_input1_offset;
  const int32_t multiplier1 = p->input1_multiplier;
  const int32_t rounding1 = p->fast_input1_rounding;
  const int32_t shift1 = -p->input1_shift;
  const int32_t offset2 = p->fast_input2_offset;
  const int32_t multiplier = p->output_multiplier;
  const int32_t rounding = p->fast_output_rounding;
  const int32_t shift = -p->output_shift;
  const int32_t act_min = p->act_min;
  const int32_t act_max = p->act_max;
  const int8_t* end = input1 + p->count;
  while (input1 != end) {
    int32_t scaled1;
    if (same_scale) {
      scaled1 = offset1 + *input1++ * (1 << 19);
    } else {
      const int32_t doubled1 = offset1 + *input1++ * (1 << 21);
      scaled1 = tx_smmlar(doubled1, multiplier1, rounding1);
      scaled1 = (scaled1 + (doubled1 >> 31)) >> shift1;
    }
    const int32_t sum = scaled1 + offset2 + *input2++ * (1 << 19);
    int32_t value = tx_requantize_fast(sum * 2, multiplier, rounding, shift);
    if (clamped) {
      value = tx_clamp(value, act_min, act_max);
    }
    *output++ = (int8_t)value;
  }
}

void tx_add_s8_dsp(const tx_add_params* p, const int8_t* input1, const int8_t* input2,
                   int8_t* output) {
  const int clamped = p->act_min != -128 || p->act_max != 127;
  if (p->fast == 1 && !clamped && p->fast_input2_offset == 0 && p->count >= 2) {
    /* The common case in assembly (an odd last element in C). */
    const int32_t even = p->count & ~1;
    const tx_add_job job = {input1 + even,         p->fast_input1_offset,  p->input1_multiplier,
                            p->fast_input1_rounding, -p->input1_shift,    p->output_multiplier,
                            p->fast_output_rounding, -p->output_shift};
    tx_dsp_add(input1, input2, output, &job);
    if (even != p->count) {
      tx_add_params last = *p;
      last.count = 1;
      tx_add_fast(&last, input1 + even, input2 + even, output + even, 0, 0);
    }
    return;
  }
  if (p->fast == 1) {
    if (clamped) {
      tx_add_fast(p, input1, input2, output, 0, 1);
    } else {
      tx_add_fast(p, input1, input2, output, 0, 0);
    }
  } else if (p->fast == 2) {
    tx_add_fast(p, input1, input2, output, 1, clamped);
  } else {
    tx_add_s8_portable(p, input1, input2, output);
  }
}

#endif /* TX_DSP_KERNELS */
