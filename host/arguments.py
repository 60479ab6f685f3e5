"""argparse `type=` validators shared by the commands: impossible values fail at parse time.

Each returns the converted value or raises argparse.ArgumentTypeError, which argparse turns
into `usage: ...` + `PROG: error: argument --x: <reason>` and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        name = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {name}") from None


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A whole number >= minimum."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {minimum}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def int_in_range(minimum: int, maximum: int) -> Callable[[str], int]:
    """A whole number in minimum..maximum."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{value} is not within {minimum}..{maximum}")
        return value

    parse.__name__ = f"whole number in {minimum}..{maximum}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def positive_float(text: str) -> float:
    """A number > 0 (seconds, a temperature)."""
    value = float(_number(text, float))
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def probability(text: str) -> float:
    """A number in [0, 1]."""
    value = float(_number(text, float))
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in [0, 1]")
    return value


def fraction_below_one(text: str) -> float:
    """A number in [0, 1)."""
    value = float(_number(text, float))
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1)")
    return value


def fraction_up_to_one(text: str) -> float:
    """A number in (0, 1]."""
    value = float(_number(text, float))
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in (0, 1]")
    return value


def existing_dir(text: str) -> str:
    """A folder that exists (returned as given, so reports keep the user's spelling)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return text


def existing_file(text: str) -> str:
    """A file that exists (returned as given)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    return text
