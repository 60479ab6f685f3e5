#pragma once
// On-device preprocessing, steps 2-5 of the preprocessing spec v1 (the
// reference is host/preprocess.py; results are byte-identical with it on the
// golden vectors, and provably on every input for the default 3-tap sigma-1
// blur). The per-pixel work is integer arithmetic: the Nano 33 BLE's core
// builds with -mfloat-abi=soft, where each float operation is a library call.
// 2. pad to square by reflection (numpy "reflect"), by index mapping;
// 3. exact area-average resize to size x size, round half up;
// 3b. optional intensity normalisation (the model's choice): an integer
//    percentile contrast stretch;
// 4. Gaussian blur (kernel 0 = off), reflect-101 border, round half up, as a
//    2-D fixed-point sum (weights in 2^-52 units, exact integer arithmetic);
// 5. int8 model input: clamp(round_half_up(pixel / scale) + zero_point).
// No heap: the caller passes every buffer.
#include <cstddef>
#include <cstdint>

// Step 3b methods; the values are the model metadata's kIntensityMethod.
enum IntensityMethod : int {
  kIntensityNone = 0,
  kIntensityStretch = 1,
};

struct PreprocessConfig {
  int size = 96;
  int intensity = kIntensityNone;  // an IntensityMethod
  int blur_kernel = 3;  // odd, <= kMaxBlurKernel; 0 or 1 = off
  float blur_sigma = 1.0f;
  float input_scale = 1.0f;
  int input_zero_point = -128;
};

constexpr int kMaxBlurKernel = 15;
// The stretch maps the 1st and 99th percentile grey levels to 0 and 255.
constexpr int kStretchPercent = 1;

// Steps 2 and 3: a width x height 8-bit frame (row-major) to size x size.
// Exact integer arithmetic: every output pixel is a rational number with
// denominator L*L (L = max(width, height)). Needs L <= 4096 (32-bit sums).
void PadResize(const uint8_t* source, int width, int height, uint8_t* output,
               int size);

// Step 3b, the stretch's limits: lo is the smallest grey level with more
// than count * kStretchPercent / 100 pixels at or below it, hi the largest
// with more than that at or above it.
void StretchLimits(const uint8_t* frame, size_t count, int* lo, int* hi);

// Step 3b in place: kIntensityNone leaves the frame as it is; kIntensityStretch
// maps v to round_half_up((v - lo) * 255 / (hi - lo)), clamped to 0..255, in
// integers (a flat frame, hi <= lo, is left as it is).
void NormaliseIntensity(uint8_t* frame, size_t count, int method);

// Step 4: blurs a size x size frame into output (output != input).
void GaussianBlur(const uint8_t* input, int size, int kernel, float sigma,
                  uint8_t* output);

// Step 5, in place allowed (output may alias input).
void ToInt8(const uint8_t* input, size_t count, float scale, int zero_point,
            int8_t* output);

// Steps 2-5 (3b as config.intensity says): work holds size*size bytes;
// output receives size*size int8.
void PreprocessFrame(const uint8_t* source, int width, int height,
                     const PreprocessConfig& config, uint8_t* work,
                     int8_t* output);
