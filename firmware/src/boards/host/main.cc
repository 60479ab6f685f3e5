// Entry point of the host board: the firmware as a Linux process.
//
//   program [--link PATH] [--no-wait]
//
// Prints "serial: /dev/pts/N" on stdout once the pseudo-terminal is open; with
// --link, PATH becomes a symlink to it (replaced atomically, so a client keeps
// one path across restarts). Like QEMU's serial server with wait=on, the
// firmware then "boots" (AppSetup, which prints the banner) when the first
// client opens the port, 100 ms later so that the banner arrives after the
// input flush pyserial does on open. --no-wait boots at once. SIGTERM and
// SIGINT end it cleanly.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "tinyxray/app.h"
#include "pty_serial.h"
#include "tinyxray/serial_port.h"

namespace {

constexpr int kPollMs = 1;
constexpr useconds_t kBootDelayUs = 100000;

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

int Usage(const char* program) {
  std::fprintf(stderr, "usage: %s [--link PATH] [--no-wait]\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool wait_for_client = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
      PtySetLinkPath(argv[++i]);
    } else if (std::strcmp(argv[i], "--no-wait") == 0) {
      wait_for_client = false;
    } else {
      return Usage(argv[0]);
    }
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  SerialInit();
  if (wait_for_client) {
    while (!g_stop && !PtyClientConnected()) {
      usleep(kPollMs * 1000);
    }
    usleep(kBootDelayUs);
  }
  if (!g_stop) {
    AppSetup();
  }
  while (!g_stop) {
    AppLoop();
    PtyWaitForInput(kPollMs);
  }
  PtyClose();
  std::printf("stopped\n");
  return 0;
}
