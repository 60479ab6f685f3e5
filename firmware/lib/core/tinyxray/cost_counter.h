#pragma once
// A monotonic cost counter for timing inference. Real boards count
// microseconds; the emulator counts executed instructions (QEMU -icount makes
// them deterministic); the host build counts nanoseconds.
#include <cstdint>

// Starts the counter. Called once from AppSetup().
void CostCounterInit();

// The current count. It may wrap modulo 2^32; differences stay valid.
uint32_t CostNow();

// The unit of CostNow(): "us", "ns" or "instructions".
const char* CostUnit();
