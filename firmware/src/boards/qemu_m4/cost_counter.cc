// cost_counter.h for qemu_m4: executed instructions, counted with SysTick.
//
// QEMU runs the firmware with `-icount shift=3`: every instruction advances
// virtual time by 2^3 = 8 ns, deterministically. SysTick is clocked from the
// processor clock (CLKSOURCE = 1), which QEMU's mps2 boards drive at 25 MHz,
// one tick per 40 ns, that is one tick per 5 instructions. So
// instructions = ticks * kInstructionsPerTick, with a resolution of 5
// instructions. firmware/test/test_board checks this ratio against a loop of
// known length (test_cost_counts_instructions), which is how it was calibrated.
// The 24-bit down-counter is extended to 32 bits by counting its wraps in
// SysTick_Handler (one interrupt per 2^24 ticks, about 84 M instructions).
#include "tinyxray/cost_counter.h"

namespace {

constexpr uint32_t kInstructionsPerTick = 5;
constexpr uint32_t kReload = 0x00FFFFFFu;

struct SysTickRegisters {
  volatile uint32_t ctrl;
  volatile uint32_t load;
  volatile uint32_t value;
  volatile uint32_t calib;
};

constexpr uint32_t kCtrlEnable = 1u << 0;
constexpr uint32_t kCtrlTickInt = 1u << 1;
constexpr uint32_t kCtrlProcessorClock = 1u << 2;

SysTickRegisters* SysTick() { return reinterpret_cast<SysTickRegisters*>(0xE000E010u); }

volatile uint32_t g_wraps = 0;

}  // namespace

extern "C" void SysTick_Handler(void) { g_wraps = g_wraps + 1; }

void CostCounterInit() {
  SysTickRegisters* systick = SysTick();
  systick->ctrl = 0;
  systick->load = kReload;
  systick->value = 0;
  g_wraps = 0;
  systick->ctrl = kCtrlEnable | kCtrlTickInt | kCtrlProcessorClock;
}

uint32_t CostNow() {
  uint32_t wraps;
  uint32_t value;
  do {
    wraps = g_wraps;
    value = SysTick()->value;
  } while (wraps != g_wraps);
  const uint32_t ticks = (wraps << 24) + (kReload - value);
  return ticks * kInstructionsPerTick;
}

const char* CostUnit() { return "instructions"; }
