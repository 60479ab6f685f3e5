"""Fuzzes the firmware's frame reader and command dispatch on the host (clang + sanitizers).

Builds firmware/fuzz/ with the portable core (firmware/lib/core) and runs the deterministic
driver over 10^6 generated inputs with AddressSanitizer and UndefinedBehaviorSanitizer; any
crash, overflow, hang or malformed reply fails the test. A short libFuzzer run checks the
libFuzzer target builds and runs too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
CORE_SOURCES = [
    "cobs.cc",
    "commands.cc",
    "crc32.cc",
    "frame_reader.cc",
    "inference.cc",
    "info_writer.cc",
    "packet.cc",
    "preprocess.cc",
]
FUZZ_INPUTS = 1_000_000
CLANG = shutil.which("clang++")

clang_required = pytest.mark.skipif(CLANG is None, reason="clang++ not installed (apt clang)")
metadata_required = pytest.mark.skipif(
    not (FIRMWARE / "lib" / "model" / "model_metadata.h").is_file(),
    reason="firmware/lib/model/model_metadata.h not generated yet (python -m tinyxray.export_c)",
)


def build(output: Path, sanitizers: str, sources: list[str]) -> None:
    command = [
        str(CLANG),
        "-std=c++17",
        "-O1",
        "-g",
        f"-fsanitize={sanitizers}",
        "-fno-sanitize-recover=all",
        "-fno-exceptions",
        "-fno-rtti",
        f"-I{FIRMWARE / 'lib' / 'core'}",
        f"-I{FIRMWARE / 'lib' / 'model'}",
        *[str(FIRMWARE / "lib" / "core" / name) for name in CORE_SOURCES],
        *[str(FIRMWARE / "fuzz" / name) for name in sources],
        "-o",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "fuzzer" in sanitizers and "libclang_rt.fuzzer" in result.stderr:
        pytest.skip("clang has no libFuzzer runtime (apt libclang-rt-dev)")
    assert result.returncode == 0, result.stderr


def sanitizer_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=0"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


@clang_required
@metadata_required
def test_deterministic_fuzz_million_inputs(tmp_path: Path) -> None:
    binary = tmp_path / "fuzz_loop"
    build(
        binary,
        "address,undefined",
        ["fuzz_support.cc", "fuzz_frame_reader.cc", "fuzz_loop.cc"],
    )
    result = subprocess.run(
        [str(binary), str(FUZZ_INPUTS)],
        capture_output=True,
        text=True,
        timeout=600,
        env=sanitizer_env(),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"fuzz_loop: (\d+) inputs, (\d+) bytes, ([\d.]+) s", result.stdout)
    assert match, result.stdout
    assert int(match.group(1)) == FUZZ_INPUTS
    # The generated inputs must reach every reply and every error the fuzz board can cause
    # (all but BACKEND_ERROR, which needs a failing backend).
    replies = dict(re.findall(r"(\w+)=(\d+)", result.stdout.split("replies:")[1].split("\n")[0]))
    assert all(int(count) > 0 for count in replies.values()), replies
    errors = dict(re.findall(r"(\d+)=(\d+)", result.stdout.split("error codes:")[1].split("\n")[0]))
    assert all(int(errors[str(code)]) > 0 for code in range(1, 12)), errors
    print(result.stdout.strip())  # reply and error counts: which paths ran


@clang_required
@metadata_required
def test_libfuzzer_target_runs(tmp_path: Path) -> None:
    binary = tmp_path / "fuzz_frame_reader"
    build(binary, "fuzzer,address,undefined", ["fuzz_support.cc", "fuzz_frame_reader.cc"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = subprocess.run(
        [str(binary), "-runs=20000", "-seed=1", "-max_len=4096", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        env=sanitizer_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done 20000 runs" in result.stderr
