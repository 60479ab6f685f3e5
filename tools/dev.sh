#!/usr/bin/env bash
# The one entry point for setting up, demonstrating and testing tinyxray.
#
#   bash tools/dev.sh setup   install what is missing (apt packages, .venv, PlatformIO core)
#   bash tools/dev.sh demo    setup, then the main job on a virtual board
#   bash tools/dev.sh test    setup, then every check: ruff, the real boards' core build,
#                             firmware unit tests, pytest
#
# setup is idempotent and takes seconds when everything is in place. It needs
# Debian/Ubuntu with Python 3.11, and root or sudo for apt-get.
set -euo pipefail

# shellcheck source=tools/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$TINYXRAY_ROOT"

APT_PACKAGES=(
  gcc g++ make
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
  qemu-system-arm
  clang libclang-rt-14-dev
)
PYTHON="${TINYXRAY_PYTHON:-python3.11}"
STAMP="$TINYXRAY_VENV/.tinyxray-installed"

log() { printf '[dev.sh] %s\n' "$*"; }
die() { printf '[dev.sh] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

setup_apt() {
  local missing=() package
  for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    missing+=(python3.11 python3.11-venv)
  elif ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    missing+=(python3.11-venv)
  fi
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt packages: all present"
    return
  fi
  log "apt packages to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

setup_venv() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set TINYXRAY_PYTHON)"
  if [ ! -x "$TINYXRAY_VENV/bin/python" ]; then
    log "creating $TINYXRAY_VENV"
    "$PYTHON" -m venv "$TINYXRAY_VENV"
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local wanted
  wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    log "python environment: up to date"
    return
  fi
  log "installing the project and its dev dependencies into $TINYXRAY_VENV"
  "$TINYXRAY_VENV/bin/python" -m pip install -q --upgrade pip
  "$TINYXRAY_VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$wanted" >"$STAMP"
}

setup_pio_core() {
  "$TINYXRAY_VENV/bin/python" tools/pio_core.py "$PLATFORMIO_CORE_DIR" >/dev/null
  log "PlatformIO core: $PLATFORMIO_CORE_DIR (tool-scons from pip's scons)"
}

cmd_setup() {
  local started=$SECONDS
  setup_apt
  setup_venv
  setup_pio_core
  log "setup done in $((SECONDS - started)) s"
}

cmd_demo() {
  cmd_setup
  # The main job: the bench against the emulated Cortex-M4 with the committed
  # model and sample frames (arguments go to the bench, e.g. --port host).
  python host/bench.py --port qemu "$@"
}

# Stage bookkeeping for `test`: every stage runs, each one's wall time is
# printed, and the run fails if any stage failed.
STAGE_REPORT=()
FAILED_STAGES=()

run_stage() {
  local name="$1"
  shift
  local started status elapsed_ms verdict
  started="$(date +%s%N)"
  log "=== stage: $name: $*"
  # The stage runs in a subshell with errexit on, so any failing command in
  # it fails the stage; the outer shell goes on to the next stage.
  set +e
  (
    set -e
    "$@"
  )
  status=$?
  set -e
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  verdict="ok"
  [ "$status" -eq 0 ] || verdict="FAILED (exit $status)"
  STAGE_REPORT+=("$(printf '%-28s %5d.%01d s  %s' "$name" $((elapsed_ms / 1000)) \
    $((elapsed_ms % 1000 / 100)) "$verdict")")
  log "stage $name: $((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100)) s, $verdict"
  if [ "$status" -ne 0 ]; then
    FAILED_STAGES+=("$name")
  fi
}

run_pytest() {
  local status=0
  python -m pytest "$@" || status=$?
  if [ "$status" -eq 5 ]; then
    log "pytest collected no tests: that is a failure"
  fi
  return "$status"
}

print_stage_report() {
  log "stage wall times:"
  local line
  for line in "${STAGE_REPORT[@]}"; do
    printf '  %s\n' "$line"
  done
}

cmd_test() {
  run_stage "setup" cmd_setup
  if [ "${#FAILED_STAGES[@]}" -ne 0 ]; then
    print_stage_report
    die "setup failed; nothing else can run"
  fi
  run_stage "ruff check" ruff check .
  run_stage "ruff format --check" ruff format --check .
  # The real Cortex-M4 boards' sources as their Arduino core compiles them
  # (gnu11/gnu++14, soft float, GCC 7's arm_acle.h): PlatformIO cannot build
  # those envs here, so this is what catches a user's build breaking.
  run_stage "core build (nano33ble envs)" python tools/check_core_build.py
  run_stage "pio run (host, qemu_m4)" pio run -e host -e qemu_m4
  # Unit-test builds get their own build folder, so they neither replace nor
  # force a rebuild of the firmware that pytest's virtual boards run.
  run_stage "pio test (host, qemu_m4)" \
    env PLATFORMIO_BUILD_DIR="$TINYXRAY_ROOT/.pio/build-test" pio test -e host -e qemu_m4
  run_stage "pytest" run_pytest "$@"
  print_stage_report
  if [ "${#FAILED_STAGES[@]}" -ne 0 ]; then
    die "failed stages: ${FAILED_STAGES[*]}"
  fi
  log "all stages passed"
}

main() {
  local command="${1:-}"
  [ $# -gt 0 ] && shift
  case "$command" in
    setup) cmd_setup "$@" ;;
    demo) cmd_demo "$@" ;;
    test) cmd_test "$@" ;;
    *)
      echo "usage: bash tools/dev.sh {setup|demo|test} [arguments]" >&2
      exit 2
      ;;
  esac
}

main "$@"
