#include "tinyxray/crc32.h"

namespace {
// Table for the reflected polynomial 0xEDB88320, built at compile time.
struct Crc32Table {
  uint32_t entries[256];
  constexpr Crc32Table() : entries() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t value = i;
      for (int bit = 0; bit < 8; ++bit) {
        value = (value & 1u) ? (value >> 1) ^ 0xEDB88320u : value >> 1;
      }
      entries[i] = value;
    }
  }
};
constexpr Crc32Table kTable;
}  // namespace

uint32_t Crc32(const uint8_t* data, size_t length, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < length; ++i) {
    crc = kTable.entries[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  }
  return ~crc;
}
