// Board and backend stand-ins for fuzzing the portable core on the host:
// the fuzz targets exercise the frame reader, packet parser, dispatch and
// preprocessing; the backend is a cheap deterministic function so millions
// of inputs run in seconds (the real models have their own tests).
#include <cstring>

#include "tinyxray/board_info.h"
#include "tinyxray/cost_counter.h"
#include "tinyxray/image_provider.h"
#include "tinyxray/inference_backend.h"
#include "tinyxray/serial_port.h"
#include "model_metadata.h"

namespace {
constexpr size_t kInputBytes = static_cast<size_t>(model_metadata::kInputHeight) *
                               model_metadata::kInputWidth * model_metadata::kInputChannels;
int8_t g_input[kInputBytes];
int8_t g_output[model_metadata::kNumClasses];
uint32_t g_cost = 0;
}  // namespace

const char* BoardName() { return "fuzz"; }
uint32_t FirmwareFlashBytes() { return 0; }
uint32_t FirmwareRamBytes() { return 0; }
uint32_t RamFreeBytes() { return 0; }
uint32_t SerialRxWindowBytes() { return 0; }

void CostCounterInit() {}
uint32_t CostNow() { return g_cost += 7; }  // deterministic
const char* CostUnit() { return "instructions"; }

// A fake camera: a fixed gradient frame, so CAMERA runs the full path; every
// fourth capture fails, like a camera that times out.
bool HasCamera() { return true; }
bool GetImage(const uint8_t** pixels, uint16_t* width, uint16_t* height) {
  static uint32_t captures = 0;
  if (++captures % 4 == 0) return false;
  static uint8_t frame[40 * 30];
  for (size_t i = 0; i < sizeof(frame); ++i) frame[i] = static_cast<uint8_t>(i);
  *pixels = frame;
  *width = 40;
  *height = 30;
  return true;
}

bool BackendInit() { return true; }
int8_t* BackendInput() { return g_input; }
bool BackendInvoke() {
  int sum = 0;
  for (size_t i = 0; i < kInputBytes; i += 97) sum += g_input[i];
  for (int k = 0; k < model_metadata::kNumClasses; ++k) {
    g_output[k] = static_cast<int8_t>((sum >> k) & 0x7F);
  }
  std::memset(g_input, 0x5A, kInputBytes);  // like a backend reusing its input
  return true;
}
const int8_t* BackendOutput() { return g_output; }
const char* BackendName() { return "fuzz"; }
bool BackendBitExact() { return false; }
size_t BackendArenaBytes() { return kInputBytes; }
