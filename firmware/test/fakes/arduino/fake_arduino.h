// Test controls of the fake Arduino core (fake_arduino.cc), host only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fake_arduino {

struct SerialState {
  bool begun = false;
  size_t rx_capacity = 0;           // 0 until begin() or setRxBufferSize()
  size_t rx_capacity_at_begin = 0;  // what begin() found (0: it set 256)
  bool drops_when_full = false;     // HWCDC (ESP32) semantics
  std::vector<uint8_t> rx;          // received, not yet read
  size_t rx_dropped = 0;
  std::vector<uint8_t> tx;          // everything written
  size_t largest_write = 0;
};

SerialState& Port();

// The host sends bytes: they enter the receive queue, or are dropped once it
// is full when the fake models HWCDC.
void HostSends(const uint8_t* data, size_t length);

void Reset(bool drops_when_full);

}  // namespace fake_arduino
