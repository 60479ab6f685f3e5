// Placeholder loop until the protocol lands: prints the boot banner.
#include "app.h"

#include <cstring>

#include "board_info.h"
#include "cost_counter.h"
#include "serial_port.h"

namespace {
void WriteText(const char* text) {
  SerialWrite(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
}
}  // namespace

void AppSetup() {
  SerialInit();
  CostCounterInit();
  WriteText("tinyxray firmware 0.1.0 board=");
  WriteText(BoardName());
  WriteText(" protocol=1\n");
  const uint8_t delimiter = 0;
  SerialWrite(&delimiter, 1);
}

void AppLoop() {}
