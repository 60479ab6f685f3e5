// Entry point of the qemu_m4 firmware: Reset_Handler (startup.cc) calls main().
//
// QEMU starts the guest when the first client connects to UART0's TCP server
// (wait=on), and pyserial flushes its input right after connecting. So boot
// first spins for 20 M instructions (2.5 ms of emulated time, about 0.1 s of
// real time) before AppSetup prints the banner, and a pyserial client reliably
// sees it.
#include <cstdint>

#include "tinyxray/app.h"

namespace {

constexpr uint32_t kBootDelayLoops = 10000000u;  // Two instructions each.

void BootDelay() {
  uint32_t loops = kBootDelayLoops;
  __asm volatile(
      "1: subs %0, %0, #1\n\t"
      "bne 1b"
      : "+r"(loops)
      :
      : "cc");
}

}  // namespace

int main() {
  BootDelay();
  AppSetup();
  for (;;) {
    AppLoop();
  }
}
