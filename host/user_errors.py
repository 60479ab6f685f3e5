"""User mistakes end a command with one line on stderr and exit status 2, never a traceback.

A command's `main` wraps its work in `reporting_user_errors(prog)`; the errors listed in
USER_ERRORS (bad dataset roots, model cards, images, unwritable folders, UserError) and a
`SystemExit("message")` become `PROG: error: message`. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Something the user can fix: the message says what, in one line."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from tinyxray import data, model_card, preprocess

    return (
        UserError,
        data.DatasetError,
        model_card.ModelCardError,
        preprocess.ImageError,
        FileNotFoundError,
        PermissionError,
        NotADirectoryError,
    )


def one_line(error: BaseException | str) -> str:
    """The first line of an error message (library errors sometimes span many)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def fail(prog: str, error: BaseException | str) -> int:
    """Prints `PROG: error: message` and returns the exit status for a user mistake."""
    print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
    return EXIT_USER_ERROR


@contextlib.contextmanager
def reporting_user_errors(prog: str) -> Iterator[None]:
    """Turns the user errors raised inside into one line on stderr and SystemExit(2)."""
    try:
        yield
    except SystemExit as error:
        if isinstance(error.code, str):
            raise SystemExit(fail(prog, error.code)) from None
        raise
    except _user_error_types() as error:
        raise SystemExit(fail(prog, error)) from None


def check_writable_folder(path: Path, option: str = "--out") -> Path:
    """Creates `path` if needed and proves a file can be written there; else UserError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(f"{option} {path}: cannot write there ({reason})") from None
    return path
