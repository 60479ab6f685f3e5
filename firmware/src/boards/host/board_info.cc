// board_info.h for the host board. A Linux process has no flash or RAM
// budget; the sizes and the free RAM are reported as unknown (0).
#include "tinyxray/board_info.h"

const char* BoardName() { return "host"; }

uint32_t FirmwareFlashBytes() { return 0; }

uint32_t FirmwareRamBytes() { return 0; }

uint32_t RamFreeBytes() { return 0; }
