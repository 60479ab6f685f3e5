"""The CI guard itself (tools/check_core_build.py) rejects what GCC 7 and the mbed core would."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    shutil.which("arm-none-eabi-g++") is None, reason="arm-none-eabi-gcc not installed"
)


def _guard():
    spec = importlib.util.spec_from_file_location(
        "check_core_build", REPO / "tools" / "check_core_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_core_build"] = module
    spec.loader.exec_module(module)
    return module


GUARD = _guard()


def _compile(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / name
    source.write_text(text)
    decoys = tmp_path / "decoys"
    decoys.mkdir(exist_ok=True)
    GUARD.write_decoys(decoys)
    command = GUARD.compile_command(GUARD.ENVS[0], source, tmp_path / f"{name}.o", decoys)
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_clean_code_passes(tmp_path: Path) -> None:
    result = _compile(
        tmp_path,
        "clean.cc",
        '#include "tinyxray/crc32.h"\n#include <arm_acle.h>\n'
        "uint32_t Twice(uint32_t x) { return Crc32(nullptr, 0, x) * 2u; }\n",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "simd.c",
            "#include <arm_acle.h>\nint f(int x) { return __sxtb16(x); }\n",
            "__sxtb16",
        ),
        ("builtin.c", "int f(int x) { return __builtin_arm_smlad(x, x, 0); }\n", "poisoned"),
        ("bare.cc", '#include "crc32.h"\n', "tinyxray/crc32.h"),
        ("cxx17.cc", "inline constexpr int kValue = 1;\n", "inline variables"),
        ("warning.c", "int f(void) { int unused; return 0; }\n", "unused"),
        # An assembly file is assembled for the board's Cortex-M4 too (no Armv8 LDAEX).
        ("v8.S", ".syntax unified\n.thumb\nldaex r0, [r1]\n", "does not support"),
    ],
)
def test_what_the_boards_would_reject_fails(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    result = _compile(tmp_path, name, text)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_kernels_assembly_is_part_of_the_guard() -> None:
    names = {path.name for path in GUARD.sources(GUARD.ENVS[0])}
    assert "tx_dsp_loops.S" in names


def test_clean_assembly_passes(tmp_path: Path) -> None:
    text = (
        '.syntax unified\n.thumb\n#include "tx_dsp_config.h"\n'
        ".text\n.global f\n.thumb_func\nf:\n  smlad r0, r1, r2, r0\n  bx lr\n"
    )
    result = _compile(tmp_path, "clean.S", text)
    assert result.returncode == 0, result.stderr
