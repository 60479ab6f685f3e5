// Protocol codec and parser tests: the COBS/CRC vectors of
// docs/protocol.md, round trips, every error code, resynchronisation after
// garbage, TOO_LARGE, PENDING and CHUNK assembly.
#include <cstdlib>
#include <cstring>

#include "../tiny_test.h"
#include "tinyxray/device_log.h"
#include "tinyxray/inference.h"
#include "tinyxray/info_writer.h"
#include "wire.h"

using wire::OneError;
using wire::Replies;
using wire::ReplyAt;
using wire::SendPacket;

namespace {

bool BytesEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  return std::memcmp(a, b, n) == 0;
}

void TestCobsVectors() {
  uint8_t out[600];
  const uint8_t zero[] = {0x00};
  TT_CHECK_EQ(CobsEncode(zero, 1, out, sizeof(out)), 2);
  TT_CHECK(out[0] == 0x01 && out[1] == 0x01);

  const uint8_t mixed[] = {0x11, 0x22, 0x00, 0x33};
  const uint8_t mixed_encoded[] = {0x03, 0x11, 0x22, 0x02, 0x33};
  TT_CHECK_EQ(CobsEncode(mixed, 4, out, sizeof(out)), 5);
  TT_CHECK(BytesEqual(out, mixed_encoded, 5));

  uint8_t ones[255];
  std::memset(ones, 1, sizeof(ones));
  TT_CHECK_EQ(CobsEncode(ones, 254, out, sizeof(out)), 255);
  TT_CHECK(out[0] == 0xFF && BytesEqual(out + 1, ones, 254));
  TT_CHECK_EQ(CobsEncode(ones, 255, out, sizeof(out)), 257);
  TT_CHECK(out[0] == 0xFF && BytesEqual(out + 1, ones, 254));
  TT_CHECK(out[255] == 0x02 && out[256] == 0x01);

  uint8_t decoded[600];
  TT_CHECK_EQ(CobsDecode(mixed_encoded, 5, decoded, sizeof(decoded)), 4);
  TT_CHECK(BytesEqual(decoded, mixed, 4));
  // Truncated block, embedded zero, empty input, and too small an output.
  const uint8_t truncated[] = {0x05, 0x11};
  TT_CHECK_EQ(CobsDecode(truncated, 2, decoded, sizeof(decoded)), -1);
  const uint8_t with_zero[] = {0x02, 0x00};
  TT_CHECK_EQ(CobsDecode(with_zero, 2, decoded, sizeof(decoded)), -1);
  TT_CHECK_EQ(CobsDecode(mixed_encoded, 0, decoded, sizeof(decoded)), -1);
  TT_CHECK_EQ(CobsDecode(mixed_encoded, 5, decoded, 3), -1);
  TT_CHECK_EQ(CobsEncode(ones, 255, out, 100), -1);
}

void TestCobsRoundTrips() {
  uint32_t state = 12345;
  uint8_t input[700];
  uint8_t encoded[720];
  uint8_t decoded[700];
  int failures = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const size_t length = wire::NextRandom(&state) % sizeof(input);
    // Vary the share of zeros, including none at all (long full blocks).
    const uint32_t zero_every = trial % 3 == 0 ? 0 : 1 + trial % 7;
    for (size_t i = 0; i < length; ++i) {
      const uint32_t r = wire::NextRandom(&state);
      input[i] = zero_every && r % zero_every == 0 ? 0 : static_cast<uint8_t>(1 + r % 255);
    }
    const long n = CobsEncode(input, length, encoded, sizeof(encoded));
    bool ok = n > 0 && static_cast<size_t>(n) <= length + length / 254 + 1;
    for (long i = 0; ok && i < n; ++i) ok = encoded[i] != 0;
    ok = ok && CobsDecode(encoded, static_cast<size_t>(n), decoded, sizeof(decoded)) ==
                   static_cast<long>(length);
    ok = ok && BytesEqual(decoded, input, length);
    if (!ok) ++failures;
  }
  TT_CHECK_EQ(failures, 0);
}

