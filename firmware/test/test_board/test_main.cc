// Board interfaces of the board under test (host or qemu_m4): each can be
// called and behaves as its header promises.
#include <cstdio>
#include <cstring>

#include "tinyxray/board_info.h"
#include "tinyxray/cost_counter.h"
#include "tinyxray/serial_port.h"
#include "tiny_test.h"

namespace {

// Runs `iterations` rounds of a two-instruction Thumb loop (subs + bne), that
// is 2 * iterations instructions on the emulator.
void SpinInstructions(uint32_t iterations) {
#if defined(__arm__)
  __asm volatile(
      "1: subs %0, %0, #1\n\t"
      "bne 1b"
      : "+r"(iterations)
      :
      : "cc");
#else
  volatile uint32_t count = iterations;
  while (count != 0) {
    count = count - 1;
  }
#endif
}

void test_board_name_is_known() {
  const char* name = BoardName();
  TT_CHECK(name != nullptr);
  TT_CHECK(std::strlen(name) > 0);
  TT_CHECK(std::strcmp(name, "host") == 0 || std::strcmp(name, "qemu_m4") == 0);
}

void test_cost_counter_increases() {
  CostCounterInit();
  const uint32_t start = CostNow();
  SpinInstructions(100000);
  const uint32_t elapsed = CostNow() - start;
  TT_CHECK(elapsed > 0);
  const char* unit = CostUnit();
  TT_CHECK(std::strcmp(unit, "ns") == 0 || std::strcmp(unit, "instructions") == 0);
}

// On the emulator (-icount shift=3) the counter counts instructions exactly,
// up to SysTick's resolution: 200,000 loop instructions plus a few of the
// measurement itself.
void test_cost_counts_instructions() {
  if (std::strcmp(CostUnit(), "instructions") != 0) {
    return;
  }
  const uint32_t start = CostNow();
  SpinInstructions(100000);
  const uint32_t elapsed = CostNow() - start;
  std::printf("200000 loop instructions measured as %lu\n",
              static_cast<unsigned long>(elapsed));
  TT_CHECK(elapsed >= 200000);
  TT_CHECK(elapsed <= 200000 + 100);
}

void test_cost_counter_crosses_systick_wrap() {
  if (std::strcmp(CostUnit(), "instructions") != 0) {
    return;
  }
  // 2^24 ticks * 5 = 83.9 M instructions: one SysTick wrap is crossed.
  const uint32_t start = CostNow();
  SpinInstructions(45000000);
  const uint32_t elapsed = CostNow() - start;
  TT_CHECK(elapsed >= 90000000u);
  TT_CHECK(elapsed <= 90000000u + 100);
}

void test_printf_reaches_output() {
  const int written = std::printf("printf works: %d %s\n", 42, "ok");
  TT_CHECK_EQ(written, 20);
}

void test_serial_read_never_blocks() {
  uint8_t buffer[8];
  // Nothing is connected in a unit test: SerialRead must return at once.
  TT_CHECK(SerialRead(buffer, 0) == 0);
}

}  // namespace

int main() {
  TT_RUN(test_board_name_is_known);
  TT_RUN(test_cost_counter_increases);
  TT_RUN(test_cost_counts_instructions);
  TT_RUN(test_cost_counter_crosses_systick_wrap);
  TT_RUN(test_printf_reaches_output);
  TT_RUN(test_serial_read_never_blocks);
  return TinyTestSummary();
}
