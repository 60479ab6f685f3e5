// serial_port.h for Arduino boards whose Serial is native USB CDC: the Nano 33
// BLE (Arduino mbed core, USBCDC) and the XIAO ESP32S3 Sense (Arduino-ESP32
// with ARDUINO_USB_MODE=1 and ARDUINO_USB_CDC_ON_BOOT=1, so Serial is HWCDC).
// Both boards' envs add this folder to their build. The baud rate is ignored
// by USB CDC.
//
// Writes: mbed's USBCDC is known to drop data on large writes, so each write
// is handed over in pieces of at most 64 bytes (one full-speed USB packet).
//
// Reads: mbed's USBCDC has flow control (the host is NAKed until the firmware
// reads), so nothing is lost. HWCDC's receive interrupt instead moves each
// USB packet into a FreeRTOS queue and drops what does not fit (256 bytes by
// default, HWCDC::begin keeps a size set before it). So on the ESP32 the
// queue is sized for the largest request the protocol lets the host send
// before it waits for a reply (protocol::kMaxRequestWireBytes), and INFO
// advertises that as rx_window_bytes, which the bench honours.
#include "tinyxray/serial_port.h"

#include <Arduino.h>

#include "tinyxray/protocol.h"

namespace {
constexpr size_t kMaxWriteBytes = 64;

#if defined(ARDUINO_ARCH_ESP32)
constexpr size_t kRxBufferBytes = protocol::kMaxRequestWireBytes;
size_t g_rx_window = 0;
#endif
}  // namespace

void SerialInit() {
#if defined(ARDUINO_ARCH_ESP32)
  // Before begin(): begin() allocates the 256-byte default only if no queue
  // exists. 0 means the allocation failed; INFO then says so (window 256).
  g_rx_window = Serial.setRxBufferSize(kRxBufferBytes);
  if (g_rx_window == 0) g_rx_window = 256;
#endif
  Serial.begin(115200);
}

uint32_t SerialRxWindowBytes() {
#if defined(ARDUINO_ARCH_ESP32)
  return static_cast<uint32_t>(g_rx_window);
#else
  return 0;
#endif
}

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
