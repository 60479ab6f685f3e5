"""CI guard: compile every firmware source a real Cortex-M4 board builds, as its core does.

PlatformIO builds `nano33ble` and `nano33ble_tflm` with the Arduino mbed core and GCC 7.2.1;
neither can be installed here. This compiles the same sources with Debian's arm-none-eabi
GCC and that core's flags instead, so what would break a user's build breaks CI:

- the flags of ArduinoCore-mbed's variants/ARDUINO_NANO33BLE/{cflags,cxxflags}.txt (4.5.0, the
  version platform nordicnrf52@10.11.0 installs) as PlatformIO's builder passes them: -std=gnu11
  and -std=gnu++14, -Os, -Wall -Wextra, then -mfloat-abi=soft (its configure_fpu_flags);
- -Werror, since every file compiled is ours;
- GCC 7.2.1's arm_acle.h, which has no SIMD32 intrinsics: firmware/test/fakes/gcc7 shadows the
  compiler's header and poisons the builtins behind it;
- decoy headers with the bare names of ours first on the include path (the mbed core puts
  cordio's `crc32.h` before our libraries), so a bare include of a core header fails;
- the board files against small fakes of `Arduino.h` and TFLM (firmware/test/fakes), and the
  env's own build_flags read from platformio.ini;
- the kernels' Thumb-2 assembly (.S, through the C preprocessor as PlatformIO assembles it)
  with the same -m flags and defines, and assembler warnings as errors.

    python tools/check_core_build.py            # both envs; exit 1 on any error
    python tools/check_core_build.py --size     # also print the size of our objects
"""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
FAKES = FIRMWARE / "test" / "fakes"
CC = "arm-none-eabi-gcc"
CXX = "arm-none-eabi-g++"

# ArduinoCore-mbed 4.5.0 variants/ARDUINO_NANO33BLE: the flags common to cflags.txt and
# cxxflags.txt (less -c and the -D memory-layout defines, which our code does not read),
# then what PlatformIO's arduino-core-mbed.py adds (-nostdlib, -mfloat-abi=soft last).
CORE_FLAGS = [
    "-Os",
    "-Wall",
    "-Wextra",
    "-Wno-missing-field-initializers",
    "-Wno-unused-parameter",
    "-fdata-sections",
    "-ffunction-sections",
    "-fmessage-length=0",
    "-fno-exceptions",
    "-fomit-frame-pointer",
    "-funsigned-char",
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfpu=fpv4-sp-d16",
    "-nostdlib",
    "-mfloat-abi=soft",
]
C_FLAGS = ["-std=gnu11"]
CXX_FLAGS = ["-Wvla", "-fno-rtti", "-std=gnu++14"]
CORE_DEFINES = [
    "-DARDUINO=10810",
    "-DARDUINO_ARCH_MBED",
    "-DARDUINO_ARDUINO_NANO33BLE",  # boards/nano33ble.json extra_flags
    "-DARDUINO_ARCH_NRF52840",
    "-DTARGET_ARDUINO_NANO33BLE",
]
GUARD_FLAGS = ["-Werror", "-include", str(FAKES / "gcc7" / "gcc7_poison.h")]


@dataclasses.dataclass(frozen=True)
class Env:
    """A real-board env: its sources and extra include folders."""

    name: str
    folders: tuple[str, ...]
    includes: tuple[Path, ...]


ENVS = (
    Env(
        "nano33ble",
        (
            "lib/core",
            "lib/kernels",
            "lib/model",
            "lib/backend_aot",
            "src/boards/nano33ble",
            "src/boards/arduino_usb",
        ),
        (),
    ),
    Env(
        "nano33ble_tflm",
        (
            "lib/core",
            "lib/kernels",
            "lib/model",
            "lib/backend_tflm",
            "src/boards/nano33ble",
            "src/boards/arduino_usb",
        ),
        (FAKES / "tflm",),
    ),
)


