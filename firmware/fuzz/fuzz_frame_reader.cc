// libFuzzer target: arbitrary bytes into FrameReader -> CommandHandler.
// Every byte the device writes back must form valid reply packets (COBS,
// CRC, version 1, a reply type); anything else aborts. The sanitizers catch
// overflows, and libFuzzer's timeout catches hangs.
#include <cstdlib>
#include <cstring>
#include <new>

#include "cobs.h"
#include "commands.h"
#include "crc32.h"
#include "frame_reader.h"
#include "inference.h"
#include "packet.h"
#include "protocol.h"

namespace {

// Collects one reply frame at a time and checks it at its delimiter.
struct ReplyChecker {
  uint8_t encoded[protocol::kMaxRequest * 2 + 1024];
  uint8_t decoded[protocol::kMaxRequest * 2 + 1024];
  size_t size = 0;
  size_t replies = 0;
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
    ++g_checker.replies;
  }
}

alignas(FrameReader) unsigned char g_reader_storage[sizeof(FrameReader)];
alignas(CommandHandler) unsigned char g_handler_storage[sizeof(CommandHandler)];
uint8_t g_frame[protocol::kMaxPacket];
PacketWriter g_writer(ByteSink{CheckReplyBytes, nullptr});
bool g_initialised = false;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_initialised) {
    InferenceInit();
    g_initialised = true;
  }
  // A fresh reader and handler per input keeps runs reproducible.
  auto* reader = new (g_reader_storage) FrameReader(g_frame, sizeof(g_frame));
  auto* handler = new (g_handler_storage) CommandHandler(&g_writer);
  g_checker.size = 0;
  for (size_t i = 0; i < size; ++i) {
    const FrameReader::Event event = reader->Feed(data[i]);
    handler->OnEvent(event, reader->data(), reader->size());
  }
  // Every reply must have been complete (ended by its delimiter).
  if (g_checker.size != 0) std::abort();
  return 0;
}
