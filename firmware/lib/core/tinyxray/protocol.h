#pragma once
// Constants of the serial protocol v1 (docs/protocol.md): packet layout,
// command and reply types, error codes and the device's size limits.
#include <cstddef>
#include <cstdint>

namespace protocol {

constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 4;  // version, type, u16 request id
constexpr size_t kCrcBytes = 4;
constexpr size_t kMinPacketBytes = kHeaderBytes + kCrcBytes;
// The reply id used when the request id cannot be read.
constexpr uint16_t kUnknownRequestId = 0xFFFF;
// The request id of unprompted packets (BOOT, camera-mode RESULTs).
constexpr uint16_t kUnpromptedId = 0;

// The largest decoded packet accepted (INFO max_packet). The default lets one
// 96x96 INFER (8 + 5 + 9216 bytes) travel in a single packet.
#ifdef TINYXRAY_MAX_PACKET
constexpr size_t kMaxPacket = TINYXRAY_MAX_PACKET;
#else
constexpr size_t kMaxPacket = 9240;
#endif
// The largest payload a CHUNK sequence may assemble (INFO max_request).
#ifdef TINYXRAY_MAX_REQUEST
constexpr size_t kMaxRequest = TINYXRAY_MAX_REQUEST;
#else
constexpr size_t kMaxRequest = 32768;
#endif
static_assert(kMaxPacket >= 64, "max_packet too small for the protocol");

// Worst-case bytes on the wire for one packet of `decoded` bytes: COBS adds
// one code byte per 254 data bytes (at least one), plus the 0x00 delimiter.
constexpr size_t WireBytes(size_t decoded) {
  return decoded + (decoded + 253) / 254 + (decoded == 0 ? 1 : 0) + 1;
}
// The bytes a host sends for the largest request, split into CHUNK pieces of
// at most kMaxPacket decoded bytes (each: header, u8 command, u32 total, u32
// offset, data, CRC). A device whose receive buffer drops bytes when full
// (ESP32-S3 HWCDC) sizes it from this, so one whole request always fits.
constexpr size_t kChunkOverheadBytes = kMinPacketBytes + 9;
constexpr size_t kMaxRequestPieces =
    (kMaxRequest + (kMaxPacket - kChunkOverheadBytes) - 1) /
    (kMaxPacket - kChunkOverheadBytes);
constexpr size_t kMaxRequestWireBytes =
    kMaxRequestPieces * WireBytes(kMaxPacket);
static_assert(kMaxRequest >= kMaxPacket - kMinPacketBytes,
              "max_request must hold any single-packet payload");

enum Type : uint8_t {
  kHello = 0x01,
  kInfer = 0x02,
  kBench = 0x03,
  kCamera = 0x04,
  kEcho = 0x05,
  kChunk = 0x06,
  kBoot = 0x80,
  kInfo = 0x81,
  kResult = 0x82,
  kBenchResult = 0x83,
  kFrame = 0x84,
  kEchoReply = 0x85,
  kLog = 0x86,
  kError = 0xFF,
};

enum Error : uint8_t {
  kOk = 0,
  kBadFrame = 1,
  kBadCrc = 2,
  kBadVersion = 3,
  kUnknownCommand = 4,
  kBadLength = 5,
  kBadFrameSize = 6,
  kTooLarge = 7,
  kPending = 8,
  kNoFrame = 9,
  kUnsupported = 10,
  kBadArgument = 11,
  kBackendError = 12,
};

// INFER formats.
constexpr uint8_t kFormatGray8 = 0;
constexpr uint8_t kFormatModelInput = 1;
// BENCH repetitions accepted.
constexpr uint16_t kMaxBenchRuns = 1000;
// The longest side of an INFER format-0 frame preprocessed on the device.
constexpr uint16_t kMaxFrameSide = 1024;

}  // namespace protocol
