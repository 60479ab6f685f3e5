// Host implementation of the fake TFLM: AllocateTensors succeeds when the
// arena is at least Settings::arena_needed, and otherwise prints TFLM's
// message through DebugLog, as MicroPrintf does (text, then "\r\n"). Invoke
// copies the first input bytes to the output.
#include "fake_tflm.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

namespace {
fake_tflm::Settings g_settings;
int g_allocate_calls = 0;
int g_constructor_calls = 0;
size_t g_arena_size = 0;
tflite::Model g_model;
int8_t g_input_data[96 * 96];
int8_t g_output_data[32];

void Print(const char* format, ...) {
  va_list args;
  va_start(args, format);
#if defined(TINYXRAY_TFLM_DEBUG_LOG_VA_LIST) && TINYXRAY_TFLM_DEBUG_LOG_VA_LIST
  DebugLog(format, args);
#else
  char text[256];
  std::vsnprintf(text, sizeof(text), format, args);
  DebugLog(text);
#endif
  va_end(args);
}

void PrintLine(const char* format, unsigned long a, unsigned long b) {
  Print(format, a, b);
  Print("\r\n");
}
}  // namespace

int tflite::fake::g_add_calls = 0;

namespace fake_tflm {
Settings& Get() { return g_settings; }
int AllocateCalls() { return g_allocate_calls; }
int ConstructorCalls() { return g_constructor_calls; }
size_t ArenaSizeGiven() { return g_arena_size; }
}  // namespace fake_tflm

uint32_t tflite::Model::version() const { return g_settings.schema_version; }

const tflite::Model* tflite::GetModel(const void* /*buffer*/) { return &g_model; }

tflite::MicroInterpreter::MicroInterpreter(const Model* /*model*/, const MicroOpResolver& /*r*/,
                                           uint8_t* tensor_arena, size_t tensor_arena_size,
                                           MicroResourceVariables* /*variables*/,
                                           MicroProfilerInterface* /*profiler*/,
                                           bool /*preserve_all_tensors*/)
    : arena_(tensor_arena), arena_size_(tensor_arena_size) {
  ++g_constructor_calls;
  g_arena_size = tensor_arena_size;
}

TfLiteStatus tflite::MicroInterpreter::AllocateTensors() {
  ++g_allocate_calls;
  if (arena_size_ < g_settings.arena_needed) {
    PrintLine("Failed to allocate tail memory. Requested: %lu, available %lu, missing: 0",
              static_cast<unsigned long>(g_settings.arena_needed),
              static_cast<unsigned long>(arena_size_));
    return kTfLiteError;
  }
  std::memset(arena_, 0, 16);
  g_settings.input.data.int8 = g_input_data;
  g_settings.output.data.int8 = g_output_data;
  allocated_ = true;
  return kTfLiteOk;
}

TfLiteStatus tflite::MicroInterpreter::Invoke() {
  if (!allocated_) return kTfLiteError;
  std::memcpy(g_output_data, g_input_data, g_settings.output.bytes);
  return kTfLiteOk;
}

TfLiteTensor* tflite::MicroInterpreter::input(size_t index) {
  return allocated_ && index == 0 ? &g_settings.input : nullptr;
}

TfLiteTensor* tflite::MicroInterpreter::output(size_t index) {
  return allocated_ && index == 0 ? &g_settings.output : nullptr;
}

size_t tflite::MicroInterpreter::arena_used_bytes() const { return g_settings.arena_needed; }
