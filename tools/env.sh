# Environment shared by tools/dev.sh and .ci/run (source it; do not run it).
# host/virtual_board.py sets the same variables (see pio_environment() there)
# so PlatformIO uses this checkout's own core directory and never contacts a
# registry or an update server for the host and qemu_m4 envs.

TINYXRAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TINYXRAY_ROOT
export PLATFORMIO_CORE_DIR="$TINYXRAY_ROOT/.pio-core"
export PLATFORMIO_SETTING_ENABLE_TELEMETRY=No
export PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL=36500
export PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD=0
export PLATFORMIO_DISABLE_UPGRADE_CHECK=true
export PLATFORMIO_DISABLE_PROGRESSBAR=true
export PLATFORMIO_NO_ANSI=true
export TINYXRAY_VENV="$TINYXRAY_ROOT/.venv"
export PATH="$TINYXRAY_VENV/bin:$PATH"
