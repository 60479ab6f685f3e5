// serial_port.h for qemu_m4: UART0 (CMSDK APB UART). QEMU delivers a received
// byte only when the one-byte receive register is free, so no input is lost;
// the host sees the port as a TCP socket or pty chardev.
#include "tinyxray/serial_port.h"

#include "cmsdk_uart.h"

void SerialInit() { cmsdk_uart::Enable(); }

size_t SerialRead(uint8_t* buffer, size_t max_bytes) {
  cmsdk_uart::Registers* uart = cmsdk_uart::Uart0();
  size_t count = 0;
  while (count < max_bytes && (uart->state & cmsdk_uart::kStateRxFull)) {
    buffer[count++] = static_cast<uint8_t>(uart->data);
  }
  return count;
}

void SerialWrite(const uint8_t* data, size_t length) { cmsdk_uart::Write(data, length); }

// QEMU holds a byte back until the receive register is free: no loss.
uint32_t SerialRxWindowBytes() { return 0; }
