#include "tinyxray/inference.h"

#include <cmath>
#include <cstring>

#include "tinyxray/cost_counter.h"
#include "tinyxray/inference_backend.h"
#include "model_metadata.h"
#include "tinyxray/preprocess.h"
#include "tinyxray/protocol.h"

namespace {

constexpr int kWidth = model_metadata::kInputWidth;
constexpr int kHeight = model_metadata::kInputHeight;
constexpr size_t kInputBytes = static_cast<size_t>(kWidth) * kHeight *
                               model_metadata::kInputChannels;
static_assert(kWidth == kHeight, "preprocessing produces square frames");
static_assert(model_metadata::kPreprocessSize == kWidth, "preprocess size != input");
static_assert(model_metadata::kInputChannels == 1, "grayscale models only");
static_assert(model_metadata::kNumClasses <= kMaxScores, "too many classes");

int8_t g_last_input[kInputBytes];
bool g_has_input = false;
bool g_ready = false;

uint8_t RunBackend(InferenceResult* result) {
  if (!g_ready) return protocol::kBackendError;
  uint32_t cost = 0;
  const uint8_t status = InvokeLastInput(&cost);
  if (status != protocol::kOk) return status;
  result->infer_cost = cost;
  InterpretScores(BackendOutput(), model_metadata::kNumClasses,
                  static_cast<float>(model_metadata::kOutputScale),
                  static_cast<int>(model_metadata::kOutputZeroPoint),
                  static_cast<float>(model_metadata::kUncertainThreshold),
                  result);
  return protocol::kOk;
}

}  // namespace

void InterpretScores(const int8_t* scores, int count, float output_scale,
                     int output_zero_point, float uncertain_threshold,
                     InferenceResult* result) {
  if (count > kMaxScores) count = kMaxScores;
  int best = 0;
  for (int i = 0; i < count; ++i) {
    result->scores[i] = scores[i];
    if (scores[i] > scores[best]) best = i;
  }
  result->num_scores = static_cast<uint8_t>(count);
  result->label = static_cast<uint8_t>(best);
  float probability =
      count > 0 ? (static_cast<float>(scores[best]) - output_zero_point) *
                      output_scale
                : 0.0f;
  if (!(probability > 0.0f)) probability = 0.0f;  // also catches NaN
  if (probability > 1.0f) probability = 1.0f;
  result->top_probability =
      static_cast<uint16_t>(std::floor(probability * 65535.0f + 0.5f));
  result->uncertain = probability < uncertain_threshold;
}

bool InferenceInit() {
  g_ready = BackendInit();
  return g_ready;
}

bool InferenceReady() { return g_ready; }

uint16_t ModelInputWidth() { return kWidth; }
uint16_t ModelInputHeight() { return kHeight; }
size_t ModelInputBytes() { return kInputBytes; }

uint8_t InferGray(const uint8_t* pixels, uint16_t width, uint16_t height,
                  InferenceResult* result) {
  if (width == 0 || height == 0 || width > protocol::kMaxFrameSide ||
      height > protocol::kMaxFrameSide) {
    return protocol::kBadFrameSize;
  }
  if (!g_ready) return protocol::kBackendError;
  PreprocessConfig config;
  config.size = kWidth;
  config.intensity = model_metadata::kIntensityMethod;
  config.blur_kernel = model_metadata::kBlurKernel;
  config.blur_sigma = static_cast<float>(model_metadata::kBlurSigma);
  config.input_scale = static_cast<float>(model_metadata::kInputScale);
  config.input_zero_point = static_cast<int>(model_metadata::kInputZeroPoint);
  // The backend's input tensor is free until InvokeLastInput() fills it from
  // g_last_input, so it serves as preprocessing's work buffer: no RAM of its
  // own (9 KB, which the Nano 33 BLE's TFLM build needs).
  uint8_t* work = reinterpret_cast<uint8_t*>(BackendInput());
  const uint32_t start = CostNow();
  PreprocessFrame(pixels, width, height, config, work, g_last_input);
  result->preprocess_cost = CostNow() - start;
  g_has_input = true;
  return RunBackend(result);
}

uint8_t InferModelInput(const int8_t* input, InferenceResult* result) {
  std::memcpy(g_last_input, input, kInputBytes);
  g_has_input = true;
  result->preprocess_cost = 0;
  return RunBackend(result);
}

uint8_t InvokeLastInput(uint32_t* cost) {
  if (!g_has_input) return protocol::kNoFrame;
  if (!g_ready) return protocol::kBackendError;
  // The backend may reuse its input tensor as scratch, so copy every time.
  std::memcpy(BackendInput(), g_last_input, kInputBytes);
  const uint32_t start = CostNow();
  const bool ok = BackendInvoke();
  *cost = CostNow() - start;
  return ok ? protocol::kOk : protocol::kBackendError;
}

const int8_t* LastInput() { return g_has_input ? g_last_input : nullptr; }