def env_build_flags(name: str) -> list[str]:
    """The env's build_flags from platformio.ini (with `extends` followed)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "platformio.ini")
    section = f"env:{name}"
    while section in config and "build_flags" not in config[section]:
        parent = config[section].get("extends")
        if not parent:
            return []
        section = parent.strip()
    return shlex.split(config[section].get("build_flags", "")) if section in config else []


def write_decoys(folder: Path) -> None:
    """Headers with the bare names of ours that fail when included (shadowing stand-ins)."""
    for header in sorted((FIRMWARE / "lib" / "core" / "tinyxray").glob("*.h")):
        (folder / header.name).write_text(
            f'#error "bare #include \\"{header.name}\\": a framework header of that name '
            f"(e.g. cordio's crc32.h on the mbed core) comes first; include "
            f'\\"tinyxray/{header.name}\\""\n'
        )


def sources(env: Env) -> list[Path]:
    files: list[Path] = []
    for folder in env.folders:
        base = FIRMWARE / folder
        files += sorted(
            path for path in base.rglob("*") if path.suffix in (".c", ".cc", ".cpp", ".S")
        )
    return files


def compile_command(env: Env, source: Path, output: Path, decoys: Path) -> list[str]:
    is_c = source.suffix == ".c"
    include_dirs = [
        decoys,
        FAKES / "gcc7",
        FAKES / "arduino",
        *env.includes,
        FIRMWARE / "lib" / "core",
        FIRMWARE / "lib" / "model",
        FIRMWARE / "lib" / "kernels",
        source.parent,
    ]
    if source.suffix == ".S":
        return [
            CC,
            "-x",
            "assembler-with-cpp",
            *CORE_FLAGS,
            *CORE_DEFINES,
            *env_build_flags(env.name),
            "-Werror",
            "-Wa,--fatal-warnings",
            *[f"-I{folder}" for folder in include_dirs],
            "-c",
            str(source),
            "-o",
            str(output),
        ]
    return [
        CC if is_c else CXX,
        *CORE_FLAGS,
        *(C_FLAGS if is_c else CXX_FLAGS),
        *CORE_DEFINES,
        *env_build_flags(env.name),
        *GUARD_FLAGS,
        *[f"-I{folder}" for folder in include_dirs],
        "-c",
        str(source),
        "-o",
        str(output),
    ]


def check_env(env: Env, work: Path, decoys: Path, jobs: int) -> tuple[list[Path], list[str]]:
    """Compiles the env's sources; returns (objects, error reports)."""
    files = sources(env)
    out_dir = work / env.name
    out_dir.mkdir()

    def build(source: Path) -> tuple[Path, str | None]:
        output = out_dir / (source.relative_to(FIRMWARE).as_posix().replace("/", "__") + ".o")
        command = compile_command(env, source, output, decoys)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return output, f"--- {source.relative_to(ROOT)}\n{result.stderr.strip()}"
        return output, None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(build, files))
    objects = [output for output, error in results if error is None]
    errors = [error for _, error in results if error is not None]
    return objects, errors


def object_sizes(objects: list[Path], work: Path, name: str) -> tuple[int, int]:
    """(flash, static RAM) of our objects linked with the Arduino entry points as roots."""
    program = work / f"{name}.elf"
    command = [
        CXX,
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfloat-abi=soft",
        "--specs=nano.specs",
        "--specs=nosys.specs",
        "-nostartfiles",
        "-Wl,--gc-sections",
        "-Wl,-e,_Z5setupv",  # Arduino's setup() and loop(), C++ names
        "-Wl,--undefined=_Z4loopv",
        "-Wl,--unresolved-symbols=ignore-all",
        *map(str, objects),
        "-o",
        str(program),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    output = subprocess.run(
        ["arm-none-eabi-size", "-A", "-d", str(program)], check=True, capture_output=True, text=True
    ).stdout
    sections: dict[str, int] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    flash = sum(sections.get(name, 0) for name in (".text", ".rodata", ".ARM.exidx", ".data"))
    flash += sum(size for section, size in sections.items() if section.startswith(".init_array"))
    ram = sections.get(".data", 0) + sections.get(".bss", 0)
    return flash, ram


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="only these envs (default: all)")
    parser.add_argument(
        "--size", action="store_true", help="print the size of our objects (AOT env)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    for tool in (CC, CXX):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (apt gcc-arm-none-eabi)", file=sys.stderr)
            return 2
    wanted = [env for env in ENVS if not args.env or env.name in args.env]
    if not wanted:
        print(f"error: no env among {[env.name for env in ENVS]}", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="tinyxray-core-build-") as temporary:
        work = Path(temporary)
        decoys = work / "decoys"
        decoys.mkdir()
        write_decoys(decoys)
        for env in wanted:
            objects, errors = check_env(env, work, decoys, args.jobs)
            total = len(objects) + len(errors)
            for error in errors:
                print(error)
            verdict = "ok" if not errors else f"FAILED ({len(errors)} of {total} files)"
            print(f"[check_core_build] {env.name}: {total} files, {verdict}")
            if errors:
                failed += 1
            elif args.size and not env.includes:  # sizes of fakes would mean nothing
                flash, ram = object_sizes(objects, work, env.name)
                print(
                    f"[check_core_build] {env.name}: tinyxray objects (with newlib-nano, without "
                    f"the mbed core): flash {flash} B, static RAM {ram} B"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
