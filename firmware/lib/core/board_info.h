#pragma once
// Facts about the board the firmware runs on.

// Short board name reported in INFO, e.g. "nano33ble", "qemu_m4".
const char* BoardName();
