"""Paths as reports print them: relative to the repository, so no machine path is committed."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def display_path(path: str | Path, root: Path = REPO_ROOT) -> str:
    """`path` relative to the repository (`../shared/datasets/x`, `models/default/m.tflite`).

    Paths inside the repository or beside it (one `..` at most, as the shared datasets are)
    are written relative to it; anything further away stays absolute.
    """
    # Lexically first: a ../shared that is a symlink still reads as ../shared.
    for absolute in (Path(os.path.abspath(path)), Path(path).resolve()):
        relative = Path(os.path.relpath(absolute, root.resolve()))
        if relative.parts[:2] != ("..", ".."):
            return relative.as_posix()
    return str(Path(path).resolve())
