"""Ahead-of-time compiler: an int8 .tflite -> straight-line C over tinyxray's kernels.

`python -m tinyxray.aot MODEL.tflite --out DIR [--report]`; see docs/aot.md.
"""

__all__ = ["UnsupportedModelError", "compile_model", "write_model"]

from tinyxray.aot.compiler import compile_model, write_model
from tinyxray.aot.graph import UnsupportedModelError
