#pragma once
// Splits the incoming byte stream into frames at 0x00 delimiters and
// COBS-decodes each into a fixed buffer, one byte at a time. Any input is
// safe: an invalid or oversized frame is reported once at its delimiter and
// reading resumes with the next byte, so the reader resynchronises after
// garbage; it never writes past the buffer and never waits.
#include <cstddef>
#include <cstdint>

#include "tinyxray/cobs.h"

class FrameReader {
 public:
  enum class Event {
    kNone,      // mid-frame, or an empty frame (two delimiters) ignored
    kFrame,     // data()/size() hold a decoded frame
    kBadFrame,  // the frame was not valid COBS
    kTooLarge,  // the decoded frame would exceed the buffer
  };

  FrameReader(uint8_t* buffer, size_t capacity)
      : buffer_(buffer), decoder_(buffer, capacity) {}

  Event Feed(uint8_t byte);
  const uint8_t* data() const { return buffer_; }
  size_t size() const { return decoder_.size(); }

 private:
  uint8_t* buffer_;
  CobsDecoder decoder_;
  bool in_frame_ = false;   // bytes seen since the last delimiter
  bool too_large_ = false;  // discard until the next delimiter
};
