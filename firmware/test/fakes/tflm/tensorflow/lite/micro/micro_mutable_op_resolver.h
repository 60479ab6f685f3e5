// Fake of MicroMutableOpResolver<N> for the adders model_metadata.h can name
// (host/export_c.py RESOLVER_ADDERS): like upstream, adding an op twice or
// more than N ops returns kTfLiteError.
#pragma once

#include "tensorflow/lite/c/common.h"

namespace tflite {

class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() = default;
};

namespace fake {
// Counts every Add*() call of every resolver (tests read it).
extern int g_add_calls;
}  // namespace fake

template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
#define TINYXRAY_FAKE_ADDER(name, id) \
  TfLiteStatus name() { return Add(id); }
  TINYXRAY_FAKE_ADDER(AddAdd, 1)
  TINYXRAY_FAKE_ADDER(AddAveragePool2D, 2)
  TINYXRAY_FAKE_ADDER(AddConcatenation, 3)
  TINYXRAY_FAKE_ADDER(AddConv2D, 4)
  TINYXRAY_FAKE_ADDER(AddDepthwiseConv2D, 5)
  TINYXRAY_FAKE_ADDER(AddDequantize, 6)
  TINYXRAY_FAKE_ADDER(AddFullyConnected, 7)
  TINYXRAY_FAKE_ADDER(AddHardSwish, 8)
  TINYXRAY_FAKE_ADDER(AddLogistic, 9)
  TINYXRAY_FAKE_ADDER(AddMaxPool2D, 10)
  TINYXRAY_FAKE_ADDER(AddMean, 11)
  TINYXRAY_FAKE_ADDER(AddMul, 12)
  TINYXRAY_FAKE_ADDER(AddPad, 13)
  TINYXRAY_FAKE_ADDER(AddQuantize, 14)
  TINYXRAY_FAKE_ADDER(AddRelu, 15)
  TINYXRAY_FAKE_ADDER(AddRelu6, 16)
  TINYXRAY_FAKE_ADDER(AddReshape, 17)
  TINYXRAY_FAKE_ADDER(AddSoftmax, 18)
#undef TINYXRAY_FAKE_ADDER

 private:
  TfLiteStatus Add(int id) {
    ++fake::g_add_calls;
    if (count_ >= tOpCount) return kTfLiteError;
    for (unsigned int i = 0; i < count_; ++i) {
      if (ids_[i] == id) return kTfLiteError;  // "already registered"
    }
    ids_[count_++] = id;
    return kTfLiteOk;
  }

  int ids_[tOpCount] = {};
  unsigned int count_ = 0;
};

}  // namespace tflite
