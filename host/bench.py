"""The bench, runnable from a clone: `python host/bench.py --port PORT [options]`.

A thin front for tinyxray.bench.cli (also installed as `tinyxray-bench`).
Research tool, not a diagnostic device.
"""

from __future__ import annotations

import sys
from pathlib import Path

HOST_DIR = Path(__file__).resolve().parent
SETUP_HINT = (
    "set up the environment first: `bash tools/dev.sh setup`, then `source tools/env.sh` "
    "(or install the package: pip install -e .)"
)


def _import_cli():
    # Run as a script, Python puts host/ first on sys.path, where bench/ and the
    # other host modules would shadow top-level names; import the package instead.
    if sys.path and Path(sys.path[0] or ".").resolve() == HOST_DIR:
        sys.path.pop(0)
    try:
        import tinyxray  # noqa: F401
    except ImportError:
        # Not installed: map the package name onto host/.
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "tinyxray", HOST_DIR / "__init__.py", submodule_search_locations=[str(HOST_DIR)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["tinyxray"] = module
        spec.loader.exec_module(module)
    from tinyxray.bench import cli

    return cli


def main() -> int:
    try:
        cli = _import_cli()
    except ModuleNotFoundError as error:
        # Run outside the project's environment: pyserial, numpy, Pillow... are missing.
        print(f"bench: error: {error}; {SETUP_HINT}", file=sys.stderr)
        return 2
    return cli.main(prog=f"python {sys.argv[0]}")


if __name__ == "__main__":
    raise SystemExit(main())
