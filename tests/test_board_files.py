"""The real boards' own files on the host, against fakes of their frameworks.

firmware/src/boards/arduino_usb/serial_port.cc (Nano 33 BLE and ESP32-S3 USB serial) and
firmware/lib/backend_tflm run on real boards only. Here they are built with g++ in the C++
dialect of those boards' cores (gnu++14) against firmware/test/fakes: a fake Arduino core
whose ESP32 Serial drops what does not fit its receive queue, as arduino-esp32's HWCDC does,
and a fake TFLM. The drivers (firmware/test/fakes/check_*.cc) print "N passed, N failed".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
FAKES = FIRMWARE / "test" / "fakes"
CXX = shutil.which("g++")
CC = shutil.which("gcc")

pytestmark = pytest.mark.skipif(CXX is None or CC is None, reason="gcc/g++ not installed")

CORE = sorted((FIRMWARE / "lib" / "core").glob("*.cc"))
INCLUDES = [
    FIRMWARE / "lib" / "core",
    FIRMWARE / "lib" / "model",
    FIRMWARE / "lib" / "kernels",
    FAKES / "arduino",
    FAKES / "tflm",
    FAKES,
]
# What the device log needs of the core (the TFLM check has no app, board or commands).
LOG_SOURCES = ("device_log.cc", "packet.cc", "cobs.cc", "crc32.cc")
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]


def build(output: Path, sources: list[Path], defines: list[str]) -> Path:
    """Compiles C sources with gcc and C++ with g++ -std=gnu++14, then links them."""
    objects = []
    flags = [*WARNINGS, "-O1", *defines, *[f"-I{folder}" for folder in INCLUDES]]
    for index, source in enumerate(sources):
        obj = output.parent / f"{output.name}-{index}.o"
        compiler = [str(CC), "-std=gnu11"] if source.suffix == ".c" else [str(CXX), "-std=gnu++14"]
        result = subprocess.run(
            [*compiler, *flags, "-c", str(source), "-o", str(obj)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{source.relative_to(REPO)}:\n{result.stderr}"
        objects.append(str(obj))
    result = subprocess.run(
        [str(CXX), *objects, "-o", str(output)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return output


def run(program: Path, *arguments: str) -> str:
    result = subprocess.run(
        [str(program), *arguments], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed, 0 failed" in result.stdout, result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def serial_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("serial")
    boards = FIRMWARE / "src" / "boards"
    common = [
        FAKES / "check_serial_port.cc",
        FAKES / "arduino" / "fake_arduino.cc",
        boards / "arduino_usb" / "serial_port.cc",
        boards / "nano33ble" / "image_provider.cc",  # no camera (the ESP32's needs one)
        FIRMWARE / "lib" / "backend_aot" / "backend_aot.cc",
        FIRMWARE / "lib" / "model" / "model_aot.c",
        *sorted((FIRMWARE / "lib" / "kernels").glob("*.c")),
        *CORE,
    ]
    # The Nano's board_info.cc reads the mbed linker script's symbols: the host's stands in.
    mbed = [*common, boards / "nano33ble" / "cost_counter.cc", boards / "host" / "board_info.cc"]
    esp32 = [*common, boards / "esp32s3" / "cost_counter.cc", boards / "esp32s3" / "board_info.cc"]
    return {
        "mbed": build(folder / "mbed", mbed, []),
        "hwcdc": build(folder / "hwcdc", esp32, ["-DARDUINO_ARCH_ESP32"]),
    }


def test_mbed_usb_serial_has_no_window_and_takes_the_largest_request(serial_programs) -> None:
    output = run(serial_programs["mbed"])
    assert "window 0" in output


def test_esp32_hwcdc_buffer_holds_the_largest_request(serial_programs) -> None:
    output = run(serial_programs["hwcdc"])
    assert "dropped by the receive queue: 0 bytes" in output


def test_esp32_hwcdc_default_buffer_would_lose_it(serial_programs) -> None:
    """Without SerialInit's setRxBufferSize the same request loses bytes: the test can fail."""
    output = run(serial_programs["hwcdc"], "default")
    dropped = int(output.split("dropped by the receive queue: ")[1].split()[0])
    assert dropped > 0


@pytest.fixture(scope="module", params=["debuglog_text", "debuglog_va_list"])
def tflm_program(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """backend_tflm on the fake TFLM, with each of the two DebugLog signatures."""
    va_list = request.param == "debuglog_va_list"
    defines = [
        f"-DTINYXRAY_TFLM_DEBUG_LOG_VA_LIST={int(va_list)}",
        f"-DTINYXRAY_TFLM_BIT_EXACT={int(not va_list)}",
        f"-DTINYXRAY_TFLM_BIT_EXACT_EXPECTED={int(not va_list)}",
        "-DTINYXRAY_TFLM_ARENA_MARGIN_EXPECTED=1024",
    ]
    sources = [
        FAKES / "check_backend_tflm.cc",
        FAKES / "tflm" / "fake_tflm.cc",
        FIRMWARE / "lib" / "backend_tflm" / "backend_tflm.cc",
        FIRMWARE / "lib" / "model" / "model_data.cc",
        *(FIRMWARE / "lib" / "core" / name for name in LOG_SOURCES),
    ]
    return build(tmp_path_factory.mktemp("tflm") / request.param, sources, defines)


@pytest.mark.parametrize("scenario", ["ok", "arena_too_small", "output_scale", "input_zero_point"])
def test_backend_tflm(tflm_program: Path, scenario: str) -> None:
    output = run(tflm_program, scenario)
    if scenario != "ok":
        assert "LOG: tflm backend:" in output