void TestCrc32() {
  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  TT_CHECK_EQ(Crc32(check, 9), 0xCBF43926u);
  TT_CHECK_EQ(Crc32(check + 4, 5, Crc32(check, 4)), 0xCBF43926u);
  TT_CHECK_EQ(Crc32(check, 0), 0u);
}

void TestHelloVector() {
  // docs/protocol.md: HELLO, id 1, empty payload = 01 01 01 00 + CRC32 LE.
  uint8_t out[32];
  struct Buffer {
    uint8_t* data;
    size_t size;
  } buffer{out, 0};
  PacketWriter writer(ByteSink{[](const uint8_t* d, size_t n, void* c) {
                                 auto* b = static_cast<Buffer*>(c);
                                 for (size_t i = 0; i < n && b->size < 32; ++i) {
                                   b->data[b->size++] = d[i];
                                 }
                               },
                               &buffer});
  writer.Begin(protocol::kHello, 1);
  writer.End();
  const uint8_t expected[] = {0x01, 0x01, 0x01, 0x00, 0x0F, 0xE3, 0x21, 0x81};
  uint8_t decoded[32];
  TT_CHECK_EQ(buffer.size, 10u);
  TT_CHECK_EQ(out[buffer.size - 1], 0);
  TT_CHECK_EQ(CobsDecode(out, buffer.size - 1, decoded, sizeof(decoded)), 8);
  TT_CHECK(BytesEqual(decoded, expected, 8));
  Packet packet{};
  TT_CHECK_EQ(ParsePacket(expected, 8, &packet), protocol::kOk);
  TT_CHECK_EQ(packet.type, protocol::kHello);
  TT_CHECK_EQ(packet.id, 1);
  TT_CHECK_EQ(packet.payload_length, 0u);
}

// Must run before any INFER: BENCH has no frame yet.
void TestNoFrame() {
  wire::ClearOutput();
  const uint8_t n[] = {5, 0};
  SendPacket(protocol::kBench, 7, n, 2);
  TT_CHECK(OneError(protocol::kNoFrame, 7));
}

void TestHelloInfo() {
  wire::ClearOutput();
  SendPacket(protocol::kHello, 0x1234, nullptr, 0);
  TT_CHECK_EQ(Replies(), 1u);
  const wire::Reply& reply = ReplyAt(0);
  TT_CHECK(reply.crc_ok);
  TT_CHECK_EQ(reply.type, protocol::kInfo);
  TT_CHECK_EQ(reply.id, 0x1234);
  static char text[2048];
  const size_t n = reply.length < sizeof(text) - 1 ? reply.length : sizeof(text) - 1;
  std::memcpy(text, reply.payload, n);
  text[n] = '\0';
  const char* keys[] = {"board=", "firmware=", "protocol=1\n", "backend=", "model_sha256=",
                        "labels=", "input=", "input_scale=", "input_zero_point=",
                        "output_scale=", "output_zero_point=", "uncertain_threshold=",
                        "arena_bytes=", "flash_bytes=", "ram_bytes=", "max_packet=",
                        "cost_unit=", "camera=", "ram_free_bytes=", "rx_window_bytes=0\n",
                        "bit_exact=1\n"};
  for (const char* key : keys) {
    const bool found = std::strstr(text, key) != nullptr;
    if (!found) std::printf("missing INFO key %s\n", key);
    TT_CHECK(found);
  }
  TT_CHECK(text[n - 1] == '\n');
  // qemu_m4 knows its free RAM from the linker script; the host board does not.
  const char* free_line = std::strstr(text, "ram_free_bytes=");
  const long free_bytes = free_line ? std::strtol(free_line + 15, nullptr, 10) : -1;
#if defined(TINYXRAY_BOARD_QEMU_M4)
  TT_CHECK(free_bytes > 0 && free_bytes <= 4L * 1024 * 1024);  // test builds: 4 MB
#else
  TT_CHECK_EQ(free_bytes, 0);
#endif
}

