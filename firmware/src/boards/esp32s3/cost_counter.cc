// cost_counter.h for the esp32s3 board: microseconds from the Arduino core.
#include "tinyxray/cost_counter.h"

#include <Arduino.h>

void CostCounterInit() {}

uint32_t CostNow() { return static_cast<uint32_t>(micros()); }

const char* CostUnit() { return "us"; }
