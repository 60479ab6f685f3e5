// The inference backend on TensorFlow Lite Micro, for the real boards
// (CMSIS-NN kernels on the Nano 33 BLE, ESP-NN on the ESP32-S3 come with the
// TFLM library the env links). Not compiled on the virtual boards.
//
// API checked against upstream tensorflow/tflite-micro:
//   micro_interpreter.h at commit 057dbe71b06f: MicroInterpreter(model,
//     op_resolver, tensor_arena, tensor_arena_size, resource_variables =
//     nullptr, profiler = nullptr, preserve_all_tensors = false) - no
//     ErrorReporter; AllocateTensors(), Invoke(), input(0), output(0),
//     arena_used_bytes();
//   micro_mutable_op_resolver.h: MicroMutableOpResolver<N> with AddConv2D(),
//     AddDepthwiseConv2D(), AddAdd(), AddMean(), AddFullyConnected(),
//     AddSoftmax(), ... each returning TfLiteStatus.
// Older library snapshots (e.g. Arduino_TensorFlowLite at e07de445) still
// take an ErrorReporter*: build them with -DTINYXRAY_TFLM_ERROR_REPORTER=1.
#include <cstring>

#include "inference_backend.h"
#include "model_data.h"
#include "model_metadata.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#if TINYXRAY_TFLM_ERROR_REPORTER
#include "tensorflow/lite/micro/micro_error_reporter.h"
#endif

namespace {

// The arena size bisected on the host (model card) plus a margin for the
// target's kernels (CMSIS-NN/ESP-NN scratch buffers) and alignment.
#ifndef TINYXRAY_TFLM_ARENA_MARGIN
#define TINYXRAY_TFLM_ARENA_MARGIN (16 * 1024)
#endif
constexpr size_t kArenaBytes =
    model_metadata::kTflmArenaBytes + TINYXRAY_TFLM_ARENA_MARGIN;
alignas(16) uint8_t g_arena[kArenaBytes];

tflite::MicroInterpreter* g_interpreter = nullptr;
TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_output = nullptr;

}  // namespace

bool BackendInit() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return false;

  // Exactly the model's ops, from the exported metadata.
  static tflite::MicroMutableOpResolver<TINYXRAY_MODEL_OP_COUNT> resolver;
#define TINYXRAY_ADD_OP(adder) \
  if (resolver.adder() != kTfLiteOk) return false;
  TINYXRAY_MODEL_OPS(TINYXRAY_ADD_OP)
#undef TINYXRAY_ADD_OP

#if TINYXRAY_TFLM_ERROR_REPORTER
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena,
                                              kArenaBytes,
                                              tflite::GetMicroErrorReporter());
#else
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena,
                                              kArenaBytes);
#endif
  if (interpreter.AllocateTensors() != kTfLiteOk) return false;
  g_input = interpreter.input(0);
  g_output = interpreter.output(0);
  const size_t input_bytes = static_cast<size_t>(model_metadata::kInputHeight) *
                             model_metadata::kInputWidth *
                             model_metadata::kInputChannels;
  if (g_input == nullptr || g_output == nullptr ||
      g_input->type != kTfLiteInt8 || g_output->type != kTfLiteInt8 ||
      g_input->bytes != input_bytes ||
      g_output->bytes != static_cast<size_t>(model_metadata::kNumClasses)) {
    return false;
  }
  g_interpreter = &interpreter;
  return true;
}

int8_t* BackendInput() { return g_input->data.int8; }

bool BackendInvoke() { return g_interpreter->Invoke() == kTfLiteOk; }

const int8_t* BackendOutput() { return g_output->data.int8; }

const char* BackendName() { return "tflm"; }

size_t BackendArenaBytes() {
  return g_interpreter != nullptr ? g_interpreter->arena_used_bytes() : 0;
}
