#include "tinyxray/commands.h"

#include <algorithm>
#include <cstring>

#include "tinyxray/image_provider.h"
#include "tinyxray/inference.h"
#include "tinyxray/info_writer.h"
#include "tinyxray/protocol.h"

namespace {

// A CHUNK payload starts with u8 command, u32 total, u32 offset.
constexpr size_t kChunkHeaderBytes = 9;
// An INFER payload starts with u16 width, u16 height, u8 format.
constexpr size_t kInferHeaderBytes = 5;

uint8_t g_request[protocol::kMaxRequest];
uint32_t g_bench_costs[protocol::kMaxBenchRuns];

bool IsCommand(uint8_t type) {
  return type == protocol::kHello || type == protocol::kInfer ||
         type == protocol::kBench || type == protocol::kCamera ||
         type == protocol::kEcho;
}

const char* FrameErrorMessage(uint8_t code) {
  switch (code) {
    case protocol::kBadFrame:
      return "invalid COBS frame or packet shorter than 8 bytes";
    case protocol::kBadCrc:
      return "CRC mismatch";
    case protocol::kBadVersion:
      return "protocol version is not 1";
    default:
      return "packet longer than max_packet";
  }
}

void WriteResult(PacketWriter* writer, uint16_t id,
                 const InferenceResult& result) {
  writer->Begin(protocol::kResult, id);
  writer->PutU8(result.label);
  writer->PutU8(result.uncertain ? 1 : 0);
  writer->PutU16(result.top_probability);
  writer->PutU32(result.preprocess_cost);
  writer->PutU32(result.infer_cost);
  writer->PutU8(result.num_scores);
  writer->Put(reinterpret_cast<const uint8_t*>(result.scores),
              result.num_scores);
  writer->End();
}

const char* InferErrorMessage(uint8_t code) {
  switch (code) {
    case protocol::kBadFrameSize:
      return "frame size not accepted";
    case protocol::kNoFrame:
      return "no frame yet: send INFER first";
    default:
      return "inference backend failed";
  }
}

}  // namespace

void CommandHandler::OnEvent(FrameReader::Event event, const uint8_t* data,
                             size_t length) {
  switch (event) {
    case FrameReader::Event::kNone:
      return;
    case FrameReader::Event::kBadFrame:
      writer_->WriteError(protocol::kUnknownRequestId, protocol::kBadFrame,
                          FrameErrorMessage(protocol::kBadFrame));
      return;
    case FrameReader::Event::kTooLarge:
      writer_->WriteError(protocol::kUnknownRequestId, protocol::kTooLarge,
                          FrameErrorMessage(protocol::kTooLarge));
      return;
    case FrameReader::Event::kFrame:
      break;
  }
  Packet packet{};
  const uint8_t status = ParsePacket(data, length, &packet);
  if (status == protocol::kBadVersion) {
    writer_->WriteError(packet.id, status, FrameErrorMessage(status));
    return;
  }
  if (status != protocol::kOk) {
    // A damaged frame does not cancel a pending CHUNK: the host may resend.
    writer_->WriteError(protocol::kUnknownRequestId, status,
                        FrameErrorMessage(status));
    return;
  }
  if (packet.type == protocol::kChunk) {
    HandleChunk(packet.id, packet.payload, packet.payload_length);
    return;
  }
  if (pending_) {
    pending_ = false;
    writer_->WriteError(packet.id, protocol::kPending,
                        "chunked request incomplete: dropped");
    return;
  }
  Dispatch(packet.type, packet.id, packet.payload, packet.payload_length);
}

void CommandHandler::Dispatch(uint8_t type, uint16_t id,
                              const uint8_t* payload, size_t length) {
  switch (type) {
    case protocol::kHello:
      return HandleHello(id, length);
    case protocol::kInfer:
      return HandleInfer(id, payload, length);
    case protocol::kBench:
      return HandleBench(id, payload, length);
    case protocol::kCamera:
      return HandleCamera(id, payload, length);
    case protocol::kEcho:
      return HandleEcho(id, payload, length);
    default:
      writer_->WriteError(id, protocol::kUnknownCommand, "unknown command");
  }
}

void CommandHandler::HandleChunk(uint16_t id, const uint8_t* payload,
                                 size_t length) {
  if (length < kChunkHeaderBytes) {
    const bool was_pending = pending_;
    pending_ = false;
    writer_->WriteError(id, was_pending ? protocol::kPending
                                        : protocol::kBadLength,
                        "CHUNK needs u8 command, u32 total, u32 offset");
    return;
  }
  const uint8_t command = payload[0];
  const uint32_t total = ReadU32(payload + 1);
  const uint32_t offset = ReadU32(payload + 5);
  const uint8_t* data = payload + kChunkHeaderBytes;
  const uint32_t data_length = static_cast<uint32_t>(length - kChunkHeaderBytes);

  if (pending_ && (command != chunk_command_ || total != chunk_total_ ||
                   offset != chunk_received_)) {
    pending_ = false;
    writer_->WriteError(id, protocol::kPending,
                        "not the next CHUNK piece: request dropped");
    return;
  }
  if (!pending_) {
    if (!IsCommand(command)) {
      writer_->WriteError(id, protocol::kBadArgument,
                          "CHUNK command is not a command");
      return;
    }
    if (total > protocol::kMaxRequest) {
      writer_->WriteError(id, protocol::kTooLarge,
                          "CHUNK total larger than max_request");
      return;
    }
    if (offset != 0) {
      writer_->WriteError(id, protocol::kBadArgument,
                          "first CHUNK piece must have offset 0");
      return;
    }
  }
  // Here offset == bytes received so far <= total.
  if (data_length > total - offset) {
    pending_ = false;
    writer_->WriteError(id, protocol::kBadArgument,
                        "CHUNK piece runs past total");
    return;
  }
  std::memcpy(g_request + offset, data, data_length);
  chunk_received_ = offset + data_length;
  if (chunk_received_ < total) {
    pending_ = true;
    chunk_command_ = command;
    chunk_total_ = total;
    return;
  }
  pending_ = false;
  Dispatch(command, id, g_request, total);
}

