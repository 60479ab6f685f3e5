// A fake of arduino-esp32's Esp.h (EspClass) for the calls our esp32s3 board
// files make; see ../README.md.
#pragma once

#include <stdint.h>

class EspClass {
 public:
  uint32_t getSketchSize();
  uint32_t getFreeHeap();
};

extern EspClass ESP;
