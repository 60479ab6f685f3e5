#include "tinyxray/info_writer.h"

#include <cstdint>

#include "tinyxray/board_info.h"
#include "tinyxray/cost_counter.h"
#include "tinyxray/image_provider.h"
#include "tinyxray/inference.h"
#include "tinyxray/inference_backend.h"
#include "model_metadata.h"
#include "tinyxray/protocol.h"
#include "tinyxray/serial_port.h"
#include "tinyxray/version.h"

namespace {

void FormatUnsigned(uint32_t value, char* text) {
  char digits[11];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (int i = 0; i < count; ++i) text[i] = digits[count - 1 - i];
  text[count] = '\0';
}

void PutLine(PacketWriter* writer, const char* key, const char* value) {
  writer->PutText(key);
  writer->PutU8('=');
  writer->PutText(value);
  writer->PutU8('\n');
}

void PutNumber(PacketWriter* writer, const char* key, double value) {
  char text[32];
  FormatNumber(value, text);
  PutLine(writer, key, text);
}

void PutInteger(PacketWriter* writer, const char* key, long value) {
  char text[16];
  char* p = text;
  if (value < 0) {
    *p++ = '-';
    value = -value;
  }
  FormatUnsigned(static_cast<uint32_t>(value), p);
  PutLine(writer, key, text);
}

}  // namespace

void FormatNumber(double value, char* text) {
  char* out = text;
  if (value != value) {  // NaN
    out[0] = 'n', out[1] = 'a', out[2] = 'n', out[3] = '\0';
    return;
  }
  if (value < 0) {
    *out++ = '-';
    value = -value;
  }
  if (value < 1e-12 || value >= 1e9) {
    // Out of the range INFO needs: 0 for tiny values, saturate large ones.
    FormatUnsigned(value >= 1e9 ? 999999999u : 0u, out);
    return;
  }
  // Scale into [1e8, 1e9): value = scaled * 10^exponent.
  int exponent = 0;
  double scaled = value;
  while (scaled >= 1e9) scaled /= 10, ++exponent;
  while (scaled < 1e8) scaled *= 10, --exponent;
  // The fewest significant digits (6..9) that give back the same float, so a
  // float32 scale of 0.6f prints as 0.6 rather than 0.600000024.
  uint32_t digits = 0;
  for (int precision = 6; precision <= 9; ++precision) {
    uint32_t divisor = 1;
    for (int i = precision; i < 9; ++i) divisor *= 10;
    digits = static_cast<uint32_t>(scaled / divisor + 0.5) * divisor;
    double back = digits;
    for (int i = 0; i < exponent; ++i) back *= 10;
    for (int i = 0; i > exponent; --i) back /= 10;
    if (static_cast<float>(back) == static_cast<float>(value)) break;
  }
  if (digits >= 1000000000u) digits /= 10, ++exponent;
  char mantissa[11];
  FormatUnsigned(digits, mantissa);  // exactly 9 digits
  const int integer_digits = 9 + exponent;
  int n = 0;
  if (integer_digits <= 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (int i = 0; i < -integer_digits; ++i) out[n++] = '0';
    for (int i = 0; i < 9; ++i) out[n++] = mantissa[i];
  } else if (integer_digits >= 9) {
    for (int i = 0; i < 9; ++i) out[n++] = mantissa[i];
    for (int i = 9; i < integer_digits; ++i) out[n++] = '0';
  } else {
    for (int i = 0; i < integer_digits; ++i) out[n++] = mantissa[i];
    out[n++] = '.';
    for (int i = integer_digits; i < 9; ++i) out[n++] = mantissa[i];
  }
  // Drop trailing zeros after a decimal point, and the point itself.
  bool has_point = false;
  for (int i = 0; i < n; ++i) has_point = has_point || out[i] == '.';
  if (has_point) {
    while (out[n - 1] == '0') --n;
    if (out[n - 1] == '.') --n;
  }
  out[n] = '\0';
}

void WriteInfoPayload(PacketWriter* writer) {
  PutLine(writer, "board", BoardName());
  PutLine(writer, "firmware", TINYXRAY_FIRMWARE_VERSION);
  PutInteger(writer, "protocol", protocol::kVersion);
  PutLine(writer, "backend", BackendName());
  PutLine(writer, "bit_exact", BackendBitExact() ? "1" : "0");
  PutLine(writer, "model_name", model_metadata::kModelName);
  PutLine(writer, "model_sha256", model_metadata::kModelSha256);
  writer->PutText("labels=");
  for (int i = 0; i < model_metadata::kNumClasses; ++i) {
    if (i > 0) writer->PutU8(',');
    writer->PutText(model_metadata::kLabels[i]);
  }
  writer->PutU8('\n');
  char shape[40];
  char* p = shape;
  FormatUnsigned(model_metadata::kInputHeight, p);
  while (*p) ++p;
  *p++ = 'x';
  FormatUnsigned(model_metadata::kInputWidth, p);
  while (*p) ++p;
  *p++ = 'x';
  FormatUnsigned(model_metadata::kInputChannels, p);
  PutLine(writer, "input", shape);
  PutNumber(writer, "input_scale", model_metadata::kInputScale);
  PutInteger(writer, "input_zero_point", model_metadata::kInputZeroPoint);
  PutNumber(writer, "output_scale", model_metadata::kOutputScale);
  PutInteger(writer, "output_zero_point", model_metadata::kOutputZeroPoint);
  PutNumber(writer, "uncertain_threshold",
            model_metadata::kUncertainThreshold);
  PutInteger(writer, "arena_bytes",
             InferenceReady() ? static_cast<long>(BackendArenaBytes()) : 0);
  PutInteger(writer, "flash_bytes", static_cast<long>(FirmwareFlashBytes()));
  PutInteger(writer, "ram_bytes", static_cast<long>(FirmwareRamBytes()));
  PutInteger(writer, "ram_free_bytes", static_cast<long>(RamFreeBytes()));
  PutInteger(writer, "max_packet", static_cast<long>(protocol::kMaxPacket));
  PutInteger(writer, "max_request", static_cast<long>(protocol::kMaxRequest));
  PutInteger(writer, "rx_window_bytes", static_cast<long>(SerialRxWindowBytes()));
  PutLine(writer, "cost_unit", CostUnit());
  PutLine(writer, "camera", HasCamera() ? "1" : "0");
}
