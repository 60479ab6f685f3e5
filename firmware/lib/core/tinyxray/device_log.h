#pragma once
// Text for the host from the firmware or a library (TensorFlow Lite Micro's
// DebugLog, a backend that fails at boot). It travels as LOG packets
// (docs/protocol.md: unprompted, request id 0, one line of UTF-8 each), never
// as raw text, so it cannot corrupt the binary stream the bench reads.
//
// Text is collected per line ('\r' dropped, '\n' ends a line) and a line is
// sent once a writer is attached and no other packet is being written;
// otherwise it waits in a small buffer until DeviceLogFlush(). A line longer
// than the buffer is sent in pieces; text that arrives while the buffer is full
// and cannot be sent is dropped and counted.
#include <cstddef>
#include <cstdint>

#include "tinyxray/packet.h"

// The longest line one LOG packet carries; longer lines are split.
constexpr size_t kDeviceLogLineBytes = 120;

// Where LOG packets go (the app's writer, once the serial port is open);
// nullptr detaches.
void DeviceLogAttach(PacketWriter* writer);

// Appends text (NUL-terminated) to the log.
void DeviceLog(const char* text);

// Sends the buffered line if it is complete and the writer is free; the app
// calls it from its loop, so text logged while a packet was being written
// still leaves the device.
void DeviceLogFlush();

// Bytes dropped because the buffer was full and could not be sent.
uint32_t DeviceLogDroppedBytes();