// A request of max_request bytes in CHUNK pieces of max_packet fits in the
// receive window a lossy transport sizes from kMaxRequestWireBytes.
void TestMaxRequestWireBytes() {
  const size_t piece_data = protocol::kMaxPacket - protocol::kChunkOverheadBytes;
  size_t wire_total = 0;
  for (size_t offset = 0; offset < protocol::kMaxRequest; offset += piece_data) {
    const size_t data = protocol::kMaxRequest - offset < piece_data
                            ? protocol::kMaxRequest - offset
                            : piece_data;
    const size_t decoded = protocol::kChunkOverheadBytes + data;
    // Worst-case COBS of `decoded` bytes, encoded for real: all non-zero.
    static uint8_t raw[protocol::kMaxPacket];
    static uint8_t encoded[protocol::kMaxPacket + protocol::kMaxPacket / 254 + 2];
    std::memset(raw, 0x5A, decoded);
    const long n = CobsEncode(raw, decoded, encoded, sizeof(encoded));
    TT_CHECK(n > 0);
    wire_total += static_cast<size_t>(n) + 1;
  }
  TT_CHECK(wire_total <= protocol::kMaxRequestWireBytes);
  TT_CHECK(protocol::kMaxRequestWireBytes - wire_total < protocol::kMaxPacket);
  TT_CHECK_EQ(protocol::WireBytes(0), 2u);
  TT_CHECK_EQ(protocol::WireBytes(254), 256u);
  TT_CHECK_EQ(protocol::WireBytes(255), 258u);
}

// LOG packets: one per line, id 0, '\r' dropped; text logged while another
// packet is being written waits until that packet ends, so neither is torn.
void TestDeviceLog() {
  wire::ClearOutput();
  DeviceLogAttach(&wire::Writer());
  DeviceLog("Failed to allocate tail memory.");
  TT_CHECK_EQ(Replies(), 0u);  // no newline yet: still buffered
  DeviceLog("\r\n");
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK(ReplyAt(0).crc_ok && ReplyAt(0).type == protocol::kLog && ReplyAt(0).id == 0);
  TT_CHECK(ReplyAt(0).length == 31 &&
           std::memcmp(ReplyAt(0).payload, "Failed to allocate tail memory.", 31) == 0);

  wire::ClearOutput();
  wire::Writer().Begin(protocol::kEchoReply, 9);
  wire::Writer().PutText("ab");
  DeviceLog("inside\n");  // must not start a packet inside ECHO_REPLY
  wire::Writer().PutText("cd");
  wire::Writer().End();
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK(ReplyAt(0).type == protocol::kEchoReply && ReplyAt(0).length == 4);
  DeviceLogFlush();
  TT_CHECK_EQ(Replies(), 2u);
  TT_CHECK(ReplyAt(1).type == protocol::kLog && ReplyAt(1).length == 6);

  // A line longer than one LOG packet is split, nothing lost.
  wire::ClearOutput();
  static char long_line[kDeviceLogLineBytes * 2 + 12];
  std::memset(long_line, 'x', sizeof(long_line) - 2);
  long_line[sizeof(long_line) - 2] = '\n';
  long_line[sizeof(long_line) - 1] = '\0';
  DeviceLog(long_line);
  TT_CHECK_EQ(Replies(), 3u);
  size_t total = 0;
  for (size_t i = 0; i < Replies(); ++i) total += ReplyAt(i).length;
  TT_CHECK_EQ(total, sizeof(long_line) - 2);
  TT_CHECK_EQ(DeviceLogDroppedBytes(), 0u);
  DeviceLogAttach(nullptr);
}

void TestEcho() {
  wire::ClearOutput();
  uint8_t payload[300];
  for (int i = 0; i < 300; ++i) payload[i] = static_cast<uint8_t>(i);  // includes zeros
  SendPacket(protocol::kEcho, 42, payload, sizeof(payload));
  SendPacket(protocol::kEcho, 43, nullptr, 0);
  TT_CHECK_EQ(Replies(), 2u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kEchoReply);
  TT_CHECK_EQ(ReplyAt(0).id, 42);
  TT_CHECK_EQ(ReplyAt(0).length, 300u);
  TT_CHECK(BytesEqual(ReplyAt(0).payload, payload, 300));
  TT_CHECK_EQ(ReplyAt(1).id, 43);
  TT_CHECK_EQ(ReplyAt(1).length, 0u);
}

