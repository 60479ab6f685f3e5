// cost_counter.h for the host board: CLOCK_MONOTONIC in nanoseconds, modulo
// 2^32 (differences stay valid for intervals under 4.29 s).
#include "tinyxray/cost_counter.h"

#include <ctime>

void CostCounterInit() {}

uint32_t CostNow() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1000000000u +
                      static_cast<uint64_t>(now.tv_nsec);
  return static_cast<uint32_t>(ns);
}

const char* CostUnit() { return "ns"; }
