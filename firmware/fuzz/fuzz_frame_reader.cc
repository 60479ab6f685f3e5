// libFuzzer target: arbitrary bytes into FrameReader -> CommandHandler,
// either as raw serial input or as a list of valid packets (first byte).
// Every byte the device writes back must form valid reply packets (COBS,
// CRC, version 1, a reply type); anything else aborts. The sanitizers catch
// overflows, and libFuzzer's timeout catches hangs.
//
// From the repository root (tests/test_firmware_fuzz.py runs both in CI):
//   S=$(ls firmware/lib/core/*.cc | grep -v app.cc)
//   F="-std=c++17 -O1 -g -fno-exceptions -fno-rtti -Ifirmware/lib/core -Ifirmware/lib/model"
//   clang++ $F -fsanitize=fuzzer,address,undefined $S firmware/fuzz/fuzz_support.cc \
//     firmware/fuzz/fuzz_frame_reader.cc -o .pio/fuzz/fuzz_frame_reader
//   mkdir -p .pio/fuzz/corpus
//   .pio/fuzz/fuzz_frame_reader -max_total_time=60 -max_len=4096 .pio/fuzz/corpus
//   clang++ $F -fsanitize=address,undefined $S firmware/fuzz/fuzz_support.cc \
//     firmware/fuzz/fuzz_frame_reader.cc firmware/fuzz/fuzz_loop.cc -o .pio/fuzz/fuzz_loop
//   .pio/fuzz/fuzz_loop 1000000
#include <cstdlib>
#include <cstring>
#include <new>

#include "tinyxray/cobs.h"
#include "tinyxray/commands.h"
#include "tinyxray/crc32.h"
#include "tinyxray/frame_reader.h"
#include "tinyxray/inference.h"
#include "tinyxray/packet.h"
#include "tinyxray/protocol.h"

namespace {

// Collects one reply frame at a time and checks it at its delimiter.
struct ReplyChecker {
  uint8_t encoded[protocol::kMaxRequest * 2 + 1024];
  uint8_t decoded[protocol::kMaxRequest * 2 + 1024];
  size_t size = 0;
  unsigned long long by_type[256] = {};  // replies seen, by type
  unsigned long long errors[16] = {};    // ERROR replies, by code
};
ReplyChecker g_checker;

bool IsReplyType(uint8_t type) {
  return type == protocol::kInfo || type == protocol::kResult ||
         type == protocol::kBenchResult || type == protocol::kFrame ||
         type == protocol::kEchoReply || type == protocol::kError;
}

void CheckReplyBytes(const uint8_t* data, size_t length, void*) {
  for (size_t i = 0; i < length; ++i) {
    if (data[i] != 0) {
      if (g_checker.size >= sizeof(g_checker.encoded)) std::abort();
      g_checker.encoded[g_checker.size++] = data[i];
      continue;
    }
    const long n = CobsDecode(g_checker.encoded, g_checker.size, g_checker.decoded,
                              sizeof(g_checker.decoded));
    g_checker.size = 0;
    if (n < static_cast<long>(protocol::kMinPacketBytes)) std::abort();
    const uint8_t* p = g_checker.decoded;
    if (Crc32(p, static_cast<size_t>(n) - 4) != ReadU32(p + n - 4)) std::abort();
    if (p[0] != protocol::kVersion || !IsReplyType(p[1])) std::abort();
    if (p[1] == protocol::kError && (n < 9 || p[4] == 0 || p[4] > protocol::kBackendError)) {
      std::abort();
    }
    // Fixed-layout replies must have exactly their documented length.
    const long payload = n - static_cast<long>(protocol::kMinPacketBytes);
    if (p[1] == protocol::kResult &&
        (payload < 13 || payload != 13 + p[4 + 12] || p[4] >= p[4 + 12] || p[5] > 1)) {
      std::abort();
    }
    if (p[1] == protocol::kBenchResult && payload != 14) std::abort();
    if (p[1] == protocol::kFrame &&
        (payload != 4 + static_cast<long>(ModelInputBytes()) ||
         ReadU16(p + 4) != ModelInputWidth() || ReadU16(p + 6) != ModelInputHeight())) {
      std::abort();
    }
    ++g_checker.by_type[p[1]];
    if (p[1] == protocol::kError) ++g_checker.errors[p[4] & 15];
  }
}

alignas(FrameReader) unsigned char g_reader_storage[sizeof(FrameReader)];
alignas(CommandHandler) unsigned char g_handler_storage[sizeof(CommandHandler)];
uint8_t g_frame[protocol::kMaxPacket];
PacketWriter g_writer(ByteSink{CheckReplyBytes, nullptr});
bool g_initialised = false;

}  // namespace

// Reply counts for the deterministic driver's summary (shows which paths ran).
unsigned long long FuzzReplyCount(uint8_t type) { return g_checker.by_type[type]; }
unsigned long long FuzzErrorCount(uint8_t code) { return g_checker.errors[code & 15]; }

namespace {

void Feed(FrameReader* reader, CommandHandler* handler, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    const FrameReader::Event event = reader->Feed(data[i]);
    handler->OnEvent(event, reader->data(), reader->size());
  }
}

// Structured mode, so that mutations reach past the CRC check: the input is
// a list of records `u8 type, u16 payload length, payload`, each sent as a
// valid packet (version 1, COBS, CRC, delimiter).
void FeedPackets(FrameReader* reader, CommandHandler* handler, const uint8_t* data,
                 size_t size) {
  static uint8_t raw[protocol::kMaxPacket + 8];
  static uint8_t encoded[protocol::kMaxPacket + protocol::kMaxPacket / 254 + 16];
  size_t at = 0;
  uint16_t id = 1;
  while (at + 3 <= size) {
    const uint8_t type = data[at];
    size_t length = ReadU16(data + at + 1);
    at += 3;
    if (length > size - at) length = size - at;
    if (length > protocol::kMaxPacket - protocol::kMinPacketBytes) {
      length = protocol::kMaxPacket - protocol::kMinPacketBytes;
    }
    raw[0] = protocol::kVersion;
    raw[1] = type;
    raw[2] = static_cast<uint8_t>(id);
    raw[3] = static_cast<uint8_t>(id >> 8);
    std::memcpy(raw + 4, data + at, length);
    const uint32_t crc = Crc32(raw, 4 + length);
    for (int i = 0; i < 4; ++i) raw[4 + length + i] = static_cast<uint8_t>(crc >> (8 * i));
    const long n = CobsEncode(raw, length + 8, encoded, sizeof(encoded) - 1);
    if (n < 0) std::abort();
    encoded[n] = 0;
    Feed(reader, handler, encoded, static_cast<size_t>(n) + 1);
    at += length;
    ++id;
  }
}

}  // namespace

// The first byte picks the mode: even = the rest is raw serial input, odd =
// the rest is a list of packets to send validly (see FeedPackets).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_initialised) {
    InferenceInit();
    g_initialised = true;
  }
  if (size == 0) return 0;
  // A fresh reader and handler per input keeps runs reproducible.
  auto* reader = new (g_reader_storage) FrameReader(g_frame, sizeof(g_frame));
  auto* handler = new (g_handler_storage) CommandHandler(&g_writer);
  g_checker.size = 0;
  if (data[0] & 1u) {
    FeedPackets(reader, handler, data + 1, size - 1);
  } else {
    Feed(reader, handler, data + 1, size - 1);
  }
  // Every reply must have been complete (ended by its delimiter).
  if (g_checker.size != 0) std::abort();
  return 0;
}
