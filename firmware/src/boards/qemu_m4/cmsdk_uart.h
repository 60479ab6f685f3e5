#pragma once
// UART0 of the mps2-an386 image: an Arm CMSDK APB UART at 0x40004000.
// Registers (CMSDK APB UART TRM; QEMU hw/char/cmsdk-apb-uart.c):
//   DATA 0x00, STATE 0x04 (bit 0 TX full, bit 1 RX full),
//   CTRL 0x08 (bit 0 TX enable, bit 1 RX enable), BAUDDIV 0x10 (>= 16).
#include <cstddef>
#include <cstdint>

namespace cmsdk_uart {

constexpr uintptr_t kUart0Base = 0x40004000u;
constexpr uint32_t kStateTxFull = 1u << 0;
constexpr uint32_t kStateRxFull = 1u << 1;
constexpr uint32_t kCtrlTxEnable = 1u << 0;
constexpr uint32_t kCtrlRxEnable = 1u << 1;

struct Registers {
  volatile uint32_t data;
  volatile uint32_t state;
  volatile uint32_t ctrl;
  volatile uint32_t int_status;
  volatile uint32_t baud_div;
};

inline Registers* Uart0() { return reinterpret_cast<Registers*>(kUart0Base); }

// Enables transmit and receive. Idempotent.
inline void Enable() {
  Registers* uart = Uart0();
  uart->baud_div = 16;
  uart->ctrl = kCtrlTxEnable | kCtrlRxEnable;
}

// Writes bytes, waiting while the transmit holding register is full.
inline void Write(const uint8_t* data, size_t length) {
  Registers* uart = Uart0();
  for (size_t i = 0; i < length; ++i) {
    while (uart->state & kStateTxFull) {
    }
    uart->data = data[i];
  }
}

}  // namespace cmsdk_uart
