#pragma once
// The packet layer of docs/protocol.md: a decoded packet is
// version, type, u16 request id, payload, CRC-32 (all little-endian).
#include <cstddef>
#include <cstdint>

#include "tinyxray/byte_sink.h"
#include "tinyxray/cobs.h"

struct Packet {
  uint8_t type;
  uint16_t id;
  const uint8_t* payload;
  size_t payload_length;
};

// Checks a decoded packet: length, CRC, then version. Returns protocol::kOk
// and fills *packet, or the error code (kBadFrame, kBadCrc, kBadVersion); the
// id is filled whenever the CRC matched, so BAD_VERSION can echo it.
uint8_t ParsePacket(const uint8_t* data, size_t length, Packet* packet);

// Writes one packet: Begin(), payload bytes, End(). The bytes are COBS-encoded
// and handed to the sink block by block, the CRC computed on the way, and
// End() adds the CRC and the 0x00 delimiter.
class PacketWriter {
 public:
  explicit PacketWriter(ByteSink sink) : sink_(sink), encoder_(sink) {}

  void Begin(uint8_t type, uint16_t id);
  void Put(const uint8_t* data, size_t length);
  void PutU8(uint8_t value) { Put(&value, 1); }
  void PutU16(uint16_t value);
  void PutU32(uint32_t value);
  void PutText(const char* text);
  void End();

  // A whole ERROR packet: code and message.
  void WriteError(uint16_t id, uint8_t code, const char* message);

  // True between Begin() and End(): another packet must not start on the
  // same stream now (device_log.h waits for it).
  bool busy() const { return busy_; }

 private:
  ByteSink sink_;
  CobsEncoder encoder_;
  uint32_t crc_ = 0;
  bool busy_ = false;
};

// Little-endian readers for payload fields.
inline uint16_t ReadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t ReadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
