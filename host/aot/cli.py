"""`tinyxray aot`: the AOT compiler's command line (the same as `python -m tinyxray.aot`)."""

from __future__ import annotations

from tinyxray.aot.__main__ import main

__all__ = ["main"]
