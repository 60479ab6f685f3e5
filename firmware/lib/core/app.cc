// The portable firmware loop: boot banner and BOOT packet, then frames from
// the serial port through the frame reader to the command handler. With
// TINYXRAY_CAMERA_MODE the device also classifies a camera frame every
// TINYXRAY_CAMERA_PERIOD cost units and sends the RESULT unprompted (id 0),
// on boards that have a camera.
#include "tinyxray/app.h"

#include <cstring>

#include "tinyxray/board_info.h"
#include "tinyxray/commands.h"
#include "tinyxray/cost_counter.h"
#include "tinyxray/device_log.h"
#include "tinyxray/frame_reader.h"
#include "tinyxray/image_provider.h"
#include "tinyxray/inference.h"
#include "tinyxray/packet.h"
#include "tinyxray/protocol.h"
#include "tinyxray/serial_port.h"
#include "tinyxray/version.h"

#ifndef TINYXRAY_CAMERA_MODE
#define TINYXRAY_CAMERA_MODE 0
#endif
#ifndef TINYXRAY_CAMERA_PERIOD
#define TINYXRAY_CAMERA_PERIOD 1000000u  // 1 s when the unit is us
#endif

namespace {

void WriteToSerial(const uint8_t* data, size_t length, void* /*context*/) {
  SerialWrite(data, length);
}

void WriteText(const char* text) {
  SerialWrite(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
}

uint8_t g_frame[protocol::kMaxPacket];
FrameReader g_reader(g_frame, sizeof(g_frame));
PacketWriter g_writer(ByteSink{WriteToSerial, nullptr});
CommandHandler g_handler(&g_writer);
uint32_t g_last_capture = 0;

}  // namespace

void AppSetup() {
  SerialInit();
  CostCounterInit();
  WriteText("tinyxray firmware " TINYXRAY_FIRMWARE_VERSION " board=");
  WriteText(BoardName());
  WriteText(" protocol=1\n");
  const uint8_t delimiter = 0;
  SerialWrite(&delimiter, 1);
  // From here on, text from the firmware and its libraries leaves as LOG
  // packets; the backend says there why it failed, if it does.
  DeviceLogAttach(&g_writer);
  if (!InferenceInit()) {
    DeviceLog("inference backend failed to initialise: INFER replies BACKEND_ERROR\n");
  }
  g_writer.Begin(protocol::kBoot, protocol::kUnpromptedId);
  g_writer.End();
  g_last_capture = CostNow();
}

void AppLoop() {
  uint8_t bytes[64];
  const size_t count = SerialRead(bytes, sizeof(bytes));
  for (size_t i = 0; i < count; ++i) {
    const FrameReader::Event event = g_reader.Feed(bytes[i]);
    g_handler.OnEvent(event, g_reader.data(), g_reader.size());
  }
  DeviceLogFlush();
  if (TINYXRAY_CAMERA_MODE && !g_handler.chunk_pending() && HasCamera() &&
      CostNow() - g_last_capture >= TINYXRAY_CAMERA_PERIOD) {
    g_last_capture = CostNow();
    g_handler.RunCamera(protocol::kUnpromptedId, false);
  }
}
