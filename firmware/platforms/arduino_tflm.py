"""PlatformIO pre-script of the real boards' TFLM envs (extra_scripts in platformio.ini).

TFLM's Arduino libraries define DebugLog themselves: the Nano 33 BLE's
(tflite-micro-arduino-examples) in system_setup.cpp as Serial.print, which would put text
into the protocol's binary stream; the ESP32-S3's in debug_log.cpp as vfprintf(stderr).
firmware/lib/backend_tflm defines DebugLog to send LOG packets instead, so these two files
are left out of the library build (a build middleware that returns None skips a file). The
Nano core links every library with --whole-archive: had a file been missed, the link would
fail on a duplicate DebugLog rather than pick one silently.
"""

Import("env")  # noqa: F821 - provided by PlatformIO's SCons

SKIPPED = ("*/tensorflow/lite/micro/system_setup.cpp", "*/tensorflow/lite/micro/debug_log.cpp")


def skip(node):
    """Leaves the file out of the build."""
    print(f"tinyxray: not building {node.get_path()} (backend_tflm defines DebugLog)")
    return None


for pattern in SKIPPED:
    env.AddBuildMiddleware(skip, pattern)  # noqa: F821
