// serial_port.h for Arduino boards whose Serial is native USB CDC: the Nano 33
// BLE (Arduino mbed core) and the XIAO ESP32S3 Sense (Arduino-ESP32 with
// ARDUINO_USB_CDC_ON_BOOT). Both boards' envs add this folder to their build.
// mbed's USBCDC is known to drop data on large writes, so each write is handed
// over in pieces of at most 64 bytes (one full-speed USB packet). The baud
// rate is ignored by USB CDC.
#include "serial_port.h"

#include <Arduino.h>

namespace {
constexpr size_t kMaxWriteBytes = 64;
}  // namespace

void SerialInit() { Serial.begin(115200); }

size_t SerialRead(uint8_t* buffer, size_t max_bytes) {
  size_t count = 0;
  while (count < max_bytes && Serial.available() > 0) {
    const int value = Serial.read();
    if (value < 0) {
      break;
    }
    buffer[count++] = static_cast<uint8_t>(value);
  }
  return count;
}

void SerialWrite(const uint8_t* data, size_t length) {
  size_t done = 0;
  while (done < length) {
    const size_t piece = length - done < kMaxWriteBytes ? length - done : kMaxWriteBytes;
    const size_t written = Serial.write(data + done, piece);
    if (written == 0) {
      if (!Serial) {
        return;  // No host has the port open: the bytes have nowhere to go.
      }
      yield();
      continue;
    }
    done += written;
  }
  Serial.flush();
}
