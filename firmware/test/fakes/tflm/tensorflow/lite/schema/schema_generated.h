// Fake of the flatbuffer schema API backend_tflm.cc uses: tflite::Model,
// GetModel() and TFLITE_SCHEMA_VERSION (3, as upstream).
#pragma once

#include <stdint.h>

#define TFLITE_SCHEMA_VERSION (3)

namespace tflite {

class Model {
 public:
  uint32_t version() const;
};

const Model* GetModel(const void* buffer);

}  // namespace tflite
