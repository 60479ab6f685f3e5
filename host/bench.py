"""The bench, runnable from a clone: `python host/bench.py --port PORT [options]`.

A thin front for tinyxray.bench.cli (also installed as `tinyxray-bench`).
Research tool, not a diagnostic device.
"""

from __future__ import annotations

import sys
from pathlib import Path

HOST_DIR = Path(__file__).resolve().parent


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


if __name__ == "__main__":
    raise SystemExit(_import_cli().main())
