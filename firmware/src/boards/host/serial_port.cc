// serial_port.h for the host board: a pseudo-terminal in raw mode. The master
// side is ours (non-blocking); a client opens the slave path (pyserial, a
// terminal) as if it were a USB serial port. SerialInit opens the slave once to
// make it raw and closes it again: the raw settings stay with the pty, and from
// then on the master reports a hang-up (POLLHUP) whenever no client has the
// slave open, which is how PtyWaitForClient() sees a client arrive.
#include "tinyxray/serial_port.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pty_serial.h"

namespace {

int g_master = -1;
std::string g_slave_path;
std::string g_link_path;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "serial: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

void PublishLink() {
  if (g_link_path.empty()) {
    return;
  }
  // Replace the link atomically: a client never sees it missing.
  const std::string temporary = g_link_path + ".tmp" + std::to_string(getpid());
  unlink(temporary.c_str());
  if (symlink(g_slave_path.c_str(), temporary.c_str()) != 0) {
    Fail("symlink");
  }
  if (rename(temporary.c_str(), g_link_path.c_str()) != 0) {
    Fail("rename");
  }
}

}  // namespace

void PtySetLinkPath(const std::string& path) { g_link_path = path; }

const char* PtySlavePath() { return g_slave_path.c_str(); }

void SerialInit() {
  if (g_master >= 0) {
    return;
  }
  g_master = posix_openpt(O_RDWR | O_NOCTTY);
  if (g_master < 0 || grantpt(g_master) != 0 || unlockpt(g_master) != 0) {
    Fail("posix_openpt");
  }
  const char* name = ptsname(g_master);
  if (name == nullptr) {
    Fail("ptsname");
  }
  g_slave_path = name;
  const int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    Fail("open slave");
  }
  termios settings{};
  if (tcgetattr(slave, &settings) != 0) {
    Fail("tcgetattr");
  }
  cfmakeraw(&settings);
  if (tcsetattr(slave, TCSANOW, &settings) != 0) {
    Fail("tcsetattr");
  }
  close(slave);
  const int flags = fcntl(g_master, F_GETFL);
  if (flags < 0 || fcntl(g_master, F_SETFL, flags | O_NONBLOCK) != 0) {
    Fail("fcntl");
  }
  PublishLink();
  std::printf("serial: %s\n", g_slave_path.c_str());
  std::fflush(stdout);
}

size_t SerialRead(uint8_t* buffer, size_t max_bytes) {
  if (g_master < 0 || max_bytes == 0) {
    return 0;
  }
  const ssize_t count = read(g_master, buffer, max_bytes);
  return count > 0 ? static_cast<size_t>(count) : 0;
}

void SerialWrite(const uint8_t* data, size_t length) {
  if (g_master < 0) {
    return;
  }
  size_t done = 0;
  while (done < length) {
    const ssize_t count = write(g_master, data + done, length - done);
    if (count > 0) {
      done += static_cast<size_t>(count);
      continue;
    }
    if (count < 0 && errno != EAGAIN && errno != EINTR) {
      return;  // The pty is gone; nothing can be delivered.
    }
    // The pty buffer is full until a client reads: wait, do not spin. With
    // no client at all (hang-up) the bytes have nowhere to go: drop them, as
    // a USB board does when no host has its port open.
    pollfd ready{g_master, POLLOUT, 0};
    poll(&ready, 1, 10);
    if (ready.revents & POLLHUP) {
      return;
    }
  }
}

bool PtyClientConnected() {
  if (g_master < 0) {
    return false;
  }
  pollfd ready{g_master, POLLIN, 0};
  poll(&ready, 1, 0);
  return (ready.revents & POLLHUP) == 0;
}

void PtyWaitForInput(int timeout_ms) {
  if (g_master < 0) {
    return;
  }
  pollfd ready{g_master, POLLIN, 0};
  poll(&ready, 1, timeout_ms);
  if (ready.revents & POLLHUP) {
    // No client: poll would return at once; sleep instead of spinning.
    usleep(static_cast<useconds_t>(timeout_ms) * 1000u);
  }
}

void PtyClose() {
  if (!g_link_path.empty()) {
    char target[256] = {};
    // Remove the link only if it still points at our pty (a restarted board
    // may already have replaced it).
    const ssize_t length = readlink(g_link_path.c_str(), target, sizeof(target) - 1);
    if (length > 0 && g_slave_path == target) {
      unlink(g_link_path.c_str());
    }
  }
  if (g_master >= 0) {
    close(g_master);
  }
  g_master = -1;
}

// The pty has flow control: a write blocks while its buffer is full.
uint32_t SerialRxWindowBytes() { return 0; }