void TestFrameErrors() {
  // Invalid COBS (truncated block).
  wire::ClearOutput();
  const uint8_t truncated[] = {0x09, 0x11, 0x22, 0x00};
  wire::SendBytes(truncated, sizeof(truncated));
  TT_CHECK(OneError(protocol::kBadFrame, protocol::kUnknownRequestId));

  // Valid COBS but shorter than 8 bytes.
  wire::ClearOutput();
  const uint8_t short_packet[] = {0x04, 0x01, 0x01, 0x01, 0x00};
  wire::SendBytes(short_packet, sizeof(short_packet));
  TT_CHECK(OneError(protocol::kBadFrame, protocol::kUnknownRequestId));

  wire::ClearOutput();
  SendPacket(protocol::kHello, 5, nullptr, 0, protocol::kVersion, true);
  TT_CHECK(OneError(protocol::kBadCrc, protocol::kUnknownRequestId));

  wire::ClearOutput();
  SendPacket(protocol::kHello, 6, nullptr, 0, 2);
  TT_CHECK(OneError(protocol::kBadVersion, 6));

  wire::ClearOutput();
  SendPacket(0x42, 8, nullptr, 0);
  TT_CHECK(OneError(protocol::kUnknownCommand, 8));
  wire::ClearOutput();
  SendPacket(protocol::kInfo, 9, nullptr, 0);  // a reply type sent as a command
  TT_CHECK(OneError(protocol::kUnknownCommand, 9));

  // Empty frames are ignored silently.
  wire::ClearOutput();
  const uint8_t delimiters[] = {0, 0, 0};
  wire::SendBytes(delimiters, 3);
  TT_CHECK_EQ(Replies(), 0u);
  TT_CHECK_EQ(wire::GetLink().out_size, 0u);
}

void TestBadLength() {
  const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  wire::ClearOutput();
  SendPacket(protocol::kHello, 10, bytes, 1);
  TT_CHECK(OneError(protocol::kBadLength, 10));
  wire::ClearOutput();
  SendPacket(protocol::kInfer, 11, bytes, 4);
  TT_CHECK(OneError(protocol::kBadLength, 11));
  wire::ClearOutput();
  SendPacket(protocol::kBench, 12, bytes, 3);
  TT_CHECK(OneError(protocol::kBadLength, 12));
  wire::ClearOutput();
  SendPacket(protocol::kCamera, 13, bytes, 0);
  TT_CHECK(OneError(protocol::kBadLength, 13));
  wire::ClearOutput();
  SendPacket(protocol::kChunk, 14, bytes, 8);
  TT_CHECK(OneError(protocol::kBadLength, 14));
  // INFER 2x2 format 0 with 3 pixels.
  wire::ClearOutput();
  const uint8_t infer[] = {2, 0, 2, 0, 0, 10, 20, 30};
  SendPacket(protocol::kInfer, 15, infer, sizeof(infer));
  TT_CHECK(OneError(protocol::kBadLength, 15));
}

void TestBadFrameSize() {
  wire::ClearOutput();
  const uint8_t format1_small[] = {2, 0, 2, 0, 1, 0, 0, 0, 0};
  SendPacket(protocol::kInfer, 20, format1_small, sizeof(format1_small));
  TT_CHECK(OneError(protocol::kBadFrameSize, 20));
  wire::ClearOutput();
  const uint8_t bad_format[] = {1, 0, 1, 0, 7, 0};
  SendPacket(protocol::kInfer, 21, bad_format, sizeof(bad_format));
  TT_CHECK(OneError(protocol::kBadFrameSize, 21));
  wire::ClearOutput();
  const uint8_t zero_width[] = {0, 0, 1, 0, 0};
  SendPacket(protocol::kInfer, 22, zero_width, sizeof(zero_width));
  TT_CHECK(OneError(protocol::kBadFrameSize, 22));
  wire::ClearOutput();
  const uint8_t too_wide[] = {0x01, 0x04, 1, 0, 0};  // 1025 x 1
  SendPacket(protocol::kInfer, 23, too_wide, sizeof(too_wide));
  TT_CHECK(OneError(protocol::kBadFrameSize, 23));
}

