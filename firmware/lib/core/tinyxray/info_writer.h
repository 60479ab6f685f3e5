#pragma once
// Writes the INFO payload: one key=value line per fact (docs/protocol.md).
#include "tinyxray/packet.h"

void WriteInfoPayload(PacketWriter* writer);

// Formats a float-valued number with the fewest significant digits (6..9)
// that read back as the same float, without exponent ("0.00390625", "0.6",
// "1"), into text (at least 32 bytes).
void FormatNumber(double value, char* text);
