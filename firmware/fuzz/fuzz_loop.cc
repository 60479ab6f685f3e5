// A deterministic fuzz driver for CI (no libFuzzer runtime needed): builds
// N inputs from a fixed seed — valid packets of every command, CHUNK
// sequences, then byte flips, truncations, inserted delimiters and raw
// garbage — and runs each through LLVMFuzzerTestOneInput. Compile with
// -fsanitize=address,undefined. Usage: fuzz_loop [inputs] [seed]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tinyxray/cobs.h"
#include "tinyxray/crc32.h"
#include "tinyxray/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
unsigned long long FuzzReplyCount(uint8_t type);
unsigned long long FuzzErrorCount(uint8_t code);

namespace {

uint64_t g_state = 0;
uint32_t Next() {
  g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<uint32_t>(g_state >> 33);
}
uint32_t Below(uint32_t n) { return n ? Next() % n : 0; }

constexpr size_t kMaxInput = 24 * 1024;
uint8_t g_input[kMaxInput];
size_t g_size = 0;
uint8_t g_raw[protocol::kMaxPacket + 64];

void Append(const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n && g_size < kMaxInput; ++i) g_input[g_size++] = data[i];
}

void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Appends one encoded packet whose payload is in g_raw + 4.
void AppendPacket(uint8_t type, size_t payload_length) {
  g_raw[0] = Below(50) == 0 ? static_cast<uint8_t>(Next()) : protocol::kVersion;
  g_raw[1] = type;
  Put16(g_raw + 2, Next());
  Put32(g_raw + 4 + payload_length, Crc32(g_raw, 4 + payload_length) ^ (Below(40) == 0 ? 1u : 0u));
  static uint8_t encoded[protocol::kMaxPacket + 128];
  const long n = CobsEncode(g_raw, payload_length + 8, encoded, sizeof(encoded));
  if (n > 0) Append(encoded, static_cast<size_t>(n));
  const uint8_t delimiter = 0;
  Append(&delimiter, 1);
}

void RandomBytes(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(Next());
}

// Payload sizes stay small most of the time so the run is fast.
size_t SmallLength() { return Below(8) == 0 ? Below(600) : Below(24); }