void TestBenchArguments() {
  wire::ClearOutput();
  const uint8_t zero[] = {0, 0};
  SendPacket(protocol::kBench, 30, zero, 2);
  TT_CHECK(OneError(protocol::kBadArgument, 30));
  wire::ClearOutput();
  const uint8_t too_many[] = {0xE9, 0x03};  // 1001
  SendPacket(protocol::kBench, 31, too_many, 2);
  TT_CHECK(OneError(protocol::kBadArgument, 31));
}

void TestCameraUnsupported() {
  wire::ClearOutput();
  const uint8_t flags[] = {1};
  SendPacket(protocol::kCamera, 40, flags, 1);
  TT_CHECK(OneError(protocol::kUnsupported, 40));
}

void TestTooLarge() {
  // A frame that decodes to max_packet + 1 bytes: reported once, at the
  // delimiter, and the next request works.
  wire::ClearOutput();
  uint8_t block[255];
  std::memset(block, 0x41, sizeof(block));
  block[0] = 0xFF;
  size_t sent = 0;
  while (sent <= protocol::kMaxPacket) {
    wire::SendBytes(block, sizeof(block));
    sent += 254;
  }
  TT_CHECK_EQ(Replies(), 0u);
  wire::SendByte(0);
  TT_CHECK(OneError(protocol::kTooLarge, protocol::kUnknownRequestId));
  wire::ClearOutput();
  SendPacket(protocol::kHello, 50, nullptr, 0);
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kInfo);

  // The largest packet that fits is accepted.
  uint8_t* payload = wire::GetLink().payload;
  std::memset(payload, 0xA5, protocol::kMaxPacket);
  wire::ClearOutput();
  SendPacket(protocol::kEcho, 51, payload, protocol::kMaxPacket - 8);
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kEchoReply);
  TT_CHECK_EQ(ReplyAt(0).length, protocol::kMaxPacket - 8);
  wire::ClearOutput();
  SendPacket(protocol::kEcho, 52, payload, protocol::kMaxPacket - 7);
  TT_CHECK(OneError(protocol::kTooLarge, protocol::kUnknownRequestId));
}

void TestResync() {
  // Garbage with no delimiter merges into one bad frame; a lone 0x00 flushes
  // it, and the next packet is read correctly.
  wire::ClearOutput();
  uint32_t state = 99;
  for (int i = 0; i < 1000; ++i) {
    wire::SendByte(static_cast<uint8_t>(1 + wire::NextRandom(&state) % 255));
  }
  wire::SendByte(0);
  SendPacket(protocol::kHello, 60, nullptr, 0);
  TT_CHECK_EQ(Replies(), 2u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kError);
  TT_CHECK_EQ(ReplyAt(1).type, protocol::kInfo);
  TT_CHECK_EQ(ReplyAt(1).id, 60);

  // The boot banner, sent back at the device, is one ignored bad frame.
  wire::ClearOutput();
  const char banner[] = "tinyxray firmware 0.1.0 board=host protocol=1\n";
  wire::SendBytes(reinterpret_cast<const uint8_t*>(banner), sizeof(banner) - 1);
  wire::SendByte(0);
  SendPacket(protocol::kEcho, 61, nullptr, 0);
  TT_CHECK_EQ(Replies(), 2u);
  TT_CHECK(ReplyAt(0).type == protocol::kError && ReplyAt(0).payload[0] == protocol::kBadFrame);
  TT_CHECK_EQ(ReplyAt(1).type, protocol::kEchoReply);

  // Random garbage frames each get exactly one error, never a crash.
  int bad = 0;
  for (int frame = 0; frame < 200; ++frame) {
    wire::ClearOutput();
    const uint32_t length = 1 + wire::NextRandom(&state) % 40;
    for (uint32_t i = 0; i < length; ++i) {
      wire::SendByte(static_cast<uint8_t>(1 + wire::NextRandom(&state) % 255));
    }
    wire::SendByte(0);
    if (Replies() != 1 || ReplyAt(0).type != protocol::kError) ++bad;
  }
  TT_CHECK_EQ(bad, 0);
}

