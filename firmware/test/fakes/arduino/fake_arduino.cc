// Host implementation of the fake Arduino core (Arduino.h, Esp.h).
#include "fake_arduino.h"

#include <Arduino.h>
#include <Esp.h>

#include <chrono>

FakeSerial Serial;
EspClass ESP;

namespace fake_arduino {

namespace {
SerialState g_state;
constexpr size_t kHwcdcDefaultRxBytes = 256;
}  // namespace

SerialState& Port() { return g_state; }

void Reset(bool drops_when_full) {
  g_state = SerialState{};
  g_state.drops_when_full = drops_when_full;
}

void HostSends(const uint8_t* data, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    if (g_state.drops_when_full && g_state.rx.size() >= g_state.rx_capacity) {
      ++g_state.rx_dropped;
      continue;
    }
    g_state.rx.push_back(data[i]);
  }
}

}  // namespace fake_arduino


void FakeSerial::begin(unsigned long /*baud*/) {
  auto& state = fake_arduino::Port();
  state.rx_capacity_at_begin = state.rx_capacity;
  if (state.rx_capacity == 0) state.rx_capacity = fake_arduino::kHwcdcDefaultRxBytes;
  state.begun = true;
}

int FakeSerial::available() { return static_cast<int>(fake_arduino::Port().rx.size()); }

int FakeSerial::read() {
  auto& rx = fake_arduino::Port().rx;
  if (rx.empty()) return -1;
  const int value = rx.front();
  rx.erase(rx.begin());
  return value;
}

size_t FakeSerial::write(const uint8_t* data, size_t length) {
  auto& state = fake_arduino::Port();
  state.tx.insert(state.tx.end(), data, data + length);
  if (length > state.largest_write) state.largest_write = length;
  return length;
}

void FakeSerial::flush() {}

FakeSerial::operator bool() const { return fake_arduino::Port().begun; }

#if defined(ARDUINO_ARCH_ESP32)
size_t FakeSerial::setRxBufferSize(size_t bytes) {
  fake_arduino::Port().rx_capacity = bytes;
  return bytes;
}
#endif

unsigned long micros() {
  using namespace std::chrono;
  return static_cast<unsigned long>(
      duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

void yield() {}

uint32_t EspClass::getSketchSize() { return 0; }
uint32_t EspClass::getFreeHeap() { return 300000; }
