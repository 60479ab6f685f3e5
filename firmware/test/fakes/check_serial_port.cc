// firmware/src/boards/arduino_usb/serial_port.cc and the core on the fake
// Arduino core (tests/test_board_files.py builds it once as the Nano 33 BLE's
// mbed USBCDC, once as the ESP32-S3's HWCDC with -DARDUINO_ARCH_ESP32): the
// receive window INFO advertises, and the largest request sent back to back
// as CHUNK pieces arriving whole.
//   check_serial_port            the firmware's SerialInit()
//   check_serial_port default    begin() without SerialInit's buffer (must lose bytes on HWCDC)
#include <Arduino.h>

#include <cstring>
#include <string>
#include <vector>

#include "../tiny_test.h"
#include "fake_arduino.h"
#include "log_capture.h"
#include "tinyxray/app.h"
#include "tinyxray/packet.h"
#include "tinyxray/protocol.h"
#include "tinyxray/serial_port.h"

namespace {

// The host's bytes for one INFER of a width x height frame, CHUNKed as the
// bench does (pieces of max_packet, back to back).
std::vector<uint8_t> ChunkedInfer(uint16_t width, uint16_t height) {
  std::vector<uint8_t> request = {static_cast<uint8_t>(width), static_cast<uint8_t>(width >> 8),
                                  static_cast<uint8_t>(height),
                                  static_cast<uint8_t>(height >> 8), protocol::kFormatGray8};
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i) {
    request.push_back(static_cast<uint8_t>(1 + i % 251));  // no zeros: worst-case COBS
  }
  std::vector<uint8_t> wire;
  PacketWriter writer(ByteSink{[](const uint8_t* data, size_t length, void* context) {
                                 auto* out = static_cast<std::vector<uint8_t>*>(context);
                                 out->insert(out->end(), data, data + length);
                               },
                               &wire});
  const size_t piece = protocol::kMaxPacket - protocol::kChunkOverheadBytes;
  const uint32_t total = static_cast<uint32_t>(request.size());
  for (uint32_t offset = 0; offset < total; offset += piece) {
    const uint32_t length = total - offset < piece ? total - offset : piece;
    writer.Begin(protocol::kChunk, 7);
    writer.PutU8(protocol::kInfer);
    writer.PutU32(total);
    writer.PutU32(offset);
    writer.Put(request.data() + offset, length);
    writer.End();
  }
  return wire;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(ARDUINO_ARCH_ESP32)
  const bool hwcdc = true;
#else
  const bool hwcdc = false;
#endif
  const bool firmware_init = argc < 2 || std::strcmp(argv[1], "default") != 0;
  fake_arduino::Reset(hwcdc);
  if (firmware_init) {
    AppSetup();  // SerialInit(), banner, backend, BOOT
  } else {
    Serial.begin(115200);  // what a board without SerialInit's buffer gets
  }
  fake_arduino::SerialState& serial = fake_arduino::Port();
  if (firmware_init) {
    // HWCDC: the queue is sized before begin(), which keeps it; mbed: no window.
    TT_CHECK_EQ(serial.rx_capacity_at_begin, hwcdc ? protocol::kMaxRequestWireBytes : 0u);
    TT_CHECK_EQ(SerialRxWindowBytes(), hwcdc ? protocol::kMaxRequestWireBytes : 0u);
    TT_CHECK(serial.largest_write <= 64u);  // mbed USBCDC: one USB packet per write
  }

  // The largest square frame max_request takes, sent as the bench sends it.
  uint16_t side = 1;
  while (static_cast<size_t>(side + 1) * (side + 1) + 5 <= protocol::kMaxRequest) ++side;
  const std::vector<uint8_t> wire = ChunkedInfer(side, side);
  std::printf("request: %ux%u frame, %zu bytes on the wire, window %u\n", side, side,
              wire.size(), static_cast<unsigned>(SerialRxWindowBytes()));
  TT_CHECK(wire.size() <= protocol::kMaxRequestWireBytes);
  serial.tx.clear();
  fake_arduino::HostSends(wire.data(), wire.size());
  std::printf("dropped by the receive queue: %zu bytes\n", serial.rx_dropped);
  if (!firmware_init) {
    // The protocol's largest request does not fit HWCDC's default queue.
    TT_CHECK(hwcdc ? serial.rx_dropped > 0 : serial.rx_dropped == 0);
    return TinyTestSummary();
  }
  TT_CHECK_EQ(serial.rx_dropped, 0u);
  for (int i = 0; i < 2000 && !serial.rx.empty(); ++i) AppLoop();
  TT_CHECK(serial.rx.empty());
  const auto results = log_capture::Packets(serial.tx, protocol::kResult);
  const auto errors = log_capture::Packets(serial.tx, protocol::kError);
  for (const std::string& error : errors) std::printf("ERROR reply: %s\n", error.c_str() + 1);
  TT_CHECK_EQ(results.size(), 1u);
  TT_CHECK(errors.empty());
  return TinyTestSummary();
}