void SendChunk(uint16_t id, uint8_t command, uint32_t total, uint32_t offset,
               const uint8_t* data, size_t length) {
  static uint8_t payload[protocol::kMaxPacket];  // not Link::payload: data may live there
  payload[0] = command;
  for (int i = 0; i < 4; ++i) {
    payload[1 + i] = static_cast<uint8_t>(total >> (8 * i));
    payload[5 + i] = static_cast<uint8_t>(offset >> (8 * i));
  }
  if (length) std::memcpy(payload + 9, data, length);
  SendPacket(protocol::kChunk, id, payload, 9 + length);
}

void TestChunk() {
  static uint8_t data[12000];  // larger than max_packet, so only CHUNK can carry it
  static_assert(sizeof(data) > protocol::kMaxPacket, "test needs a request above max_packet");
  for (size_t i = 0; i < sizeof(data); ++i) data[i] = static_cast<uint8_t>(i * 7);
  // ECHO of 12000 bytes in pieces of 5000: silence, then the whole reply.
  wire::ClearOutput();
  uint16_t id = 70;
  for (uint32_t offset = 0; offset < sizeof(data); offset += 5000) {
    const uint32_t length = sizeof(data) - offset < 5000 ? sizeof(data) - offset : 5000;
    if (offset + length < sizeof(data)) {
      SendChunk(id++, protocol::kEcho, sizeof(data), offset, data + offset, length);
      TT_CHECK_EQ(Replies(), 0u);
      TT_CHECK(wire::Handler().chunk_pending());
    } else {
      SendChunk(id, protocol::kEcho, sizeof(data), offset, data + offset, length);
    }
  }
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kEchoReply);
  TT_CHECK_EQ(ReplyAt(0).id, id);
  TT_CHECK_EQ(ReplyAt(0).length, sizeof(data));
  TT_CHECK(BytesEqual(ReplyAt(0).payload, data, sizeof(data)));
  TT_CHECK(!wire::Handler().chunk_pending());

  // A single piece carrying the whole request; and an empty HELLO.
  wire::ClearOutput();
  SendChunk(80, protocol::kEcho, 3, 0, data, 3);
  SendChunk(81, protocol::kHello, 0, 0, nullptr, 0);
  TT_CHECK_EQ(Replies(), 2u);
  TT_CHECK(ReplyAt(0).type == protocol::kEchoReply && ReplyAt(0).length == 3);
  TT_CHECK(ReplyAt(1).type == protocol::kInfo && ReplyAt(1).id == 81);

  // A damaged piece does not cancel the request: resend and finish.
  wire::ClearOutput();
  SendChunk(82, protocol::kEcho, 10, 0, data, 5);
  SendPacket(protocol::kChunk, 83, data, 20, protocol::kVersion, true);
  TT_CHECK(OneError(protocol::kBadCrc, protocol::kUnknownRequestId));
  wire::ClearOutput();
  SendChunk(84, protocol::kEcho, 10, 5, data + 5, 5);
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK(ReplyAt(0).type == protocol::kEchoReply && ReplyAt(0).length == 10);
}

