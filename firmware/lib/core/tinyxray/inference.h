#pragma once
// The inference front-end: frame -> preprocessing -> backend -> scores,
// label, calibrated top probability and the uncertain flag, with the cost of
// each stage measured by CostNow(). The last model input is kept so BENCH can
// repeat it.
#include <cstddef>
#include <cstdint>

constexpr int kMaxScores = 32;

struct InferenceResult {
  uint8_t label = 0;
  bool uncertain = true;
  uint16_t top_probability = 0;  // probability of label * 65535
  uint32_t preprocess_cost = 0;
  uint32_t infer_cost = 0;
  uint8_t num_scores = 0;
  int8_t scores[kMaxScores] = {};
};

// Turns int8 scores into label (first maximum), top probability (dequantised
// with the output scale and zero point, clamped to [0, 1]) and uncertain
// (probability below threshold).
void InterpretScores(const int8_t* scores, int count, float output_scale,
                     int output_zero_point, float uncertain_threshold,
                     InferenceResult* result);

// Initialises the backend; false if it failed (INFER then reports
// BACKEND_ERROR).
bool InferenceInit();
bool InferenceReady();

// The model's input frame.
uint16_t ModelInputWidth();
uint16_t ModelInputHeight();
size_t ModelInputBytes();

// Classifies an 8-bit grayscale frame of any size up to
// protocol::kMaxFrameSide per side (preprocessed on the device). Returns
// protocol::kOk or an error code (kBadFrameSize, kBackendError).
uint8_t InferGray(const uint8_t* pixels, uint16_t width, uint16_t height,
                  InferenceResult* result);

// Classifies a ready int8 model input (ModelInputBytes() bytes).
uint8_t InferModelInput(const int8_t* input, InferenceResult* result);

// Runs the backend again on the last input; *cost receives the inference
// cost. Returns kOk, kNoFrame or kBackendError.
uint8_t InvokeLastInput(uint32_t* cost);

// The last model input (ModelInputBytes() bytes), or nullptr before any.
const int8_t* LastInput();
