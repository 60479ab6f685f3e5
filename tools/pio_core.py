"""Prepares a per-checkout PlatformIO core directory that needs no registry.

PlatformIO runs its builds with the core package ``tool-scons`` and would
download it on first use. This script installs that package from the ``scons``
distribution already installed by pip: a package folder holding
``package.json``, PlatformIO's ``.piopm`` metadata (with the exact version
requirement this PlatformIO asks for) and a ``scons.py`` shim that calls
SCons' main. Run it with the project's Python; it is idempotent.

Usage: python tools/pio_core.py CORE_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SHIM = '''"""SCons entry point for PlatformIO, served by pip's scons package."""

import sys

import SCons.Script

if __name__ == "__main__":
    sys.exit(SCons.Script.main())
'''


def scons_package_version(requirement: str) -> str:
    """Returns the lowest version that satisfies a requirement like '~4.41101.0'."""
    version = requirement.lstrip("~^=<> ")
    parts = version.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise SystemExit(f"unexpected tool-scons requirement: {requirement!r}")
    return version


def prepare(core_dir: Path) -> Path:
    """Writes core_dir/packages/tool-scons unless it is already up to date."""
    import SCons  # noqa: F401  (fails early when pip's scons is missing)
    from platformio.dependencies import get_core_dependencies

    requirement = get_core_dependencies()["tool-scons"]
    version = scons_package_version(requirement)
    package_dir = core_dir / "packages" / "tool-scons"
    manifest = {
        "name": "tool-scons",
        "version": version,
        "description": "SCons from the Python environment (pip), for offline builds",
    }
    metadata = {
        "type": "tool",
        "name": "tool-scons",
        "version": version,
        "spec": {
            "owner": "platformio",
            "id": None,
            "name": "tool-scons",
            "requirements": requirement,
            "uri": None,
        },
    }
    files = {
        "package.json": json.dumps(manifest, indent=2) + "\n",
        ".piopm": json.dumps(metadata) + "\n",
        "scons.py": SHIM,
    }
    package_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = package_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return package_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("core_dir", type=Path)
    args = parser.parse_args(argv)
    package_dir = prepare(args.core_dir.resolve())
    print(f"tool-scons ready: {package_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
