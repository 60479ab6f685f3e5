// Test controls of the fake TFLM (fake_tflm.cc), host only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/c/common.h"

namespace fake_tflm {

struct Settings {
  uint32_t schema_version = 3;
  size_t arena_needed = 1000;  // AllocateTensors fails below this
  TfLiteTensor input = {};     // type/params/bytes as the model declares them
  TfLiteTensor output = {};
};

Settings& Get();
int AllocateCalls();
int ConstructorCalls();
size_t ArenaSizeGiven();

}  // namespace fake_tflm
