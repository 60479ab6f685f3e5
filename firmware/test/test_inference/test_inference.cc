// The inference front-end with the linked backend (AOT on host/qemu_m4):
// known frames must give the tflite-micro oracle's scores, label,
// calibrated top probability and uncertain flag (golden_scores.h, written by
// make_golden_scores.py), and format-0 frames must become the same int8
// input as host/preprocess.py (CRC-32 of the tensor).
#include <cstring>

#include "../tiny_test.h"
#include "tinyxray/crc32.h"
#include "golden_scores.h"
#include "tinyxray/inference.h"
#include "tinyxray/inference_backend.h"
#include "model_metadata.h"
#include "tinyxray/protocol.h"

namespace {

uint8_t g_frame[160 * 160];
int8_t g_tensor[96 * 96];

// The procedural frame of make_golden_scores.py's pattern().
void Pattern(int kind, int width, int height, uint8_t* out) {
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      long value;
      if (kind == 0) {
        value = (x * 255L) / (width > 1 ? width - 1 : 1) +
                (y * 64L) / (height > 1 ? height - 1 : 1);
      } else if (kind == 1) {
        value = (x * 7L + y * 13L) ^ (static_cast<long>(x) * y);
      } else {
        const long dx = 2L * x - width;
        const long dy = 2L * y - height;
        const long side = width < height ? width : height;
        value = (100 * (dx * dx + dy * dy) < 49 * side * side ? 220 : 30) + ((x + y) & 15);
      }
      out[y * width + x] = static_cast<uint8_t>(value & 255);
    }
  }
}

void TestModelMatchesGolden() {
  const bool same = std::strcmp(golden_scores::kModelSha256, model_metadata::kModelSha256) == 0;
  if (!same) {
    std::printf("golden_scores.h is for another model: run "
                "firmware/test/test_inference/make_golden_scores.py\n");
  }
  TT_CHECK(same);
  TT_CHECK_EQ(golden_scores::kNumScores, model_metadata::kNumClasses);
}

void TestGoldenCases() {
  for (const golden_scores::Case& c : golden_scores::kCases) {
    const uint8_t* frame = c.pixels;
    if (c.kind >= 0) {
      Pattern(c.kind, c.width, c.height, g_frame);
      frame = g_frame;
    }
    InferenceResult result;
    uint8_t status;
    if (c.format == protocol::kFormatModelInput) {
      const size_t count = static_cast<size_t>(c.width) * c.height;
      for (size_t i = 0; i < count; ++i) g_tensor[i] = static_cast<int8_t>(frame[i] - 128);
      status = InferModelInput(g_tensor, &result);
    } else {
      status = InferGray(frame, static_cast<uint16_t>(c.width), static_cast<uint16_t>(c.height),
                         &result);
    }
    TT_CHECK_EQ(status, protocol::kOk);
    TT_CHECK_EQ(Crc32(reinterpret_cast<const uint8_t*>(LastInput()), ModelInputBytes()),
                c.input_crc32);
    TT_CHECK_EQ(result.num_scores, golden_scores::kNumScores);
    bool scores_equal = true;
    for (int k = 0; k < golden_scores::kNumScores; ++k) {
      scores_equal = scores_equal && result.scores[k] == c.scores[k];
    }
    std::printf("  %s %dx%d format %d: label %d p=%u scores", c.name, c.width, c.height, c.format,
                result.label, static_cast<unsigned>(result.top_probability));
    for (int k = 0; k < golden_scores::kNumScores; ++k) {
      std::printf(" %d (oracle %d)", result.scores[k], c.scores[k]);
    }
    std::printf("\n");
    TT_CHECK(scores_equal);
    TT_CHECK_EQ(result.label, c.label);
    TT_CHECK_EQ(result.top_probability, c.top_probability);
    TT_CHECK_EQ(result.uncertain, c.uncertain);
  }
}

void TestRepeatable() {
  // BENCH's path: the same input gives the same output every time, even
  // though a backend may reuse its input tensor as scratch.
  const golden_scores::Case& c = golden_scores::kCases[0];
  Pattern(c.kind, c.width, c.height, g_frame);
  for (int i = 0; i < 96 * 96; ++i) g_tensor[i] = static_cast<int8_t>(g_frame[i] - 128);
  InferenceResult result;
  TT_CHECK_EQ(InferModelInput(g_tensor, &result), protocol::kOk);
  for (int run = 0; run < 3; ++run) {
    uint32_t cost = 0;
    TT_CHECK_EQ(InvokeLastInput(&cost), protocol::kOk);
    TT_CHECK(cost > 0);
    TT_CHECK(std::memcmp(BackendOutput(), c.scores, golden_scores::kNumScores) == 0);
  }
}

void TestInterpretScores() {
  InferenceResult result;
  const int8_t scores[3] = {-128, 25, 25};  // tie: the first maximum wins
  InterpretScores(scores, 3, 1.0f / 256, -128, 0.6f, &result);
  TT_CHECK_EQ(result.label, 1);
  TT_CHECK_EQ(result.top_probability, 39167);  // 153/256 * 65535 = 39167.4
  TT_CHECK(result.uncertain);                 // 0.598 < 0.6
  const int8_t sure[3] = {127, -128, -128};
  InterpretScores(sure, 3, 1.0f / 256, -128, 0.6f, &result);
  TT_CHECK_EQ(result.label, 0);
  TT_CHECK_EQ(result.top_probability, 65279);  // 255/256
  TT_CHECK(!result.uncertain);
  // A scale that would exceed 1 is clamped.
  InterpretScores(sure, 3, 1.0f / 128, -128, 0.6f, &result);
  TT_CHECK_EQ(result.top_probability, 65535);
}

void TestBackendFacts() {
  TT_CHECK(BackendArenaBytes() > 0);
  TT_CHECK(std::strlen(BackendName()) > 0);
  TT_CHECK(BackendInput() != nullptr);
}

}  // namespace

int main() {
  TT_CHECK(InferenceInit());
  TT_RUN(TestModelMatchesGolden);
  TT_RUN(TestGoldenCases);
  TT_RUN(TestRepeatable);
  TT_RUN(TestInterpretScores);
  TT_RUN(TestBackendFacts);
  return TinyTestSummary();
}
