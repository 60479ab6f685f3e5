// board_info.h for the Arduino Nano 33 BLE. The flash and RAM figures are
// printed by `pio run -e nano33ble` at build time; at run time they are
// reported as unknown (0) rather than guessed from mbed's linker symbols.
#include "board_info.h"

const char* BoardName() { return "nano33ble"; }

uint32_t FirmwareFlashBytes() { return 0; }

uint32_t FirmwareRamBytes() { return 0; }
