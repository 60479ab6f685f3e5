// cost_counter.h for the nano33ble board: microseconds from the Arduino core.
#include "tinyxray/cost_counter.h"

#include <Arduino.h>

void CostCounterInit() {}

uint32_t CostNow() { return static_cast<uint32_t>(micros()); }

const char* CostUnit() { return "us"; }
