#pragma once
// Command dispatch for protocol v1: checks each decoded frame, runs HELLO,
// INFER, BENCH, CAMERA, ECHO and CHUNK, and writes exactly one reply (or
// ERROR) per request; CHUNK pieces before the last get none.
#include <cstddef>
#include <cstdint>

#include "tinyxray/frame_reader.h"
#include "tinyxray/packet.h"

class CommandHandler {
 public:
  explicit CommandHandler(PacketWriter* writer) : writer_(writer) {}

  // Handles one event of the frame reader (kFrame with its bytes, or an
  // error to report).
  void OnEvent(FrameReader::Event event, const uint8_t* data, size_t length);

  // Captures, classifies and replies with RESULT (and FRAME if send_frame);
  // also used by the stand-alone camera mode with the unprompted id.
  void RunCamera(uint16_t id, bool send_frame);

  bool chunk_pending() const { return pending_; }

 private:
  void Dispatch(uint8_t type, uint16_t id, const uint8_t* payload,
                size_t length);
  void HandleChunk(uint16_t id, const uint8_t* payload, size_t length);
  void HandleHello(uint16_t id, size_t length);
  void HandleInfer(uint16_t id, const uint8_t* payload, size_t length);
  void HandleBench(uint16_t id, const uint8_t* payload, size_t length);
  void HandleCamera(uint16_t id, const uint8_t* payload, size_t length);
  void HandleEcho(uint16_t id, const uint8_t* payload, size_t length);

  PacketWriter* writer_;
  bool pending_ = false;  // a chunked request is incomplete
  uint8_t chunk_command_ = 0;
  uint32_t chunk_total_ = 0;
  uint32_t chunk_received_ = 0;
};
