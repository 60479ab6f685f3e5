#pragma once
// Facts about the board the firmware runs on.
#include <cstdint>

// Short board name reported in INFO, e.g. "nano33ble", "qemu_m4".
const char* BoardName();

// Flash the firmware image occupies (code, constants and initialised data),
// from linker symbols or a build-time define; 0 if unknown (INFO flash_bytes).
uint32_t FirmwareFlashBytes();

// Static RAM the firmware uses (initialised data and bss), from linker symbols
// or a build-time define; 0 if unknown (INFO ram_bytes).
uint32_t FirmwareRamBytes();

// RAM still free for the heap and stacks when called (INFO ram_free_bytes),
// from the board's allocator or linker symbols; 0 if unknown. Nothing on the
// inference path allocates, so the figure at INFO time is the one at boot.
uint32_t RamFreeBytes();