void CommandHandler::HandleHello(uint16_t id, size_t length) {
  if (length != 0) {
    writer_->WriteError(id, protocol::kBadLength, "HELLO takes no payload");
    return;
  }
  writer_->Begin(protocol::kInfo, id);
  WriteInfoPayload(writer_);
  writer_->End();
}

void CommandHandler::HandleInfer(uint16_t id, const uint8_t* payload,
                                 size_t length) {
  if (length < kInferHeaderBytes) {
    writer_->WriteError(id, protocol::kBadLength,
                        "INFER needs u16 width, u16 height, u8 format");
    return;
  }
  const uint16_t width = ReadU16(payload);
  const uint16_t height = ReadU16(payload + 2);
  const uint8_t format = payload[4];
  const uint8_t* pixels = payload + kInferHeaderBytes;
  const size_t pixel_bytes = length - kInferHeaderBytes;
  const bool model_size =
      width == ModelInputWidth() && height == ModelInputHeight();
  if ((format != protocol::kFormatGray8 &&
       format != protocol::kFormatModelInput) ||
      (format == protocol::kFormatModelInput && !model_size) ||
      width == 0 || height == 0 || width > protocol::kMaxFrameSide ||
      height > protocol::kMaxFrameSide) {
    writer_->WriteError(id, protocol::kBadFrameSize,
                        "format 0 up to 1024x1024, or format 1 of the "
                        "model's input size");
    return;
  }
  if (pixel_bytes != static_cast<size_t>(width) * height) {
    writer_->WriteError(id, protocol::kBadLength,
                        "pixel count differs from width*height");
    return;
  }
  InferenceResult result;
  const uint8_t status =
      format == protocol::kFormatGray8
          ? InferGray(pixels, width, height, &result)
          : InferModelInput(reinterpret_cast<const int8_t*>(pixels), &result);
  if (status != protocol::kOk) {
    writer_->WriteError(id, status, InferErrorMessage(status));
    return;
  }
  WriteResult(writer_, id, result);
}

void CommandHandler::HandleBench(uint16_t id, const uint8_t* payload,
                                 size_t length) {
  if (length != 2) {
    writer_->WriteError(id, protocol::kBadLength, "BENCH takes u16 n");
    return;
  }
  const uint16_t runs = ReadU16(payload);
  if (runs < 1 || runs > protocol::kMaxBenchRuns) {
    writer_->WriteError(id, protocol::kBadArgument, "BENCH n must be 1..1000");
    return;
  }
  for (uint16_t i = 0; i < runs; ++i) {
    const uint8_t status = InvokeLastInput(&g_bench_costs[i]);
    if (status != protocol::kOk) {
      writer_->WriteError(id, status, InferErrorMessage(status));
      return;
    }
  }
  // Sorting is fine: 1000 values at most, and no allocation.
  std::sort(g_bench_costs, g_bench_costs + runs);
  writer_->Begin(protocol::kBenchResult, id);
  writer_->PutU16(runs);
  writer_->PutU32(g_bench_costs[0]);
  writer_->PutU32(g_bench_costs[(runs - 1) / 2]);
  writer_->PutU32(g_bench_costs[runs - 1]);
  writer_->End();
}

void CommandHandler::HandleCamera(uint16_t id, const uint8_t* payload,
                                  size_t length) {
  if (length != 1) {
    writer_->WriteError(id, protocol::kBadLength, "CAMERA takes u8 flags");
    return;
  }
  RunCamera(id, (payload[0] & 1u) != 0);
}

void CommandHandler::RunCamera(uint16_t id, bool send_frame) {
  const uint8_t* pixels = nullptr;
  uint16_t width = 0;
  uint16_t height = 0;
  if (!HasCamera()) {
    writer_->WriteError(id, protocol::kUnsupported, "no camera on this board");
    return;
  }
  if (!GetImage(&pixels, &width, &height)) {
    writer_->WriteError(id, protocol::kUnsupported, "camera capture failed");
    return;
  }
  InferenceResult result;
  const uint8_t status = InferGray(pixels, width, height, &result);
  if (status != protocol::kOk) {
    writer_->WriteError(id, status, InferErrorMessage(status));
    return;
  }
  WriteResult(writer_, id, result);
  if (!send_frame) return;
  writer_->Begin(protocol::kFrame, id);
  writer_->PutU16(ModelInputWidth());
  writer_->PutU16(ModelInputHeight());
  writer_->Put(reinterpret_cast<const uint8_t*>(LastInput()),
               ModelInputBytes());
  writer_->End();
}

void CommandHandler::HandleEcho(uint16_t id, const uint8_t* payload,
                                size_t length) {
  writer_->Begin(protocol::kEchoReply, id);
  writer_->Put(payload, length);
  writer_->End();
}
