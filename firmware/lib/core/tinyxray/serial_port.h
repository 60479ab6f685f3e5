#pragma once
// The board's byte stream to the host (UART, USB CDC, pty or socket).
// Implemented once per board in firmware/src/boards/<board>/serial_port.cc.
#include <cstddef>
#include <cstdint>

// Opens the port. Called once from AppSetup() before any read or write.
void SerialInit();

// Returns at once with 0..max_bytes bytes received so far; never blocks.
size_t SerialRead(uint8_t* buffer, size_t max_bytes);

// Blocks until every byte is handed to the transport, splitting the write
// into pieces the transport can take (mbed USB CDC drops large writes).
void SerialWrite(const uint8_t* data, size_t length);

// The most bytes the host may send before it waits for the reply to its
// request (INFO rx_window_bytes): the receive buffer of a transport that drops
// bytes once it is full (ESP32-S3 HWCDC). 0 means no limit: the transport has
// flow control (mbed USB CDC, the emulated UART, a pty).
uint32_t SerialRxWindowBytes();
