#pragma once
// CRC-32/ISO-HDLC, the CRC of zlib.crc32 and of Ethernet.
#include <cstddef>
#include <cstdint>

// Continues a CRC over more bytes: Crc32(b, n, Crc32(a, m)) equals the CRC of
// a followed by b, and Crc32(data, n) (crc = 0) starts a new one, as zlib does.
uint32_t Crc32(const uint8_t* data, size_t length, uint32_t crc = 0);