void TestChunkErrors() {
  uint8_t data[16] = {};
  // PENDING: another command while a request is incomplete; then it's gone.
  wire::ClearOutput();
  SendChunk(90, protocol::kEcho, 10, 0, data, 4);
  SendPacket(protocol::kHello, 91, nullptr, 0);
  TT_CHECK(OneError(protocol::kPending, 91));
  TT_CHECK(!wire::Handler().chunk_pending());
  wire::ClearOutput();
  SendPacket(protocol::kHello, 92, nullptr, 0);
  TT_CHECK(Replies() == 1 && ReplyAt(0).type == protocol::kInfo);

  // PENDING: a piece with the wrong offset, command or total.
  const struct {
    uint8_t command;
    uint32_t total;
    uint32_t offset;
  } wrong[] = {{protocol::kEcho, 10, 5}, {protocol::kHello, 10, 4}, {protocol::kEcho, 11, 4}};
  for (const auto& w : wrong) {
    wire::ClearOutput();
    SendChunk(93, protocol::kEcho, 10, 0, data, 4);
    SendChunk(94, w.command, w.total, w.offset, data, 2);
    TT_CHECK(OneError(protocol::kPending, 94));
    TT_CHECK(!wire::Handler().chunk_pending());
  }
  // PENDING: a short CHUNK while pending.
  wire::ClearOutput();
  SendChunk(95, protocol::kEcho, 10, 0, data, 4);
  SendPacket(protocol::kChunk, 96, data, 3);
  TT_CHECK(OneError(protocol::kPending, 96));

  // BAD_ARGUMENT: first piece not at 0, past total, command not a command.
  wire::ClearOutput();
  SendChunk(97, protocol::kEcho, 10, 4, data, 2);
  TT_CHECK(OneError(protocol::kBadArgument, 97));
  wire::ClearOutput();
  SendChunk(98, protocol::kEcho, 4, 0, data, 5);
  TT_CHECK(OneError(protocol::kBadArgument, 98));
  wire::ClearOutput();
  SendChunk(99, protocol::kChunk, 4, 0, data, 4);
  TT_CHECK(OneError(protocol::kBadArgument, 99));
  wire::ClearOutput();
  SendChunk(100, 0x77, 4, 0, data, 4);
  TT_CHECK(OneError(protocol::kBadArgument, 100));
  // TOO_LARGE: total above max_request.
  wire::ClearOutput();
  SendChunk(101, protocol::kEcho, protocol::kMaxRequest + 1, 0, data, 4);
  TT_CHECK(OneError(protocol::kTooLarge, 101));
  TT_CHECK(!wire::Handler().chunk_pending());
  // The error for the chunked command itself comes with the last piece.
  wire::ClearOutput();
  SendChunk(102, protocol::kBench, 3, 0, data, 3);
  TT_CHECK(OneError(protocol::kBadLength, 102));
}

void TestInferAndBench() {
  // A 96x96 format-1 frame, then BENCH on it.
  uint8_t* payload = wire::GetLink().payload;
  const uint16_t width = ModelInputWidth();
  const uint16_t height = ModelInputHeight();
  const size_t pixels = static_cast<size_t>(width) * height;
  payload[0] = static_cast<uint8_t>(width);
  payload[1] = static_cast<uint8_t>(width >> 8);
  payload[2] = static_cast<uint8_t>(height);
  payload[3] = static_cast<uint8_t>(height >> 8);
  payload[4] = protocol::kFormatModelInput;
  for (size_t i = 0; i < pixels; ++i) payload[5 + i] = static_cast<uint8_t>(i % 251);
  wire::ClearOutput();
  SendPacket(protocol::kInfer, 110, payload, 5 + pixels);
  TT_CHECK_EQ(Replies(), 1u);
  const wire::Reply& result = ReplyAt(0);
  TT_CHECK_EQ(result.type, protocol::kResult);
  TT_CHECK_EQ(result.id, 110);
  TT_CHECK(result.length >= 13);
  const uint8_t n = result.payload[12];
  TT_CHECK_EQ(result.length, 13u + n);
  TT_CHECK(n >= 1 && result.payload[0] < n);
  TT_CHECK(ReadU32(result.payload + 4) == 0);  // no preprocessing for format 1

  const uint8_t runs[] = {9, 0};
  wire::ClearOutput();
  SendPacket(protocol::kBench, 111, runs, 2);
  TT_CHECK_EQ(Replies(), 1u);
  const wire::Reply& bench = ReplyAt(0);
  TT_CHECK_EQ(bench.type, protocol::kBenchResult);
  TT_CHECK_EQ(bench.length, 14u);
  TT_CHECK_EQ(ReadU16(bench.payload), 9);
  const uint32_t lo = ReadU32(bench.payload + 2);
  const uint32_t median = ReadU32(bench.payload + 6);
  const uint32_t hi = ReadU32(bench.payload + 10);
  TT_CHECK(lo <= median && median <= hi);

  // Format 0 of another size goes through on-device preprocessing.
  static uint8_t gray[5 + 40 * 30];
  gray[0] = 40, gray[1] = 0, gray[2] = 30, gray[3] = 0, gray[4] = protocol::kFormatGray8;
  for (int i = 0; i < 40 * 30; ++i) gray[5 + i] = static_cast<uint8_t>(i * 3);
  wire::ClearOutput();
  SendPacket(protocol::kInfer, 112, gray, sizeof(gray));
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK_EQ(ReplyAt(0).type, protocol::kResult);

  // The same frame in CHUNK pieces gives the same scores.
  wire::ClearOutput();
  SendPacket(protocol::kInfer, 113, gray, sizeof(gray));
  static uint8_t first[64];
  Replies();
  std::memcpy(first, ReplyAt(0).payload + 12, 1 + n);
  wire::ClearOutput();
  SendChunk(114, protocol::kInfer, sizeof(gray), 0, gray, 700);
  SendChunk(115, protocol::kInfer, sizeof(gray), 700, gray + 700, sizeof(gray) - 700);
  TT_CHECK_EQ(Replies(), 1u);
  TT_CHECK(ReplyAt(0).type == protocol::kResult && ReplyAt(0).id == 115);
  TT_CHECK(BytesEqual(ReplyAt(0).payload + 12, first, 1 + n));
}

