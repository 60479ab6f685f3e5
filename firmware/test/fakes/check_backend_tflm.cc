// firmware/lib/backend_tflm against the fake TFLM (tests/test_board_files.py
// builds and runs it): BackendInit is idempotent, checks the model's tensors
// against model_metadata.h, and TFLM's DebugLog text arrives as LOG packets.
//   check_backend_tflm SCENARIO   (ok, arena_too_small, output_scale, input_zero_point)
#include <cstring>
#include <string>

#include "../tiny_test.h"
#include "fake_tflm.h"
#include "log_capture.h"
#include "model_metadata.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tinyxray/device_log.h"
#include "tinyxray/inference_backend.h"

namespace {

void ModelAsExported() {
  fake_tflm::Settings& model = fake_tflm::Get();
  model.input.type = kTfLiteInt8;
  model.input.bytes = static_cast<size_t>(model_metadata::kInputHeight) *
                      model_metadata::kInputWidth * model_metadata::kInputChannels;
  model.input.params = {model_metadata::kInputScale, model_metadata::kInputZeroPoint};
  model.output.type = kTfLiteInt8;
  model.output.bytes = model_metadata::kNumClasses;
  model.output.params = {model_metadata::kOutputScale, model_metadata::kOutputZeroPoint};
  model.arena_needed = 1000;
}

void CheckFailsTwiceWithOneAttempt(const char* reason) {
  TT_CHECK(!BackendInit());
  TT_CHECK(!BackendInit());
  TT_CHECK_EQ(fake_tflm::ConstructorCalls(), 1);
  TT_CHECK(log_capture::AnyLogContains(reason));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string scenario = argc > 1 ? argv[1] : "ok";
  DeviceLogAttach(&log_capture::Writer());
  ModelAsExported();
  TT_CHECK_EQ(std::strcmp(BackendName(), "tflm"), 0);
  if (scenario == "ok") {
    TT_CHECK(BackendInit());
    TT_CHECK(BackendInit());  // a second call neither re-adds ops nor re-allocates
    TT_CHECK_EQ(fake_tflm::ConstructorCalls(), 1);
    TT_CHECK_EQ(fake_tflm::AllocateCalls(), 1);
    TT_CHECK_EQ(tflite::fake::g_add_calls, TINYXRAY_MODEL_OP_COUNT);
    const size_t expected_arena =
        (sizeof(void*) == 4 ? model_metadata::kTflmArenaBytesCortexM4
                            : model_metadata::kTflmArenaBytes) +
        TINYXRAY_TFLM_ARENA_MARGIN_EXPECTED;
    TT_CHECK_EQ(fake_tflm::ArenaSizeGiven(), expected_arena);
    TT_CHECK_EQ(BackendArenaBytes(), 1000u);
    BackendInput()[0] = 42;
    TT_CHECK(BackendInvoke());
    TT_CHECK_EQ(BackendOutput()[0], 42);
    TT_CHECK(log_capture::Logs().empty());
    TT_CHECK_EQ(BackendBitExact(), TINYXRAY_TFLM_BIT_EXACT_EXPECTED != 0);
  } else if (scenario == "arena_too_small") {
    fake_tflm::Get().arena_needed = 1u << 30;
    CheckFailsTwiceWithOneAttempt("AllocateTensors failed");
    // TFLM's own message, routed from DebugLog: one LOG packet, "\r\n" dropped.
    TT_CHECK(log_capture::AnyLogContains("Failed to allocate tail memory. Requested: 1073741824"));
    TT_CHECK_EQ(BackendArenaBytes(), 0u);
  } else if (scenario == "output_scale") {
    fake_tflm::Get().output.params.scale = 0.5f;
    CheckFailsTwiceWithOneAttempt("output tensor scale differs from model_metadata.h");
  } else if (scenario == "input_zero_point") {
    fake_tflm::Get().input.params.zero_point = 0;
    CheckFailsTwiceWithOneAttempt("input tensor zero point differs from model_metadata.h");
  } else {
    std::printf("unknown scenario %s\n", scenario.c_str());
    return 2;
  }
  return TinyTestSummary();
}
