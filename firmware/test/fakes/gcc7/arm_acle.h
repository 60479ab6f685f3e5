/* Shadows the compiler's arm_acle.h in the CI guard (tools/check_core_build.sh)
 * with what GCC 7.2.1's has for Cortex-M4: no ACLE SIMD32, saturation or DSP
 * intrinsics (__sxtb16, __smlad, __ssat, __qadd, int16x2_t ...; they arrived
 * in GCC 10), although that compiler does define __ARM_FEATURE_SIMD32 and
 * __ARM_FEATURE_DSP. GCC 7's header offers only the coprocessor and CRC32
 * intrinsics, which no tinyxray code uses, so this one offers nothing. Code
 * that needs these instructions uses inline assembly, as CMSIS does. */
#ifndef TINYXRAY_GCC7_ARM_ACLE_H_
#define TINYXRAY_GCC7_ARM_ACLE_H_
#include <stdint.h>
#endif
