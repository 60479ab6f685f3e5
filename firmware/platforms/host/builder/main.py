"""SCons build script of the tinyxray host platform (a Linux executable).

The program is linked from firmware/src (the env's build_src_filter picks
boards/host/) and firmware/lib. Unit-test builds (`pio test`) keep the board
support but leave out the board's main entry: the test brings its own main().
"""

import os
import re
import subprocess

from SCons.Script import COMMAND_LINE_TARGETS, AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()

env.Replace(
    AR="ar",
    AS="as",
    CC="gcc",
    CXX="g++",
    LINK="g++",
    RANLIB="ranlib",
    OBJCOPY="objcopy",
    SIZETOOL_HOST="size",
    PROGNAME="program",
    PROGSUFFIX="",
)

env.Append(
    CFLAGS=["-std=gnu11"],
    CXXFLAGS=["-std=gnu++17"],
    CCFLAGS=["-O2", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"],
    CPPDEFINES=["TINYXRAY_BOARD_HOST"],
    LINKFLAGS=["-Wl,--gc-sections"],
    LIBS=["m"],
)

if "__test" in COMMAND_LINE_TARGETS:
    # A unit test supplies main(); keep the board support, drop its entry. The
    # test program gets its own name so it never replaces the firmware.
    src_filter = env.get("SRC_FILTER") or ["+<*>"]
    if not isinstance(src_filter, list):
        src_filter = [src_filter]
    env.Replace(SRC_FILTER=[*src_filter, "-<boards/*/main.cc>"], PROGNAME="test_program")


def print_memory_use(target, source, env):
    """Prints the program's code and data size (`size` Berkeley format)."""
    program = str(target[0])
    output = subprocess.run(
        [env.subst("$SIZETOOL_HOST"), "-B", "-d", program],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s", output, re.MULTILINE)
    if not match:
        print(output)
        return None
    text, data, bss = (int(value) for value in match.groups())
    print(
        f"Memory use ({env['PIOENV']}): flash(text+data)={text + data} bytes, "
        f"ram(data+bss)={data + bss} bytes, {os.path.relpath(program)}"
    )
    return None


target_program = env.BuildProgram()
env.AddPostAction(target_program, env.VerboseAction(print_memory_use, "Measuring size"))

AlwaysBuild(
    env.Alias(
        "exec",
        target_program,
        env.VerboseAction("$SOURCE $PROGRAM_ARGS", "Executing $SOURCE"),
    )
)
AlwaysBuild(env.Alias("size", target_program, env.VerboseAction(print_memory_use, "")))

Default([target_program])
