#pragma once
// Where encoded bytes go: the serial port in the firmware, a buffer in tests.
#include <cstddef>
#include <cstdint>

struct ByteSink {
  void (*write)(const uint8_t* data, size_t length, void* context);
  void* context;

  void Write(const uint8_t* data, size_t length) const {
    write(data, length, context);
  }
};
