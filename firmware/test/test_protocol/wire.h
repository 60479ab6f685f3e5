#pragma once
// Test helpers: a fake serial link around FrameReader + CommandHandler.
// Send*() feeds bytes as the host would; Replies() decodes what the device
// wrote (split at 0x00, COBS-decoded, CRC-checked) into a static pool.
#include <cstdint>
#include <cstring>

#include "tinyxray/cobs.h"
#include "tinyxray/commands.h"
#include "tinyxray/crc32.h"
#include "tinyxray/frame_reader.h"
#include "tinyxray/packet.h"
#include "tinyxray/protocol.h"

namespace wire {

// Small enough for qemu_m4's 256 KB RAM next to the core and the model arena.
constexpr size_t kOutCapacity = 16 * 1024;
constexpr size_t kMaxReplies = 16;

struct Reply {
  uint8_t version;
  uint8_t type;
  uint16_t id;
  bool crc_ok;
  const uint8_t* payload;
  size_t length;
};

struct Link {
  uint8_t out[kOutCapacity];
  size_t out_size = 0;
  bool out_overflow = false;
  uint8_t pool[kOutCapacity];
  Reply replies[kMaxReplies];
  size_t reply_count = 0;
  uint8_t frame[protocol::kMaxPacket];
  uint8_t encoded[protocol::kMaxPacket + protocol::kMaxPacket / 254 + 16];
  uint8_t decoded[protocol::kMaxPacket + 16];
  uint8_t payload[protocol::kMaxPacket];  // for tests building requests
};

inline Link& GetLink() {
  static Link link;
  return link;
}

inline void Capture(const uint8_t* data, size_t length, void*) {
  Link& link = GetLink();
  if (link.out_size + length > kOutCapacity) {
    link.out_overflow = true;
    return;
  }
  std::memcpy(link.out + link.out_size, data, length);
  link.out_size += length;
}

inline PacketWriter& Writer() {
  static PacketWriter writer(ByteSink{Capture, nullptr});
  return writer;
}
inline CommandHandler& Handler() {
  static CommandHandler handler(&Writer());
  return handler;
}
inline FrameReader& Reader() {
  static FrameReader reader(GetLink().frame, protocol::kMaxPacket);
  return reader;
}

inline void ClearOutput() {
  GetLink().out_size = 0;
  GetLink().out_overflow = false;
}

inline void SendBytes(const uint8_t* bytes, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    const FrameReader::Event event = Reader().Feed(bytes[i]);
    Handler().OnEvent(event, Reader().data(), Reader().size());
  }
}

inline void SendByte(uint8_t byte) { SendBytes(&byte, 1); }

// Builds version/type/id/payload/CRC, COBS-encodes it and sends it with the
// delimiter. corrupt_crc flips the CRC.
inline void SendPacket(uint8_t type, uint16_t id, const uint8_t* payload,
                       size_t length, uint8_t version = protocol::kVersion,
                       bool corrupt_crc = false) {
  Link& link = GetLink();
  uint8_t* raw = link.decoded;
  raw[0] = version;
  raw[1] = type;
  raw[2] = static_cast<uint8_t>(id & 0xFF);
  raw[3] = static_cast<uint8_t>(id >> 8);
  if (length) std::memcpy(raw + 4, payload, length);
  uint32_t crc = Crc32(raw, 4 + length);
  if (corrupt_crc) crc ^= 1u;
  for (int i = 0; i < 4; ++i) raw[4 + length + i] = static_cast<uint8_t>(crc >> (8 * i));
  const long n = CobsEncode(raw, 8 + length, link.encoded, sizeof(link.encoded) - 1);
  link.encoded[n] = 0;
  SendBytes(link.encoded, static_cast<size_t>(n) + 1);
}

// Decodes everything the device wrote since ClearOutput(). Frames that are
// not valid COBS are skipped (the banner).
inline size_t Replies() {
  Link& link = GetLink();
  link.reply_count = 0;
  size_t pool_used = 0;
  size_t start = 0;
  for (size_t i = 0; i < link.out_size; ++i) {
    if (link.out[i] != 0) continue;
    const long n = CobsDecode(link.out + start, i - start, link.pool + pool_used,
                              kOutCapacity - pool_used);
    start = i + 1;
    if (n < 8 || link.reply_count == kMaxReplies) continue;
    const uint8_t* p = link.pool + pool_used;
    Reply& reply = link.replies[link.reply_count++];
    reply.version = p[0];
    reply.type = p[1];
    reply.id = ReadU16(p + 2);
    reply.payload = p + 4;
    reply.length = static_cast<size_t>(n) - 8;
    reply.crc_ok = Crc32(p, static_cast<size_t>(n) - 4) == ReadU32(p + n - 4);
    pool_used += static_cast<size_t>(n);
  }
  return link.reply_count;
}

inline const Reply& ReplyAt(size_t i) { return GetLink().replies[i]; }

// True if exactly one reply arrived and it is ERROR code with this id.
inline bool OneError(uint8_t code, uint16_t id) {
  if (Replies() != 1) return false;
  const Reply& r = ReplyAt(0);
  return r.crc_ok && r.version == 1 && r.type == protocol::kError &&
         r.id == id && r.length >= 1 && r.payload[0] == code;
}

// Deterministic pseudo-random bytes (LCG), no libc rand state.
inline uint32_t NextRandom(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

}  // namespace wire
