// Test helper: a PacketWriter into memory, and the LOG packets found in it.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tinyxray/cobs.h"
#include "tinyxray/packet.h"
#include "tinyxray/protocol.h"

namespace log_capture {

inline std::vector<uint8_t>& Bytes() {
  static std::vector<uint8_t> bytes;
  return bytes;
}

inline PacketWriter& Writer() {
  static PacketWriter writer(ByteSink{[](const uint8_t* data, size_t length, void*) {
                                        Bytes().insert(Bytes().end(), data, data + length);
                                      },
                                      nullptr});
  return writer;
}

// Every packet of `type` in `stream`, payloads as text.
inline std::vector<std::string> Packets(const std::vector<uint8_t>& stream, uint8_t type) {
  std::vector<std::string> found;
  size_t start = 0;
  for (size_t i = 0; i < stream.size(); ++i) {
    if (stream[i] != 0) continue;
    std::vector<uint8_t> decoded(i - start + 1);
    const long n = CobsDecode(stream.data() + start, i - start, decoded.data(), decoded.size());
    start = i + 1;
    if (n < 8 || decoded[0] != protocol::kVersion || decoded[1] != type) continue;
    found.emplace_back(reinterpret_cast<const char*>(decoded.data() + 4), n - 8);
  }
  return found;
}

inline std::vector<std::string> Logs() {
  std::vector<std::string> logs = Packets(Bytes(), protocol::kLog);
  for (const std::string& line : logs) std::printf("LOG: %s\n", line.c_str());
  return logs;
}

inline bool AnyLogContains(const char* text) {
  for (const std::string& line : Logs()) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace log_capture