void AppendCommand() {
  uint8_t* payload = g_raw + 4;
  const size_t room = protocol::kMaxPacket - 8;
  // Big inputs (96x96 frames, oversized frames) are rare so the run stays fast.
  const uint32_t pick = Below(400);
  switch (pick < 2 ? 8 : pick % 8) {
    case 0:
      AppendPacket(protocol::kHello, Below(10) == 0 ? 1 : 0);
      break;
    case 1: {  // INFER, format 0 or 1, sizes mostly plausible
      const bool model_size = Below(40) == 0;
      uint32_t w = model_size ? 96 : 1 + Below(24);
      uint32_t h = model_size ? 96 : 1 + Below(24);
      if (Below(30) == 0) w = Below(70000), h = Below(3);
      const uint8_t format = static_cast<uint8_t>(Below(10) == 0 ? Below(256) : Below(2));
      Put16(payload, w);
      Put16(payload + 2, h);
      payload[4] = format;
      size_t pixels = static_cast<size_t>(w) * h;
      // Most INFERs are malformed (cheap rejections); a valid one runs the
      // whole preprocessing of a 96x96 output, which dominates the run time.
      if (Below(4) != 0) pixels += 1 + Below(3);
      if (pixels > room - 5) pixels = Below(room - 5);
      RandomBytes(payload + 5, pixels);
      AppendPacket(protocol::kInfer, 5 + pixels);
      break;
    }
    case 2:
      Put16(payload, Below(6) == 0 ? Next() : Below(4));
      AppendPacket(protocol::kBench, Below(10) == 0 ? Below(4) : 2);
      break;
    case 3:
      payload[0] = static_cast<uint8_t>(Next());
      // Only one in eight is valid: a valid one runs a capture and preprocessing.
      AppendPacket(protocol::kCamera, Below(8) == 0 ? 1 : 2 + Below(3));
      break;
    case 4: {
      const size_t n = SmallLength();
      RandomBytes(payload, n);
      AppendPacket(protocol::kEcho, n);
      break;
    }
    case 5: {  // a CHUNK sequence, sometimes broken
      const uint8_t command = static_cast<uint8_t>(Below(8) == 0 ? Next() : 1 + Below(5));
      const uint32_t total = Below(10) == 0 ? Next() : Below(1200);
      uint32_t offset = 0;
      const int pieces = 1 + static_cast<int>(Below(4));
      for (int k = 0; k < pieces; ++k) {
        uint32_t n = Below(total / static_cast<uint32_t>(pieces) + 2);
        if (n > 700) n = Below(700);
        payload[0] = command;
        Put32(payload + 1, Below(20) == 0 ? total + 1 : total);
        Put32(payload + 5, Below(20) == 0 ? offset + 1 : offset);
        RandomBytes(payload + 9, n);
        if (command == protocol::kInfer && offset == 0 && n >= 5) {
          Put16(payload + 9, 1 + Below(30));
          Put16(payload + 11, 1 + Below(30));
          payload[13] = 0;
        }
        AppendPacket(protocol::kChunk, Below(30) == 0 ? Below(9) : 9 + n);
        offset += n;
        if (Below(3) == 0) {  // interleave something else
          AppendPacket(static_cast<uint8_t>(1 + Below(6)), 0);
        }
      }
      break;
    }
    case 6: {  // unknown type
      const size_t n = Below(16);
      RandomBytes(payload, n);
      AppendPacket(static_cast<uint8_t>(Next()), n);
      break;
    }
    case 7: {  // raw garbage, sometimes with delimiters
      const size_t n = SmallLength();
      uint8_t garbage[600];
      RandomBytes(garbage, n);
      Append(garbage, n);
      if (Below(2)) {
        const uint8_t delimiter = 0;
        Append(&delimiter, 1);
      }
      break;
    }
    default: {  // case 8: an oversized frame
      uint8_t block[255];
      std::memset(block, 0x33, sizeof(block));
      block[0] = 0xFF;
      const size_t blocks = protocol::kMaxPacket / 254 + Below(3);
      for (size_t k = 0; k < blocks; ++k) Append(block, sizeof(block));
      const uint8_t delimiter = 0;
      Append(&delimiter, 1);
      break;
    }
  }
}

void Mutate() {
  if (g_size == 0) return;
  const uint32_t kind = Below(8);
  const uint32_t count = 1 + Below(4);
  for (uint32_t k = 0; k < count; ++k) {
    const size_t at = Below(static_cast<uint32_t>(g_size));
    if (kind < 3) {
      g_input[at] ^= static_cast<uint8_t>(1u << Below(8));
    } else if (kind < 5) {
      g_input[at] = Below(2) ? 0 : static_cast<uint8_t>(Next());
    } else if (kind < 6) {
      g_size = at;  // truncate
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned long long inputs = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000ull;
  g_state = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20261127ull;
  unsigned long long bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (unsigned long long i = 0; i < inputs; ++i) {
    g_size = 0;
    // Raw mode (first byte even): the driver builds valid and broken frames itself.
    const uint8_t mode = 0;
    Append(&mode, 1);
    const int commands = 1 + static_cast<int>(Below(4));
    for (int c = 0; c < commands; ++c) AppendCommand();
    if (Below(3) == 0) Mutate();
    LLVMFuzzerTestOneInput(g_input, g_size);
    bytes += g_size;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const struct {
    const char* name;
    uint8_t type;
  } replies[] = {{"INFO", protocol::kInfo},   {"RESULT", protocol::kResult},
                 {"BENCH_RESULT", protocol::kBenchResult}, {"FRAME", protocol::kFrame},
                 {"ECHO_REPLY", protocol::kEchoReply},     {"ERROR", protocol::kError}};
  std::printf("replies:");
  for (const auto& reply : replies) std::printf(" %s=%llu", reply.name, FuzzReplyCount(reply.type));
  std::printf("\nerror codes:");
  for (uint8_t code = 1; code <= protocol::kBackendError; ++code) {
    std::printf(" %u=%llu", code, FuzzErrorCount(code));
  }
  std::printf("\n");
  std::printf("fuzz_loop: %llu inputs, %llu bytes, %.1f s, %.0f inputs/s, no crash\n", inputs,
              bytes, seconds, inputs / (seconds > 0 ? seconds : 1));
  return 0;
}
