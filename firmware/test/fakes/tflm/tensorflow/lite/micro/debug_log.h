// Fake of tensorflow/lite/micro/debug_log.h in both of its shapes: the
// Arduino library snapshot's `DebugLog(const char*)` and upstream's
// `DebugLog(const char* format, va_list)` plus DebugVsnprintf, chosen with the
// same TINYXRAY_TFLM_DEBUG_LOG_VA_LIST the env sets for its library.
#pragma once

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TINYXRAY_TFLM_DEBUG_LOG_VA_LIST) && TINYXRAY_TFLM_DEBUG_LOG_VA_LIST
void DebugLog(const char* format, va_list args);
int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list vlist);
#else
void DebugLog(const char* s);
#endif

#ifdef __cplusplus
}
#endif
