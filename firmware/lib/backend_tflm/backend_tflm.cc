// The inference backend on TensorFlow Lite Micro, for the real boards' TFLM
// envs (CMSIS-NN kernels on the Nano 33 BLE come with the TFLM library the env
// links). Not compiled on the virtual boards; firmware/test/fakes/tflm lets
// the host tests and the CI guard build it against the API subset it uses.
//
// API checked against the library commits platformio.ini pins:
//   tensorflow/tflite-micro-arduino-examples 7948b85e (TFLM synced 2023-02-27,
//   with CMSIS-NN) and j-siderius/TFLiteMicro_ArduinoESP32S3 v1.0.0 (aae21204),
//   and upstream tensorflow/tflite-micro 90b983c2:
//   MicroInterpreter(model, op_resolver, tensor_arena, tensor_arena_size, ...)
//   (no ErrorReporter in any of them); AllocateTensors(), Invoke(), input(0),
//   output(0), arena_used_bytes(); MicroMutableOpResolver<N>::AddConv2D() ...
//   returning kTfLiteError once N ops are registered or an op is added twice;
//   TfLiteTensor::params {scale, zero_point}.
//   DebugLog: `void DebugLog(const char* s)` in the Arduino library snapshot,
//   `void DebugLog(const char* format, va_list args)` plus DebugVsnprintf in
//   upstream and the ESP32-S3 library (TINYXRAY_TFLM_DEBUG_LOG_VA_LIST=1).
//   A mismatch is a compile error (conflicting declaration), not a silent one.
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "model_data.h"
#include "model_metadata.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tinyxray/device_log.h"
#include "tinyxray/inference_backend.h"

#ifndef TINYXRAY_TFLM_DEBUG_LOG_VA_LIST
#define TINYXRAY_TFLM_DEBUG_LOG_VA_LIST 0
#endif
// Set by an env whose kernels were checked byte for byte against the host's
// int8 model. None is today: the pinned Arduino TFLM with CMSIS-NN differs by
// a few LSB on most frames (docs/boards.md).
#ifndef TINYXRAY_TFLM_BIT_EXACT
#define TINYXRAY_TFLM_BIT_EXACT 0
#endif
// Room beyond the model card's arena for the kernel library's scratch buffers
// (CMSIS-NN, ESP-NN) beyond the card's 32-bit bound for the reference
// kernels: the pinned CMSIS-NN build used 140,500 B of the 141,168 B bound.
#ifndef TINYXRAY_TFLM_ARENA_MARGIN
#define TINYXRAY_TFLM_ARENA_MARGIN 1024
#endif

// TFLM's text output (MicroPrintf: allocation failures, unsupported ops)
// goes to the host as LOG packets, never as raw text on the protocol's port.
#if TINYXRAY_TFLM_DEBUG_LOG_VA_LIST
extern "C" void DebugLog(const char* format, va_list args) {
  char text[kDeviceLogLineBytes + 1];
  std::vsnprintf(text, sizeof(text), format, args);
  DeviceLog(text);
}

extern "C" int DebugVsnprintf(char* buffer, size_t buffer_size, const char* format,
                              va_list args) {
  return std::vsnprintf(buffer, buffer_size, format, args);
}
#else
extern "C" void DebugLog(const char* text) { DeviceLog(text); }
#endif

namespace {

// The model card's TFLM arena for this target's pointer size: TFLM's own
// bookkeeping (tensor and node structs) is smaller with 32-bit pointers.
#if UINTPTR_MAX == 0xFFFFFFFFu
constexpr size_t kModelArenaBytes = model_metadata::kTflmArenaBytesCortexM4;
#else
constexpr size_t kModelArenaBytes = model_metadata::kTflmArenaBytes;
#endif
constexpr size_t kArenaBytes = kModelArenaBytes + TINYXRAY_TFLM_ARENA_MARGIN;
alignas(16) uint8_t g_arena[kArenaBytes];

enum class State { kUntried, kReady, kFailed };
State g_state = State::kUntried;
tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;

bool Fail(const char* reason, const char* detail = "") {
  DeviceLog("tflm backend: ");
  DeviceLog(reason);
  DeviceLog(detail);
  DeviceLog("\n");
  g_state = State::kFailed;
  return false;
}

// The tensor the firmware exchanges with the model: int8, of the expected
// size, with model_metadata.h's quantisation (scales compared as float32,
// the type both the flatbuffer and the metadata store).
const char* CheckTensor(const TfLiteTensor* tensor, size_t bytes, float scale,
                        int zero_point) {
  if (tensor == nullptr) return "missing";
  if (tensor->type != kTfLiteInt8) return "not int8";
  if (tensor->bytes != bytes) return "size differs from model_metadata.h";
  if (tensor->params.scale != scale) return "scale differs from model_metadata.h";
  if (tensor->params.zero_point != zero_point) {
    return "zero point differs from model_metadata.h";
  }
  return nullptr;
}

bool Initialise() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    return Fail("model schema version differs from the library's");
  }
  // Exactly the model's ops, from the exported metadata. Built once: adding
  // an op twice is an error in MicroMutableOpResolver.
  static tflite::MicroMutableOpResolver<TINYXRAY_MODEL_OP_COUNT> resolver;
#define TINYXRAY_ADD_OP(adder) \
  if (resolver.adder() != kTfLiteOk) return Fail("could not register " #adder);
  TINYXRAY_MODEL_OPS(TINYXRAY_ADD_OP)
#undef TINYXRAY_ADD_OP

  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kArenaBytes);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    return Fail("AllocateTensors failed (arena too small? see the lines above)");
  }
  const size_t input_bytes = static_cast<size_t>(model_metadata::kInputHeight) *
                             model_metadata::kInputWidth * model_metadata::kInputChannels;
  const char* problem =
      CheckTensor(interpreter.input(0), input_bytes, model_metadata::kInputScale,
                  model_metadata::kInputZeroPoint);
  if (problem != nullptr) return Fail("input tensor ", problem);
  problem = CheckTensor(interpreter.output(0), static_cast<size_t>(model_metadata::kNumClasses),
                        model_metadata::kOutputScale, model_metadata::kOutputZeroPoint);
  if (problem != nullptr) return Fail("output tensor ", problem);
  g_input = interpreter.input(0);
  g_output = interpreter.output(0);
  g_interpreter = &interpreter;
  g_state = State::kReady;
  return true;
}

}  // namespace

bool BackendInit() {
  if (g_state == State::kUntried) Initialise();
  return g_state == State::kReady;
}

int8_t* BackendInput() { return g_input->data.int8; }

bool BackendInvoke() { return g_interpreter->Invoke() == kTfLiteOk; }

const int8_t* BackendOutput() { return g_output->data.int8; }

const char* BackendName() { return "tflm"; }

bool BackendBitExact() { return TINYXRAY_TFLM_BIT_EXACT != 0; }

size_t BackendArenaBytes() {
  return g_interpreter != nullptr ? g_interpreter->arena_used_bytes() : 0;
}
