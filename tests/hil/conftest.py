"""Hardware-in-the-loop fixtures: the real firmware on a virtual or a real board.

By default the tests run against both virtual boards (`host`: the firmware as a
Linux process on a pseudo-terminal; `qemu`: the Cortex-M4 build under QEMU on a
TCP serial port), built with PlatformIO if needed. `--port PORT` runs them
against a real board instead (a device path, `auto`, or a pyserial URL);
`--board host|qemu` picks one virtual board. Run as `pytest tests/hil [--port ...]`.

As in pytest-embedded, a service owns the transport (VirtualBoard or a serial
port) and `dut` wraps it with request/expect helpers over a bench Link.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hil_support import CARD, SAMPLES, Dut

from tinyxray.bench import link, runner

platformio_required = pytest.mark.skipif(
    importlib.util.find_spec("platformio") is None,
    reason="PlatformIO is not installed: cannot build the virtual boards",
)
qemu_bin_required = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed"
)


def _targets(config: pytest.Config) -> list[str]:
    port = config.getoption("--port", default=None)
    if port:
        return [f"port:{port}"]
    board = config.getoption("--board", default=None)
    return [board] if board else ["host", "qemu"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        metafunc.parametrize("target", _targets(metafunc.config), scope="session")


@pytest.fixture(scope="session")
def model() -> runner.ModelFacts:
    if not CARD.is_file():
        pytest.skip(f"no exported model card at {CARD}")
    return runner.ModelFacts.load(CARD)


@pytest.fixture(scope="session")
def dut(target: str, model: runner.ModelFacts, request: pytest.FixtureRequest) -> Iterator[Dut]:
    if target.startswith("port:"):
        url = link.resolve_port(target.removeprefix("port:"))
        with link.Link(url, timeout=10.0, retries=2, reopen_timeout=30.0) as connection:
            device = Dut(target, url, None, model, connection)
            device.handshake()
            yield device
        return
    if importlib.util.find_spec("platformio") is None:
        pytest.skip("PlatformIO is not installed: cannot build the virtual boards")
    if target == "qemu" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    from tinyxray import virtual_board

    firmware_option = request.config.getoption("--firmware", default=None)
    firmware = Path(firmware_option) if firmware_option else virtual_board.build(target)
    with virtual_board.VirtualBoard(target, firmware) as board:
        connection = link.Link(board.url, timeout=20.0, retries=2, reopen_timeout=30.0)
        with connection:
            device = Dut(target, board.url, board, model, connection)
            device.handshake()
            yield device


@pytest.fixture
def fresh_dut(dut: Dut) -> Iterator[Dut]:
    """The session's dut, drained before and checked alive after the test."""
    dut.link.drain()
    yield dut
    dut.link.drain()
    dut.assert_alive()


@pytest.fixture(scope="session")
def samples(request: pytest.FixtureRequest) -> Path:
    data = request.config.getoption("--data", default=None)
    if data:
        return Path(data)
    if not (SAMPLES / "samples.csv").is_file():
        pytest.skip(f"no sample frames at {SAMPLES} (or pass --data DIR)")
    return SAMPLES


@pytest.fixture
def sample_subset(samples: Path, tmp_path: Path, model: runner.ModelFacts) -> Path:
    """The first 12 sample frames (for the slower reset/resume tests)."""
    frames = runner.list_frames(samples, model.labels)[:12]
    folder = tmp_path / "subset"
    folder.mkdir()
    lines = ["file,label"]
    for frame in frames:
        target = folder / frame.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(frame.path, target)
        lines.append(f"{frame.name},{frame.label or ''}")
    (folder / "samples.csv").write_text("\n".join(lines) + "\n")
    return folder
