// Reset and exception vectors of the qemu_m4 board (Cortex-M4F, mps2-an386).
// Reset_Handler enables the FPU, copies .data, zeroes .bss, starts UART0 and
// the cost counter, runs static constructors, then main(); main's return value
// becomes the exit code (semihosting, see syscalls.cc).
#include <cstdint>
#include <cstdlib>

#include "cmsdk_uart.h"
#include "tinyxray/cost_counter.h"

extern "C" {
// Symbols from the linker script (mps2_an386_sections.ld).
extern uint32_t _sidata;
extern uint32_t _sdata;
extern uint32_t _edata;
extern uint32_t _sbss;
extern uint32_t _ebss;
extern uint32_t _estack;

void __libc_init_array(void);
int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
}

namespace {

using Handler = void (*)(void);

constexpr int kNumExternalInterrupts = 32;  // AN385/AN386 NVIC lines.
constexpr uintptr_t kCpacr = 0xE000ED88u;   // Coprocessor access control.

struct VectorTable {
  uint32_t* initial_stack;
  Handler system[15];
  Handler external[kNumExternalInterrupts];
};

void EnableFpu() {
  // Full access to CP10 and CP11 (the single-precision FPU).
  *reinterpret_cast<volatile uint32_t*>(kCpacr) |= (0xFu << 20);
  __asm volatile("dsb\n\tisb" ::: "memory");
}

void WriteText(const char* text) {
  size_t length = 0;
  while (text[length] != '\0') {
    ++length;
  }
  cmsdk_uart::Write(reinterpret_cast<const uint8_t*>(text), length);
}

}  // namespace

__attribute__((section(".isr_vector"), used)) const VectorTable g_vector_table = {
    &_estack,
    {
        Reset_Handler,
        NMI_Handler,
        HardFault_Handler,
        MemManage_Handler,
        BusFault_Handler,
        UsageFault_Handler,
        nullptr,
        nullptr,
        nullptr,
        nullptr,
        SVC_Handler,
        DebugMon_Handler,
        nullptr,
        PendSV_Handler,
        SysTick_Handler,
    },
    {
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
        Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    },
};

extern "C" void Reset_Handler(void) {
  EnableFpu();
  const uint32_t* source = &_sidata;
  for (uint32_t* target = &_sdata; target < &_edata;) {
    *target++ = *source++;
  }
  for (uint32_t* target = &_sbss; target < &_ebss;) {
    *target++ = 0;
  }
  cmsdk_uart::Enable();
  CostCounterInit();
  __libc_init_array();
  std::exit(main());
}

// A fault is fatal: say so on UART0 and stop with exit code 3.
extern "C" void HardFault_Handler(void) {
  WriteText("\nfatal: hard fault\n");
  std::_Exit(3);
}

extern "C" void Default_Handler(void) {
  WriteText("\nfatal: unexpected interrupt\n");
  std::_Exit(4);
}

// Static constructors run through __libc_init_array(); with -nostartfiles the
// crti/crtn prologue and epilogue it also calls are empty.
extern "C" void _init(void) {}
extern "C" void _fini(void) {}
