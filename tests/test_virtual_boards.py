"""The virtual boards build offline and serve the firmware over real serial links.

These run the real toolchains and emulator: `pio run -e host|qemu_m4` with the
per-checkout PlatformIO core, the host firmware on a pseudo-terminal and the
Cortex-M4F firmware under qemu-system-arm, read with pyserial.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import serial

from tinyxray import virtual_board

BANNER_RE = re.compile(r"^tinyxray firmware \S+ board=(?P<board>\S+) protocol=1$")
EXPECTED_BOARD_NAMES = {"host": "host", "qemu": "qemu_m4"}

qemu_required = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed"
)
arm_gcc_required = pytest.mark.skipif(
    shutil.which("arm-none-eabi-g++") is None, reason="arm-none-eabi-g++ is not installed"
)
BOARD_PARAMS = [
    pytest.param("host", id="host"),
    pytest.param("qemu", id="qemu", marks=[qemu_required, arm_gcc_required]),
]


@pytest.fixture(scope="module")
def firmware() -> dict[str, Path]:
    """Builds each virtual board once per module (a no-op when up to date)."""
    built: dict[str, Path] = {}
    for board in virtual_board.BOARDS:
        if board == "qemu" and shutil.which("arm-none-eabi-g++") is None:
            continue
        built[board] = virtual_board.build(board)
    return built


@pytest.mark.parametrize("board", BOARD_PARAMS)
def test_build_produces_firmware(firmware: dict[str, Path], board: str) -> None:
    path = firmware[board]
    assert path == virtual_board.firmware_path(board)
    assert path.is_file() and path.stat().st_size > 0
    if board == "qemu":
        header = path.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == 40  # EM_ARM


@pytest.mark.parametrize("board", BOARD_PARAMS)
def test_pyserial_reads_banner(firmware: dict[str, Path], board: str) -> None:
    with virtual_board.VirtualBoard(board, firmware[board]) as running:
        assert running.alive()
        banner = virtual_board.read_banner(running.url)
    match = BANNER_RE.match(banner)
    assert match, banner
    assert match.group("board") == EXPECTED_BOARD_NAMES[board]
    assert not running.alive()


@pytest.mark.parametrize("board", BOARD_PARAMS)
def test_kill_and_restart_keep_the_url(firmware: dict[str, Path], board: str) -> None:
    with virtual_board.VirtualBoard(board, firmware[board]) as running:
        url = running.url
        assert BANNER_RE.match(virtual_board.read_banner(url))
        running.kill()
        assert not running.alive()
        running.restart()
        assert running.alive()
        assert running.url == url
        assert BANNER_RE.match(virtual_board.read_banner(url))


def test_cost_units() -> None:
    for board, unit in (("host", "ns"), ("qemu", "instructions")):
        created = virtual_board.VirtualBoard(board)
        assert created.cost_unit == unit
        created.close()


def test_unknown_board_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown virtual board"):
        virtual_board.VirtualBoard("nano33ble")
    with pytest.raises(ValueError, match="unknown virtual board"):
        virtual_board.build("esp32s3")


def test_missing_firmware_is_a_clear_error(tmp_path: Path) -> None:
    board = virtual_board.VirtualBoard("host", tmp_path / "no-such-program")
    with pytest.raises(virtual_board.VirtualBoardError, match="firmware not found"):
        board.start()
    board.close()


def test_host_board_stops_cleanly_on_sigterm(firmware: dict[str, Path], tmp_path: Path) -> None:
    link = tmp_path / "tty"
    process = subprocess.Popen(
        [str(firmware["host"]), "--link", str(link)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("serial: /dev/pts/")
        assert os.path.realpath(link) == first_line.split(": ", 1)[1].strip()
        # The port is usable before the firmware boots: opening it boots it.
        with serial.Serial(str(link), timeout=2) as port:
            data = port.read_until(b"\x00")
        assert BANNER_RE.match(data.rstrip(b"\x00").decode().rstrip("\n"))
        process.terminate()
        assert process.wait(timeout=5) == 0
        assert not link.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_host_board_rejects_bad_arguments(firmware: dict[str, Path]) -> None:
    result = subprocess.run(
        [str(firmware["host"]), "--bogus"], capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_qemu_firmware_respects_nano33ble_budget() -> None:
    """The qemu_m4 link enforces 1 MB flash / 256 KB RAM; its map shows the regions."""
    if shutil.which("arm-none-eabi-g++") is None:
        pytest.skip("arm-none-eabi-g++ is not installed")
    firmware_elf = virtual_board.build("qemu")
    memory_ld = (firmware_elf.parent / "memory.ld").read_text()
    assert "LENGTH = 1048576" in memory_ld
    assert "LENGTH = 262144" in memory_ld
    sizes = subprocess.run(
        ["arm-none-eabi-size", "-A", "-d", str(firmware_elf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    section = {
        match.group(1): (int(match.group(2)), int(match.group(3)))
        for match in re.finditer(r"^(\.\S+)\s+(\d+)\s+(\d+)", sizes, re.MULTILINE)
    }
    stack_size, stack_address = section[".stack"]
    assert stack_address + stack_size <= 0x20000000 + 262144
    assert section[".isr_vector"][1] == 0


def test_build_failure_is_reported(tmp_path: Path) -> None:
    """A broken tree gives a VirtualBoardError with the compiler's message."""
    root = tmp_path / "repo"
    shutil.copytree(
        virtual_board.REPO_ROOT,
        root,
        ignore=shutil.ignore_patterns(
            ".git", ".pio", ".pio-core", ".venv", "models", "*.egg-info", "__pycache__"
        ),
        symlinks=True,
    )
    (root / "firmware" / "src" / "boards" / "host" / "broken.cc").write_text("this is not C++\n")
    started = time.monotonic()
    with pytest.raises(virtual_board.VirtualBoardError, match=r"broken\.cc"):
        virtual_board.build("host", root)
    assert time.monotonic() - started < 300
