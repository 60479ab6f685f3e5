#include "tinyxray/device_log.h"

#include "tinyxray/protocol.h"

namespace {

PacketWriter* g_writer = nullptr;
char g_line[kDeviceLogLineBytes];
size_t g_length = 0;
bool g_line_complete = false;  // g_line holds a whole line (or a full piece)
uint32_t g_dropped = 0;
bool g_sending = false;  // guards against logging from inside a send

bool TrySend() {
  if (g_writer == nullptr || g_writer->busy() || g_sending) return false;
  g_sending = true;
  g_writer->Begin(protocol::kLog, protocol::kUnpromptedId);
  g_writer->Put(reinterpret_cast<const uint8_t*>(g_line), g_length);
  g_writer->End();
  g_sending = false;
  g_length = 0;
  g_line_complete = false;
  return true;
}

void Append(char c) {
  if (g_line_complete && !TrySend()) {
    ++g_dropped;
    return;
  }
  if (c == '\r') return;
  if (c == '\n') {
    if (g_length == 0) return;  // an empty line carries nothing
    g_line_complete = true;
    TrySend();
    return;
  }
  g_line[g_length++] = c;
  if (g_length == sizeof(g_line)) {
    g_line_complete = true;  // a full piece of a long line
    TrySend();
  }
}

}  // namespace

void DeviceLogAttach(PacketWriter* writer) {
  g_writer = writer;
  DeviceLogFlush();
}

void DeviceLog(const char* text) {
  if (text == nullptr) return;
  for (const char* p = text; *p != '\0'; ++p) Append(*p);
}

void DeviceLogFlush() {
  if (g_line_complete) TrySend();
}

uint32_t DeviceLogDroppedBytes() { return g_dropped; }
