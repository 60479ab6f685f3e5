// On-device preprocessing (firmware/lib/core/preprocess.cc) against golden
// vectors from the Python reference (make_golden_vectors.py ->
// golden_vectors.h): every pixel identical, plus properties that hold
// whatever the reference says.
#include <cstdlib>
#include <cstring>

#include "../tiny_test.h"
#include "golden_vectors.h"
#include "tinyxray/preprocess.h"

namespace {

uint8_t g_work[golden::kSize * golden::kSize];
int8_t g_output[golden::kSize * golden::kSize];
constexpr size_t kCount = static_cast<size_t>(golden::kSize) * golden::kSize;

PreprocessConfig GoldenConfig(int intensity = kIntensityNone) {
  PreprocessConfig config;
  config.size = golden::kSize;
  config.intensity = intensity;
  config.blur_kernel = golden::kBlurKernel;
  config.blur_sigma = golden::kBlurSigma;
  config.input_scale = golden::kInputScale;
  config.input_zero_point = golden::kInputZeroPoint;
  return config;
}

void TestGoldenResize() {
  for (const golden::Vector& vector : golden::kVectors) {
    PadResize(vector.source, vector.width, vector.height, g_work, golden::kSize);
    int worst = 0;
    for (size_t i = 0; i < kCount; ++i) {
      const int diff = std::abs(g_work[i] - vector.resized[i]);
      if (diff > worst) worst = diff;
    }
    std::printf("  %-18s pad+resize max |C - Python| = %d\n", vector.name, worst);
    TT_CHECK_EQ(worst, 0);
  }
}

// Step 3b is integer arithmetic: the C output must equal Python's, byte for byte.
void TestGoldenIntensityIsExact() {
  int stretched = 0;
  for (const golden::Vector& vector : golden::kVectors) {
    PadResize(vector.source, vector.width, vector.height, g_work, golden::kSize);
    NormaliseIntensity(g_work, kCount, vector.intensity);
    const bool same = std::memcmp(g_work, vector.normalised, kCount) == 0;
    if (vector.intensity != kIntensityNone) {
      std::printf("  %-24s stretch identical: %s\n", vector.name, same ? "yes" : "NO");
      ++stretched;
    }
    TT_CHECK(same);
  }
  TT_CHECK(stretched > 0);
}

void TestStretchLimitsByHand() {
  // 200 pixels: 1 % is 2 pixels, so the two darkest (0) and the two brightest (250)
  // are clipped; lo and hi are the next levels, 10 and 200.
  static uint8_t frame[200];
  for (int i = 0; i < 200; ++i) frame[i] = static_cast<uint8_t>(i < 100 ? 10 : 200);
  frame[0] = frame[1] = 0;
  frame[198] = frame[199] = 250;
  int lo = -1;
  int hi = -1;
  StretchLimits(frame, 200, &lo, &hi);
  TT_CHECK_EQ(lo, 10);
  TT_CHECK_EQ(hi, 200);
  NormaliseIntensity(frame, 200, kIntensityStretch);
  TT_CHECK(frame[0] == 0 && frame[2] == 0 && frame[100] == 255 && frame[199] == 255);
  // A flat frame has nothing to stretch and is left as it is.
  static uint8_t flat[50];
  std::memset(flat, 77, sizeof(flat));
  NormaliseIntensity(flat, 50, kIntensityStretch);
  TT_CHECK(flat[0] == 77 && flat[49] == 77);
}

void TestGoldenPipeline() {
  for (const golden::Vector& vector : golden::kVectors) {
    const PreprocessConfig config = GoldenConfig(vector.intensity);
    PreprocessFrame(vector.source, vector.width, vector.height, config, g_work, g_output);
    int worst = 0;
    for (size_t i = 0; i < kCount; ++i) {
      const int diff = std::abs(g_output[i] - vector.input[i]);
      if (diff > worst) worst = diff;
    }
    std::printf("  %-24s steps 2-5 max |C - Python| = %d\n", vector.name, worst);
    TT_CHECK_EQ(worst, 0);
  }
}

void TestFlatStaysFlat() {
  static uint8_t flat[61 * 17];
  std::memset(flat, 123, sizeof(flat));
  PreprocessFrame(flat, 61, 17, GoldenConfig(), g_work, g_output);
  bool all = true;
  for (size_t i = 0; i < kCount; ++i) all = all && g_output[i] == 123 - 128;
  TT_CHECK(all);
}

void TestIdentityAtModelSize() {
  static uint8_t frame[kCount];
  for (size_t i = 0; i < kCount; ++i) frame[i] = static_cast<uint8_t>(i * 13);
  PadResize(frame, golden::kSize, golden::kSize, g_work, golden::kSize);
  TT_CHECK(std::memcmp(frame, g_work, kCount) == 0);
  // Kernel 0 turns the blur off.
  static uint8_t copy[kCount];
  GaussianBlur(frame, golden::kSize, 0, 1.0f, copy);
  TT_CHECK(std::memcmp(frame, copy, kCount) == 0);
}

void TestReflectPadding() {
  // A 3x1 column [10, 20, 30] padded to 3x3 by reflection: every row is
  // [20, 10, 20]... per row r: value of row r mirrored horizontally, i.e. the
  // padded image rows are constant; resized to 3x3 it is unchanged.
  const uint8_t column[3] = {10, 20, 30};
  uint8_t out[9];
  PadResize(column, 1, 3, out, 3);
  const uint8_t expected[9] = {10, 10, 10, 20, 20, 20, 30, 30, 30};
  TT_CHECK(std::memcmp(out, expected, 9) == 0);
  // A 1x3 row [0, 90, 180] padded by one reflected row above and below: the
  // rows repeat the middle row's mirror, so each column is constant.
  const uint8_t row[3] = {0, 90, 180};
  PadResize(row, 3, 1, out, 3);
  const uint8_t expected_row[9] = {0, 90, 180, 0, 90, 180, 0, 90, 180};
  TT_CHECK(std::memcmp(out, expected_row, 9) == 0);
  // 4x2 -> 4x4 pads one row before and one after: [r1, r0, r1, r0].
  const uint8_t two_rows[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t square[16];
  PadResize(two_rows, 4, 2, square, 4);
  const uint8_t expected_square[16] = {5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4};
  TT_CHECK(std::memcmp(square, expected_square, 16) == 0);
}

void TestAreaAverage() {
  // 4x4 -> 2x2 averages 2x2 blocks, rounding half up (2.5 -> 3).
  const uint8_t image[16] = {1, 2, 10, 10, 3, 4, 10, 11, 0, 0, 255, 255, 0, 1, 255, 255};
  uint8_t out[4];
  PadResize(image, 4, 4, out, 2);
  TT_CHECK_EQ(out[0], 3);   // (1+2+3+4)/4 = 2.5 -> 3
  TT_CHECK_EQ(out[1], 10);  // 41/4 = 10.25
  TT_CHECK_EQ(out[2], 0);   // 0.25
  TT_CHECK_EQ(out[3], 255);
}

void TestToInt8() {
  const uint8_t pixels[4] = {0, 128, 200, 255};
  int8_t q[4];
  ToInt8(pixels, 4, 1.0f, -128, q);
  TT_CHECK(q[0] == -128 && q[1] == 0 && q[2] == 72 && q[3] == 127);
  ToInt8(pixels, 4, 2.0f, 0, q);  // 0, 64, 100, 127.5 -> 128 -> clamp 127
  TT_CHECK(q[0] == 0 && q[1] == 64 && q[2] == 100 && q[3] == 127);
  ToInt8(pixels, 4, 0.5f, -128, q);  // 2x then clamp
  TT_CHECK(q[0] == -128 && q[1] == 127 && q[3] == 127);
}

}  // namespace

int main() {
  TT_RUN(TestGoldenResize);
  TT_RUN(TestGoldenIntensityIsExact);
  TT_RUN(TestStretchLimitsByHand);
  TT_RUN(TestGoldenPipeline);
  TT_RUN(TestFlatStaysFlat);
  TT_RUN(TestIdentityAtModelSize);
  TT_RUN(TestReflectPadding);
  TT_RUN(TestAreaAverage);
  TT_RUN(TestToInt8);
  return TinyTestSummary();
}
