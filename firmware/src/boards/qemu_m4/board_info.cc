// board_info.h for qemu_m4. Sizes come from the linker script's symbols
// (mps2_an386_sections.ld): flash holds everything up to the end of the .data
// load image; static RAM is .data plus .bss (the stack is not included); free
// RAM is the budget above the reserved main stack (_estack to _eram).
#include "tinyxray/board_info.h"

#include <cstdint>

extern "C" {
extern uint32_t _sidata;
extern uint32_t _sdata;
extern uint32_t _edata;
extern uint32_t _ebss;
extern uint32_t _estack;
extern uint32_t _eram;
}

namespace {
constexpr uintptr_t kFlashOrigin = 0x00000000u;
}  // namespace

const char* BoardName() { return "qemu_m4"; }

uint32_t FirmwareFlashBytes() {
  const uintptr_t data_bytes =
      reinterpret_cast<uintptr_t>(&_edata) - reinterpret_cast<uintptr_t>(&_sdata);
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&_sidata) - kFlashOrigin +
                               data_bytes);
}

uint32_t FirmwareRamBytes() {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&_ebss) -
                               reinterpret_cast<uintptr_t>(&_sdata));
}

uint32_t RamFreeBytes() {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&_eram) -
                               reinterpret_cast<uintptr_t>(&_estack));
}
