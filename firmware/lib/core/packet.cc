#include "tinyxray/packet.h"

#include <cstring>

#include "tinyxray/crc32.h"
#include "tinyxray/protocol.h"

uint8_t ParsePacket(const uint8_t* data, size_t length, Packet* packet) {
  if (length < protocol::kMinPacketBytes) return protocol::kBadFrame;
  const size_t body = length - protocol::kCrcBytes;
  if (Crc32(data, body) != ReadU32(data + body)) return protocol::kBadCrc;
  packet->type = data[1];
  packet->id = ReadU16(data + 2);
  packet->payload = data + protocol::kHeaderBytes;
  packet->payload_length = body - protocol::kHeaderBytes;
  if (data[0] != protocol::kVersion) return protocol::kBadVersion;
  return protocol::kOk;
}

void PacketWriter::Begin(uint8_t type, uint16_t id) {
  busy_ = true;
  crc_ = 0;
  const uint8_t header[protocol::kHeaderBytes] = {
      protocol::kVersion, type, static_cast<uint8_t>(id & 0xFF),
      static_cast<uint8_t>(id >> 8)};
  Put(header, sizeof(header));
}

void PacketWriter::Put(const uint8_t* data, size_t length) {
  crc_ = Crc32(data, length, crc_);
  encoder_.Put(data, length);
}

void PacketWriter::PutU16(uint16_t value) {
  const uint8_t bytes[2] = {static_cast<uint8_t>(value & 0xFF),
                            static_cast<uint8_t>(value >> 8)};
  Put(bytes, sizeof(bytes));
}

void PacketWriter::PutU32(uint32_t value) {
  const uint8_t bytes[4] = {
      static_cast<uint8_t>(value & 0xFF), static_cast<uint8_t>(value >> 8),
      static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
  Put(bytes, sizeof(bytes));
}

void PacketWriter::PutText(const char* text) {
  Put(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
}

void PacketWriter::End() {
  const uint32_t crc = crc_;
  const uint8_t bytes[4] = {
      static_cast<uint8_t>(crc & 0xFF), static_cast<uint8_t>(crc >> 8),
      static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 24)};
  encoder_.Put(bytes, sizeof(bytes));
  encoder_.Finish();
  const uint8_t delimiter = 0;
  sink_.Write(&delimiter, 1);
  busy_ = false;
}

void PacketWriter::WriteError(uint16_t id, uint8_t code,
                              const char* message) {
  Begin(protocol::kError, id);
  PutU8(code);
  PutText(message);
  End();
}
