"""Virtual boards: the firmware as a Linux process (host) or under QEMU (qemu).

Both speak the same serial protocol as a real board, through a real serial
transport a pyserial client opens by URL:

* ``host``: the firmware built by ``pio run -e host``; its port is a
  pseudo-terminal, published as a symlink in a private temporary folder so the
  URL stays the same when the process is killed and restarted.
* ``qemu``: the Cortex-M4F firmware built by ``pio run -e qemu_m4`` running on
  ``qemu-system-arm -M mps2-an386 -icount shift=3``; UART0 is a TCP server
  (``socket://127.0.0.1:PORT``, the same port across restarts) with wait=on, so
  the guest boots when the first client connects and no boot output is lost.

Both boot (and print the banner ``tinyxray firmware <ver> board=<b>
protocol=1\\n`` + 0x00) about 0.1 s after the first client connects, after the
input flush pyserial does on open.

Builds run PlatformIO with the same per-checkout environment as
``tools/env.sh`` (see pio_environment()), so nothing is fetched from a registry.

Command line: ``python -m tinyxray.virtual_board banner qemu`` builds a board,
starts it, prints the banner a pyserial client read, and stops it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import serial

BOARDS = ("host", "qemu")

REPO_ROOT = Path(__file__).resolve().parent.parent
PIO_ENVS = {"host": "host", "qemu": "qemu_m4"}
FIRMWARE_NAMES = {"host": "program", "qemu": "firmware.elf"}
COST_UNITS = {"host": "ns", "qemu": "instructions"}
QEMU_MACHINE_ARGS = (
    "-M",
    "mps2-an386",
    "-cpu",
    "cortex-m4",
    "-icount",
    "shift=3",
    "-nographic",
    "-monitor",
    "none",
    "-semihosting-config",
    "enable=on,target=native",
)
BANNER_PREFIX = b"tinyxray firmware "
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


class VirtualBoardError(RuntimeError):
    """A virtual board could not be built, started or reached."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; raised like Ctrl-C so every `with VirtualBoard` cleans up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise Terminated in the main thread.

    Their default action kills Python at once: no `finally`, no atexit, so a board it
    started keeps running (reparented to PID 1) and its temporary folder stays behind.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated(signum)

    caught = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, interrupt) for signum in caught}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# Boards still running when Python exits (a crashed test, a forgotten stop())
# are killed then: they run in their own session and would outlive us.
_RUNNING: set[subprocess.Popen] = set()


@atexit.register
def _kill_running_boards() -> None:
    for process in list(_RUNNING):
        if process.poll() is None:
            process.kill()
            process.wait()
    _RUNNING.clear()


def pio_environment(root: Path = REPO_ROOT) -> dict[str, str]:
    """Returns os.environ plus the variables tools/env.sh exports."""
    environment = dict(os.environ)
    environment.update(
        {
            "PLATFORMIO_CORE_DIR": str(root / ".pio-core"),
            "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
            "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "36500",
            "PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD": "0",
            "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
            "PLATFORMIO_DISABLE_PROGRESSBAR": "true",
            "PLATFORMIO_NO_ANSI": "true",
        }
    )
    return environment


def _check_board(board: str) -> None:
    if board not in BOARDS:
        raise ValueError(f"unknown virtual board {board!r}; choose one of {', '.join(BOARDS)}")


