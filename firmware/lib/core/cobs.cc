#include "tinyxray/cobs.h"

void CobsEncoder::FlushBlock() {
  block_[0] = static_cast<uint8_t>(count_ + 1);
  sink_.Write(block_, count_ + 1);
  count_ = 0;
}

void CobsEncoder::Put(uint8_t byte) {
  // A full block (code 0xFF) is flushed only when more data follows, so a
  // stream ending on a full block gets no empty trailing block.
  if (count_ == 254) FlushBlock();
  if (byte == 0) {
    FlushBlock();
  } else {
    block_[++count_] = byte;
  }
}

void CobsEncoder::Put(const uint8_t* data, size_t length) {
  for (size_t i = 0; i < length; ++i) Put(data[i]);
}

void CobsEncoder::Finish() { FlushBlock(); }

void CobsDecoder::Reset() {
  size_ = 0;
  remaining_ = 0;
  zero_pending_ = false;
  started_ = false;
}

bool CobsDecoder::Feed(uint8_t byte) {
  if (remaining_ == 0) {
    // A code byte: the block before it, unless full, ended with a zero.
    if (zero_pending_) {
      if (size_ >= capacity_) return false;
      buffer_[size_++] = 0;
    }
    started_ = true;
    remaining_ = static_cast<uint8_t>(byte - 1);
    zero_pending_ = byte != 0xFF;
    return true;
  }
  if (size_ >= capacity_) return false;
  buffer_[size_++] = byte;
  --remaining_;
  return true;
}

namespace {
struct BufferSink {
  uint8_t* data;
  size_t capacity;
  size_t size;
  bool overflow;
};

void WriteToBuffer(const uint8_t* data, size_t length, void* context) {
  auto* sink = static_cast<BufferSink*>(context);
  for (size_t i = 0; i < length; ++i) {
    if (sink->size >= sink->capacity) {
      sink->overflow = true;
      return;
    }
    sink->data[sink->size++] = data[i];
  }
}
}  // namespace

long CobsEncode(const uint8_t* input, size_t length, uint8_t* output,
                size_t capacity) {
  BufferSink buffer{output, capacity, 0, false};
  CobsEncoder encoder(ByteSink{WriteToBuffer, &buffer});
  encoder.Put(input, length);
  encoder.Finish();
  return buffer.overflow ? -1 : static_cast<long>(buffer.size);
}

long CobsDecode(const uint8_t* input, size_t length, uint8_t* output,
                size_t capacity) {
  CobsDecoder decoder(output, capacity);
  for (size_t i = 0; i < length; ++i) {
    if (input[i] == 0 || !decoder.Feed(input[i])) return -1;
  }
  return decoder.Complete() ? static_cast<long>(decoder.size()) : -1;
}
