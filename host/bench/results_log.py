"""Append-only, crash-safe JSONL logs of a bench run.

Every record is written as one line, flushed and fsync'ed before the bench moves
on, so an interrupted run loses nothing. On resume a torn last line (the process
died mid-write) is cut off, and the frames already recorded are skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["JsonlLog", "read_records"]


class JsonlLog:
    """One JSONL file opened for appending; `records` holds every complete line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self.torn_bytes = 0
        self._load()
        self._file = path.open("ab")

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # A line cut short by a crash: drop it so the next append starts clean.
            self.torn_bytes = len(data) - end
            with self.path.open("r+b") as handle:
                handle.truncate(end)
        for number, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                self.records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.path}:{number} is not JSON: {error}") from error

    def append(self, record: dict[str, Any]) -> None:
        """Writes one record durably (flush + fsync) and keeps it in `records`."""
        line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
        self._file.write(line.encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.append(record)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of a log (a torn last line is ignored), without opening it."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        if line.strip():
            records.append(json.loads(line))
    return records
