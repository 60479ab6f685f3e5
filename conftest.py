"""Options shared by the whole suite.

The hardware-in-the-loop options live in this root conftest (pytest reads it
before parsing the command line), not in tests/hil/conftest.py, so
that `pytest --port ...` works from the repository root as well as
`pytest tests/hil --port ...`.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinyxray-hil", "tinyxray hardware-in-the-loop")
    group.addoption(
        "--port",
        default=None,
        help="a real board: serial device, 'auto' or pyserial URL (default: virtual boards)",
    )
    group.addoption(
        "--board",
        default=None,
        choices=("host", "qemu"),
        help="run only this virtual board (default: host and qemu)",
    )
    group.addoption(
        "--data",
        default=None,
        help="frames for the bench-run tests (default: the committed sample frames)",
    )
    group.addoption(
        "--firmware", default=None, help="a prebuilt virtual board firmware (with --board)"
    )
