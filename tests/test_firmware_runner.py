"""`pio test` with firmware/test/test_custom_runner.py reports what really happened.

A scratch PlatformIO project uses the repository's dev-platforms, board support
and runner on small tests that pass, fail a check, crash, or check nothing, on
the host board and on QEMU; only the first may count as a pass.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyxray import virtual_board

ROOT = virtual_board.REPO_ROOT

TESTS = {
    "test_passes": """
void test_one() { TT_CHECK(1 + 1 == 2); TT_CHECK_EQ(BoardName()[0] != 0, true); }
int main() { TT_RUN(test_one); return TinyTestSummary(); }
""",
    "test_fails": """
void test_wrong() { TT_CHECK(1 + 1 == 2); TT_CHECK_EQ(2 + 2, 5); }
int main() { TT_RUN(test_wrong); return TinyTestSummary(); }
""",
    "test_crashes": """
#include <cstdlib>
void test_abort() { TT_CHECK(true); std::abort(); }
int main() { TT_RUN(test_abort); return TinyTestSummary(); }
""",
    "test_checks_nothing": """
int main() { return TinyTestSummary(); }
""",
}

QEMU_COMMAND = [
    "timeout",
    "60",
    "qemu-system-arm",
    "-M",
    "mps2-an386",
    "-cpu",
    "cortex-m4",
    "-icount",
    "shift=3",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-semihosting-config",
    "enable=on,target=native",
    "-kernel",
    "${platformio.build_dir}/${this.__env__}/test_firmware.elf",
]


def write_project(project: Path) -> None:
    """A project with only board support and the test runner, no app or model."""
    platforms = ROOT / "firmware" / "platforms"
    core = project / "lib" / "core"
    (core / "tinyxray").mkdir(parents=True)
    for header in ("serial_port.h", "cost_counter.h", "board_info.h", "app.h"):
        shutil.copy(
            ROOT / "firmware" / "lib" / "core" / "tinyxray" / header, core / "tinyxray" / header
        )
    # The board files need the interfaces, not the real app loop.
    (core / "app.cc").write_text(
        '#include "tinyxray/app.h"\nvoid AppSetup() {}\nvoid AppLoop() {}\n'
    )
    boards = project / "src" / "boards"
    for board in ("host", "qemu_m4"):
        shutil.copytree(
            ROOT / "firmware" / "src" / "boards" / board,
            boards / board,
            ignore=shutil.ignore_patterns("image_provider.cc"),
        )
    test_dir = project / "test"
    test_dir.mkdir()
    shutil.copy(ROOT / "firmware" / "test" / "tiny_test.h", test_dir)
    shutil.copy(ROOT / "firmware" / "test" / "test_custom_runner.py", test_dir)
    for name, body in TESTS.items():
        (test_dir / name).mkdir()
        source = '#include "tinyxray/board_info.h"\n#include "tiny_test.h"\n' + body
        (test_dir / name / "test_main.cc").write_text(source)
    qemu_lines = "\n".join(f"    {argument}" for argument in QEMU_COMMAND)
    (project / "platformio.ini").write_text(
        f"""[platformio]
src_dir = src
lib_dir = lib
test_dir = test

[env]
test_framework = custom
test_build_src = yes

[env:host]
platform = symlink://{platforms / "host"}
build_src_filter = +<boards/host/>
test_testing_command =
    timeout
    60
    ${{platformio.build_dir}}/${{this.__env__}}/test_program

[env:qemu_m4]
platform = symlink://{platforms / "qemu_m4"}
board = mps2_an386
build_src_filter = +<boards/qemu_m4/>
test_testing_command =
{qemu_lines}
"""
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Runs every scratch test on both boards; returns {(env, test): status}."""
    project = tmp_path_factory.mktemp("runner") / "project"
    write_project(project)
    envs = ["host"]
    if shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-g++"):
        envs.append("qemu_m4")
    command = [sys.executable, "-m", "platformio", "test", "-d", str(project)]
    for env in envs:
        command += ["-e", env]
    completed = subprocess.run(
        command,
        env=virtual_board.pio_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output  # Some tests must fail.
    statuses = {
        (match.group(1), match.group(2)): match.group(3)
        for match in re.finditer(
            r"^(host|qemu_m4)\s+(test_\w+)\s+(PASSED|FAILED|ERRORED|SKIPPED)", output, re.M
        )
    }
    assert statuses, output
    statuses[("output", "")] = output
    return statuses


@pytest.mark.parametrize("env", ["host", "qemu_m4"])
def test_runner_statuses(results: dict[tuple[str, str], str], env: str) -> None:
    if (env, "test_passes") not in results:
        pytest.skip(f"{env} was not run (toolchain or emulator missing)")
    output = results[("output", "")]
    assert results[(env, "test_passes")] == "PASSED", output
    assert results[(env, "test_fails")] == "FAILED", output
    assert results[(env, "test_crashes")] == "ERRORED", output
    assert results[(env, "test_checks_nothing")] == "ERRORED", output


def test_failed_check_names_file_and_line(results: dict[tuple[str, str], str]) -> None:
    output = results[("output", "")]
    assert re.search(r"FAIL \S*test_fails/test_main\.cc:\d+: 2 \+ 2 == 5", output), output
