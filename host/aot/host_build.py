"""Build generated model C + kernels with the host compiler and run it through ctypes.

Used by the tests (byte-exactness against the tflite-micro interpreter) and handy for
checking a compiled model on a PC. Kernel objects can be compiled once
(`compile_kernels`) and linked into many model libraries.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinyxray.aot.report import KERNELS_DIR

HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC"]


def _compiler(cc: str | None) -> str:
    compiler = cc or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("no host C compiler (gcc/cc) found")
    return compiler


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"host build failed: {' '.join(command)}\n{result.stderr}")


def compile_kernels(out_dir: str | Path, cc: str | None = None) -> list[Path]:
    """Compile every firmware/lib/kernels/*.c to a position-independent object."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    objects = []
    for source in sorted(KERNELS_DIR.glob("*.c")):
        obj = out / f"{source.stem}.o"
        _run([_compiler(cc), *HOST_CFLAGS, f"-I{KERNELS_DIR}", "-c", str(source), "-o", str(obj)])
        objects.append(obj)
    return objects


def build_shared_library(
    model_dir: str | Path,
    output: str | Path,
    cc: str | None = None,
    debug: bool = False,
    kernel_objects: list[Path] | None = None,
) -> Path:
    """Compile model_dir/model_aot.c with the kernels (sources or prebuilt objects)."""
    model_dir, output = Path(model_dir), Path(output)
    flags = [*HOST_CFLAGS, "-DMODEL_AOT_DEBUG"] if debug else list(HOST_CFLAGS)
    inputs = [str(p) for p in (kernel_objects or sorted(KERNELS_DIR.glob("*.c")))]
    inputs.append(str(model_dir / "model_aot.c"))
    includes = [f"-I{KERNELS_DIR}", f"-I{model_dir}"]
    _run([_compiler(cc), *flags, "-shared", *includes, *inputs, "-o", str(output)])
    return output


class HostModel:
    """A compiled model loaded with ctypes: `.invoke(int8 array) -> int8 array`."""

    def __init__(self, library: str | Path, input_bytes: int, output_bytes: int) -> None:
        self._lib = ctypes.CDLL(str(Path(library).resolve()))
        self._lib.model_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._lib.model_invoke.restype = None
        self.input_bytes = input_bytes
        self.output_bytes = output_bytes

    def invoke(self, frame: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(frame, dtype=np.int8).reshape(-1)
        if data.size != self.input_bytes:
            raise ValueError(f"input has {data.size} values; the model takes {self.input_bytes}")
        out = np.zeros(self.output_bytes, dtype=np.int8)
        self._lib.model_invoke(data.ctypes.data, out.ctypes.data)
        return out
