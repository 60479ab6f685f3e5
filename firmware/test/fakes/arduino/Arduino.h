// A fake of the Arduino core API our board files use (see ../README.md), with
// the signatures of ArduinoCore-mbed 4.5.0 (arduino::USBSerial: begin,
// available, read, write, flush, operator bool) and, with ARDUINO_ARCH_ESP32,
// of arduino-esp32's HWCDC (Serial with ARDUINO_USB_MODE=1 and
// ARDUINO_USB_CDC_ON_BOOT=1; setRxBufferSize, which begin() keeps if set
// first). fake_arduino.cc implements it on the host, with a receive queue that
// drops what does not fit, as HWCDC's interrupt handler does.
#pragma once

#include <stddef.h>
#include <stdint.h>

class FakeSerial {
 public:
  void begin(unsigned long baud);
  int available();
  int read();
  size_t write(const uint8_t* data, size_t length);
  void flush();
  explicit operator bool() const;
#if defined(ARDUINO_ARCH_ESP32)
  size_t setRxBufferSize(size_t bytes);
#endif
};

extern FakeSerial Serial;

unsigned long micros();
void yield();
