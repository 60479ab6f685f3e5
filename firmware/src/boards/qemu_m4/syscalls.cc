// newlib system calls for the qemu_m4 board: stdout/stderr go to UART0 so
// printf works, stdin is empty, and _exit ends QEMU through Arm semihosting
// (SYS_EXIT_EXTENDED carries the exit code; QEMU must run with
// -semihosting-config enable=on). newlib's own allocations (stdio buffers,
// reentrancy data) come from a small static pool; nothing on the inference
// path allocates.
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "cmsdk_uart.h"

#undef errno
extern int errno;

namespace {

// Enough for newlib-nano's stdout buffer and bookkeeping.
constexpr size_t kNewlibPoolBytes = 4096;
alignas(8) uint8_t g_newlib_pool[kNewlibPoolBytes];
size_t g_newlib_pool_used = 0;

constexpr uint32_t kSysExitExtended = 0x20;
constexpr uint32_t kAdpStoppedApplicationExit = 0x20026;

uint32_t Semihost(uint32_t operation, const void* argument) {
  register uint32_t r0 __asm("r0") = operation;
  register const void* r1 __asm("r1") = argument;
  __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

}  // namespace

extern "C" {

int _write(int file, const char* data, int length) {
  if (file != 1 && file != 2) {
    errno = EBADF;
    return -1;
  }
  cmsdk_uart::Write(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(length));
  return length;
}

int _read(int file, char* data, int length) {
  (void)file;
  (void)data;
  (void)length;
  return 0;
}

int _close(int file) {
  (void)file;
  return -1;
}

int _fstat(int file, struct stat* status) {
  (void)file;
  status->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int file) { return file >= 0 && file <= 2 ? 1 : 0; }

int _lseek(int file, int offset, int whence) {
  (void)file;
  (void)offset;
  (void)whence;
  return 0;
}

void* _sbrk(ptrdiff_t increment) {
  if (increment < 0 ||
      g_newlib_pool_used + static_cast<size_t>(increment) > kNewlibPoolBytes) {
    errno = ENOMEM;
    return reinterpret_cast<void*>(-1);
  }
  void* block = g_newlib_pool + g_newlib_pool_used;
  g_newlib_pool_used += static_cast<size_t>(increment);
  return block;
}

int _getpid(void) { return 1; }

int _kill(int pid, int signal) {
  (void)pid;
  (void)signal;
  errno = EINVAL;
  return -1;
}

__attribute__((noreturn)) void _exit(int status) {
  const uint32_t block[2] = {kAdpStoppedApplicationExit, static_cast<uint32_t>(status)};
  Semihost(kSysExitExtended, block);
  for (;;) {
    __asm volatile("wfi");
  }
}

}  // extern "C"
