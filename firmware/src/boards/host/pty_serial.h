#pragma once
// Host-board extras of the pseudo-terminal serial port (serial_port.cc), used
// by the host main loop only.
#include <string>

// Where SerialInit() also publishes the pty as a symlink (empty: none).
void PtySetLinkPath(const std::string& path);

// The pty's slave path, e.g. "/dev/pts/3", once SerialInit() has run.
const char* PtySlavePath();

// True while a client has the pty's slave open.
bool PtyClientConnected();

// Waits up to timeout_ms for input, so an idle loop does not spin a core.
void PtyWaitForInput(int timeout_ms);

// Removes the symlink and closes the pty.
void PtyClose();