def firmware_path(board: str, root: Path = REPO_ROOT) -> Path:
    """Where `pio run` puts the board's firmware."""
    _check_board(board)
    return root / ".pio" / "build" / PIO_ENVS[board] / FIRMWARE_NAMES[board]


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Serialises builds of one checkout across processes."""
    lock_dir = root / ".pio"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(board: str, root: Path = REPO_ROOT) -> Path:
    """Builds the board's firmware with PlatformIO and returns its path."""
    _check_board(board)
    environment = pio_environment(root)
    core_dir = Path(environment["PLATFORMIO_CORE_DIR"])
    with _build_lock(root):
        if not (core_dir / "packages" / "tool-scons" / "scons.py").is_file():
            subprocess.run(
                [sys.executable, str(root / "tools" / "pio_core.py"), str(core_dir)],
                check=True,
                env=environment,
                capture_output=True,
            )
        command = [sys.executable, "-m", "platformio", "run", "-d", str(root)]
        command += ["-e", PIO_ENVS[board]]
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise VirtualBoardError(f"`pio run -e {PIO_ENVS[board]}` failed:\n{tail}")
    path = firmware_path(board, root)
    if not path.is_file():
        raise VirtualBoardError(f"the build succeeded but {path} is missing")
    return path


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_text(log_path: Path, text: str, process: subprocess.Popen, timeout: float) -> str:
    """Waits until the process log contains text; returns the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if text in log:
            return log
        if process.poll() is not None:
            raise VirtualBoardError(
                f"the board exited with code {process.returncode} before it was ready:\n{log}"
            )
        if time.monotonic() > deadline:
            raise VirtualBoardError(f"the board was not ready after {timeout:.0f} s:\n{log}")
        time.sleep(0.02)


class VirtualBoard:
    """A running virtual board; use as a context manager or start()/stop()."""

    def __init__(self, board: str, firmware: Path | None = None) -> None:
        _check_board(board)
        self.board = board
        self.firmware = Path(firmware) if firmware is not None else None
        self.cost_unit = COST_UNITS[board]
        self._workdir = Path(tempfile.mkdtemp(prefix=f"tinyxray-{board}-"))
        self._process: subprocess.Popen | None = None
        self._log_path = self._workdir / "board.log"
        if board == "host":
            self._link = self._workdir / "serial"
            self.url = str(self._link)
        else:
            self._port = _free_tcp_port()
            self.url = f"socket://127.0.0.1:{self._port}"

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _command(self) -> list[str]:
        assert self.firmware is not None
        if self.board == "host":
            return [str(self.firmware), "--link", str(self._link)]
        qemu = shutil.which("qemu-system-arm")
        if qemu is None:
            raise VirtualBoardError("qemu-system-arm is not installed (bash tools/dev.sh setup)")
        chardev = f"tcp:127.0.0.1:{self._port},server=on,wait=on,nodelay=on"
        return [qemu, *QEMU_MACHINE_ARGS, "-serial", chardev, "-kernel", str(self.firmware)]

    def start(self) -> None:
        """Starts the board and waits until its serial port can be opened."""
        if self.alive():
            return
        if self.firmware is None:
            self.firmware = build(self.board)
        if not self.firmware.is_file():
            raise VirtualBoardError(f"firmware not found: {self.firmware}")
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _RUNNING.add(self._process)
        if self.board == "host":
            _wait_for_text(self._log_path, "serial: ", self._process, START_TIMEOUT_S)
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self._link.exists():
                if time.monotonic() > deadline:
                    raise VirtualBoardError(f"{self._link} did not appear")
                time.sleep(0.01)
        else:
            _wait_for_text(self._log_path, "waiting for connection", self._process, START_TIMEOUT_S)

    def alive(self) -> bool:
        """True while the board's process runs."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stops the board cleanly (SIGTERM, then SIGKILL after a timeout)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        _RUNNING.discard(self._process)
        self._process = None

    def kill(self) -> None:
        """Kills the board abruptly, as a reset or a vanished device would."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        _RUNNING.discard(self._process)
        self._process = None

    def restart(self) -> None:
        """Kills the board if it runs and starts it again; the URL stays the same."""
        self.kill()
        self.start()

    def exit_code(self) -> int | None:
        """The exit status of a board that stopped by itself (None while it runs)."""
        return None if self._process is None else self._process.poll()

    @property
    def workdir(self) -> Path:
        """The board's temporary folder (its log, the host board's serial link)."""
        return self._workdir

    def log(self) -> str:
        """The board process's own output (not the serial port)."""
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def close(self) -> None:
        """Stops the board and removes its temporary folder."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)


def read_banner(url: str, timeout: float = 10.0) -> str:
    """Opens a pyserial URL and returns the firmware's boot banner line."""
    deadline = time.monotonic() + timeout
    received = b""
    with serial.serial_for_url(url, baudrate=115200, timeout=0.05) as port:
        while time.monotonic() < deadline:
            received += port.read(max(1, port.in_waiting))
            start = received.find(BANNER_PREFIX)
            if start >= 0 and b"\x00" in received[start:]:
                line = received[start:].split(b"\x00", 1)[0]
                return line.decode("ascii", errors="replace").rstrip("\n")
    raise VirtualBoardError(f"no banner from {url} within {timeout:.0f} s; got {received[:200]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tinyxray virtual-board", description="Build and run a virtual board."
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    build_parser = subcommands.add_parser("build", help="build a board's firmware")
    build_parser.add_argument("board", choices=BOARDS)
    banner_parser = subcommands.add_parser(
        "banner", help="start a board and print the banner a pyserial client reads"
    )
    banner_parser.add_argument("board", choices=BOARDS)
    args = parser.parse_args(argv)

    with signals_as_interrupts():
        return _run_command(args)


def _run_command(args: argparse.Namespace) -> int:
    started = time.monotonic()
    firmware = build(args.board)
    print(f"built {firmware} in {time.monotonic() - started:.1f} s")
    if args.command == "banner":
        started = time.monotonic()
        with VirtualBoard(args.board, firmware) as board:
            banner = read_banner(board.url)
            print(f"{args.board} board at {board.url} (cost unit: {board.cost_unit})")
            print(f"banner: {banner}")
        print(f"banner check took {time.monotonic() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
