/* Force-included by the CI guard (tools/check_core_build.sh, -include): the
 * compiler builtins behind ACLE's SIMD32, saturation and DSP intrinsics, which
 * GCC 12 has and GCC 7.2.1 (PlatformIO's toolchain for the Nano 33 BLE) does
 * not. Using one is then an error here, as it would be there. Generated from
 * the __builtin_arm_* names in GCC 12.2's arm_acle.h, less the coprocessor and
 * CRC32 ones GCC 7 has too. */
#ifndef TINYXRAY_GCC7_POISON_H_
#define TINYXRAY_GCC7_POISON_H_
#pragma GCC poison __builtin_arm_mrrc
#pragma GCC poison __builtin_arm_mrrc2
#pragma GCC poison __builtin_arm_qadd
#pragma GCC poison __builtin_arm_qadd16
#pragma GCC poison __builtin_arm_qadd8
#pragma GCC poison __builtin_arm_qasx
#pragma GCC poison __builtin_arm_qsax
#pragma GCC poison __builtin_arm_qsub
#pragma GCC poison __builtin_arm_qsub16
#pragma GCC poison __builtin_arm_qsub8
#pragma GCC poison __builtin_arm_sadd16
#pragma GCC poison __builtin_arm_sadd8
#pragma GCC poison __builtin_arm_sasx
#pragma GCC poison __builtin_arm_saturation_occurred
#pragma GCC poison __builtin_arm_sel
#pragma GCC poison __builtin_arm_set_saturation
#pragma GCC poison __builtin_arm_shadd16
#pragma GCC poison __builtin_arm_shadd8
#pragma GCC poison __builtin_arm_shasx
#pragma GCC poison __builtin_arm_shsax
#pragma GCC poison __builtin_arm_shsub16
#pragma GCC poison __builtin_arm_shsub8
#pragma GCC poison __builtin_arm_smlabb
#pragma GCC poison __builtin_arm_smlad
#pragma GCC poison __builtin_arm_smladx
#pragma GCC poison __builtin_arm_smlald
#pragma GCC poison __builtin_arm_smlaldx
#pragma GCC poison __builtin_arm_smlatb
#pragma GCC poison __builtin_arm_smlatt
#pragma GCC poison __builtin_arm_smlawb
#pragma GCC poison __builtin_arm_smlawt
#pragma GCC poison __builtin_arm_smlsd
#pragma GCC poison __builtin_arm_smlsdx
#pragma GCC poison __builtin_arm_smlsld
#pragma GCC poison __builtin_arm_smlsldx
#pragma GCC poison __builtin_arm_smuad
#pragma GCC poison __builtin_arm_smuadx
#pragma GCC poison __builtin_arm_smusd
#pragma GCC poison __builtin_arm_smusdx
#pragma GCC poison __builtin_arm_ssat
#pragma GCC poison __builtin_arm_ssat16
#pragma GCC poison __builtin_arm_ssax
#pragma GCC poison __builtin_arm_ssub16
#pragma GCC poison __builtin_arm_ssub8
#pragma GCC poison __builtin_arm_sxtab16
#pragma GCC poison __builtin_arm_sxtb16
#pragma GCC poison __builtin_arm_uadd16
#pragma GCC poison __builtin_arm_uadd8
#pragma GCC poison __builtin_arm_uasx
#pragma GCC poison __builtin_arm_uhadd16
#pragma GCC poison __builtin_arm_uhadd8
#pragma GCC poison __builtin_arm_uhasx
#pragma GCC poison __builtin_arm_uhsax
#pragma GCC poison __builtin_arm_uhsub16
#pragma GCC poison __builtin_arm_uhsub8
#pragma GCC poison __builtin_arm_uqadd16
#pragma GCC poison __builtin_arm_uqadd8
#pragma GCC poison __builtin_arm_uqasx
#pragma GCC poison __builtin_arm_uqsax
#pragma GCC poison __builtin_arm_uqsub16
#pragma GCC poison __builtin_arm_uqsub8
#pragma GCC poison __builtin_arm_usad8
#pragma GCC poison __builtin_arm_usada8
#pragma GCC poison __builtin_arm_usat
#pragma GCC poison __builtin_arm_usat16
#pragma GCC poison __builtin_arm_usax
#pragma GCC poison __builtin_arm_usub16
#pragma GCC poison __builtin_arm_usub8
#pragma GCC poison __builtin_arm_uxtab16
#pragma GCC poison __builtin_arm_uxtb16
#endif
