// board_info.h for the Arduino Nano 33 BLE. Sizes come from the symbols of the
// Arduino mbed core's linker script (variants/ARDUINO_NANO33BLE/linker_script.ld,
// the same in ArduinoCore-mbed 4.5.0 and 4.6.0): the application starts at
// 0x10000 after the bootloader; flash holds .text up to __etext plus the .data
// load image; static RAM runs from __data_start__ to __bss_end__. The heap
// runs from there to __HeapLimit (1 KB below the end of RAM, the ISR stack).
#include "tinyxray/board_info.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdint>

extern "C" {
extern char __etext;
extern char __data_start__;
extern char __data_end__;
extern char __bss_end__;
extern char __HeapLimit;
}

namespace {
constexpr uintptr_t kApplicationStart = 0x10000u;

uintptr_t Address(const char* symbol) { return reinterpret_cast<uintptr_t>(symbol); }
}  // namespace

const char* BoardName() { return "nano33ble"; }

uint32_t FirmwareFlashBytes() {
  return static_cast<uint32_t>(Address(&__etext) - kApplicationStart +
                               (Address(&__data_end__) - Address(&__data_start__)));
}

uint32_t FirmwareRamBytes() {
  return static_cast<uint32_t>(Address(&__bss_end__) - Address(&__data_start__));
}

// Free heap: what the allocator holds free plus what sbrk has not handed out
// yet. mbed-os allocates its thread stacks and USB buffers from here at boot.
uint32_t RamFreeBytes() {
  const uintptr_t top = Address(static_cast<const char*>(sbrk(0)));
  const struct mallinfo info = mallinfo();
  const uintptr_t limit = Address(&__HeapLimit);
  const uintptr_t unclaimed = limit > top ? limit - top : 0;
  return static_cast<uint32_t>(unclaimed + static_cast<uintptr_t>(info.fordblks));
}
