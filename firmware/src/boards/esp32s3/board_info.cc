// board_info.h for the Seeed XIAO ESP32S3 Sense. The application image size
// comes from the Arduino-ESP32 core; static RAM is printed by
// `pio run -e esp32s3` at build time and reported as unknown (0) here. Free
// RAM is the internal heap (the PSRAM heap, for camera frames, is separate:
// ESP.getFreePsram()).
#include "tinyxray/board_info.h"

#include <Esp.h>

const char* BoardName() { return "esp32s3"; }

uint32_t FirmwareFlashBytes() { return ESP.getSketchSize(); }

uint32_t FirmwareRamBytes() { return 0; }

uint32_t RamFreeBytes() { return ESP.getFreeHeap(); }
