#pragma once
// A minimal unit-test harness for firmware/test: Unity cannot be downloaded
// here. Each check that fails prints its file and line; TT_MAIN's program
// ends by printing "N passed, N failed" and returns non-zero on failure. On
// qemu_m4 printf goes to UART0 and the exit code through semihosting-free
// board exit (see the board's test support).
#include <cstdio>

namespace tiny_test {
struct Counts {
  int passed = 0;
  int failed = 0;
};
inline Counts& GetCounts() {
  static Counts counts;
  return counts;
}
inline void Record(bool ok, const char* expr, const char* file, int line) {
  if (ok) {
    ++GetCounts().passed;
  } else {
    ++GetCounts().failed;
    std::printf("FAIL %s:%d: %s\n", file, line, expr);
  }
}
}  // namespace tiny_test

#define TT_CHECK(cond) ::tiny_test::Record((cond), #cond, __FILE__, __LINE__)
#define TT_CHECK_EQ(a, b) \
  ::tiny_test::Record((a) == (b), #a " == " #b, __FILE__, __LINE__)

// Runs a test function and prints its name, so a failure is easy to place.
#define TT_RUN(fn)                   \
  do {                               \
    std::printf("RUN %s\n", #fn);    \
    fn();                            \
  } while (0)

// Prints the closing line that the test runner parses.
inline int TinyTestSummary() {
  const auto& counts = ::tiny_test::GetCounts();
  std::printf("%d passed, %d failed\n", counts.passed, counts.failed);
  std::fflush(stdout);
  return counts.failed == 0 ? 0 : 1;
}