void TestFormatNumberInInfo() {
  // The INFO numbers parse back: spot-check the output scale line.
  wire::ClearOutput();
  SendPacket(protocol::kHello, 120, nullptr, 0);
  Replies();
  static char text[2048];
  std::memcpy(text, ReplyAt(0).payload, ReplyAt(0).length);
  text[ReplyAt(0).length] = '\0';
  TT_CHECK(std::strstr(text, "\nmax_packet=") != nullptr);
  TT_CHECK(std::strstr(text, "e-") == nullptr);  // no exponents
}

void TestFormatNumber() {
  char text[32];
  const struct {
    double value;
    const char* expected;
  } cases[] = {{0.6f, "0.6"},         {0.00390625, "0.00390625"}, {1.0, "1"},
               {-128.0, "-128"},      {0.1f, "0.1"},              {123.456f, "123.456"},
               {2.5e-5, "0.000025"},  {1.0 / 255, "0.003921569"},  {0.0, "0"}};
  for (const auto& c : cases) {
    FormatNumber(c.value, text);
    const bool ok = std::strcmp(text, c.expected) == 0;
    if (!ok) std::printf("FormatNumber(%g) = %s, expected %s\n", c.value, text, c.expected);
    TT_CHECK(ok);
  }
  // Any float reads back as the same float.
  uint32_t state = 7;
  int mismatches = 0;
  for (int i = 0; i < 2000; ++i) {
    const float value = static_cast<float>(wire::NextRandom(&state) % 1000000) /
                        static_cast<float>(1 + wire::NextRandom(&state) % 100000);
    FormatNumber(value, text);
    if (static_cast<float>(std::strtod(text, nullptr)) != value) ++mismatches;
  }
  TT_CHECK_EQ(mismatches, 0);
}

}  // namespace

int main() {
  TT_CHECK(InferenceInit());
  TT_RUN(TestCobsVectors);
  TT_RUN(TestCobsRoundTrips);
  TT_RUN(TestCrc32);
  TT_RUN(TestHelloVector);
  TT_RUN(TestNoFrame);
  TT_RUN(TestHelloInfo);
  TT_RUN(TestEcho);
  TT_RUN(TestFrameErrors);
  TT_RUN(TestBadLength);
  TT_RUN(TestBadFrameSize);
  TT_RUN(TestBenchArguments);
  TT_RUN(TestCameraUnsupported);
  TT_RUN(TestTooLarge);
  TT_RUN(TestResync);
  TT_RUN(TestChunk);
  TT_RUN(TestChunkErrors);
  TT_RUN(TestInferAndBench);
  TT_RUN(TestFormatNumberInInfo);
  TT_RUN(TestFormatNumber);
  TT_RUN(TestMaxRequestWireBytes);
  TT_RUN(TestDeviceLog);
  return TinyTestSummary();
}
