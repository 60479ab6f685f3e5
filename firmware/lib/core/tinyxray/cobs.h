#pragma once
// Consistent Overhead Byte Stuffing (COBS), as framed in docs/protocol.md:
// the encoded bytes contain no 0x00, which then delimits frames.
#include <cstddef>
#include <cstdint>

#include "tinyxray/byte_sink.h"

// Encodes a stream byte by byte and hands each finished block (a code byte
// and up to 254 data bytes) to a sink, so no packet-sized buffer is needed.
// Finish() ends the stream; it does not write the 0x00 delimiter.
class CobsEncoder {
 public:
  explicit CobsEncoder(ByteSink sink) : sink_(sink) {}

  void Put(uint8_t byte);
  void Put(const uint8_t* data, size_t length);
  void Finish();

 private:
  void FlushBlock();

  ByteSink sink_;
  uint8_t block_[255] = {};  // block_[0] is the code byte
  size_t count_ = 0;         // data bytes in block_
};

// Decodes a stream of non-zero encoded bytes (one frame, the delimiter
// excluded) into a caller's buffer. Feed() returns false once the decoded
// frame would exceed the buffer; Complete() tells if the last block ended.
class CobsDecoder {
 public:
  CobsDecoder(uint8_t* buffer, size_t capacity)
      : buffer_(buffer), capacity_(capacity) {}

  void Reset();
  bool Feed(uint8_t byte);  // byte must not be 0x00
  bool Complete() const { return started_ && remaining_ == 0; }
  size_t size() const { return size_; }

 private:
  uint8_t* buffer_;
  size_t capacity_;
  size_t size_ = 0;
  uint8_t remaining_ = 0;     // data bytes left in the current block
  bool zero_pending_ = false;  // the previous block implies a 0x00
  bool started_ = false;
};

// Whole-buffer helpers (tests, fuzzing). Each returns the output length, or
// -1 if the output does not fit (encode) or the input is not valid COBS
// (decode; input without delimiter).
long CobsEncode(const uint8_t* input, size_t length, uint8_t* output,
                size_t capacity);
long CobsDecode(const uint8_t* input, size_t length, uint8_t* output,
                size_t capacity);
