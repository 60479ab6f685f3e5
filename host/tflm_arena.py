"""The TFLM tensor arena per target: measured on this host, derived for 32-bit MCUs.

TFLM's arena holds the activations (the "head", planned by its memory planner, the same
bytes on every target with the same kernels) and its own bookkeeping (the "tail": one
TfLiteEvalTensor per tensor, one NodeAndRegistration per operator, kernel data). The tail's
structs hold pointers, so the arena a 64-bit host measures is larger than the one a Cortex-M4
(or the ESP32-S3's Xtensa core, also 32-bit) needs.

- `x86_64`: measured here, the smallest arena that lets the tflite-micro interpreter allocate
  and invoke the model (`tflm_oracle.minimal_arena_bytes`).
- `cortex_m4`: the x86-64 figure less what those two pointer-sized structs save with 4-byte
  pointers (TfLiteEvalTensor 24 -> 12 bytes, NodeAndRegistration 64 -> 32 bytes), counted by
  TFLM's RecordingMicroAllocator (`print_allocations`). Everything else is kept at its 64-bit
  size, so the figure is an upper bound for TFLM's reference kernels on a 32-bit target; a
  kernel library's scratch (CMSIS-NN, ESP-NN) comes on top, which the firmware's arena margin
  covers. Checked against upstream TFLM built for the emulated Cortex-M4 (docs/boards.md).

    python -m tinyxray.tflm_arena models/default            # print the figures
    python -m tinyxray.tflm_arena models/default --record   # and write them into the card
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tinyxray import model_card, tflm_oracle

# sizeof on a 64-bit host -> sizeof with 32-bit pointers (TFLM's micro structs).
POINTER_STRUCTS = {
    "TfLiteEvalTensor data": (24, 12),
    "NodeAndRegistration struct": (64, 32),
}
TARGETS = ("x86_64", "cortex_m4")
_LINE = re.compile(
    r"'(?P<name>[^']+)' used (?P<used>\d+) bytes with alignment overhead "
    r"\(requested (?P<requested>\d+) bytes for (?P<count>\d+) "
)
_TOTAL = re.compile(r"Arena allocation (?P<part>total|head|tail) (?P<bytes>\d+) bytes")


def _captured_stderr(action: Callable[[], None]) -> str:
    """Runs `action()` and returns what C code printed on file descriptor 2 (TFLM's DebugLog)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            action()
        finally:
            ctypes.CDLL(None).fflush(None)  # C stdio buffers, before fd 2 goes back
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode("utf-8", errors="replace")


def allocation_breakdown(flatbuffer: bytes, arena_bytes: int) -> dict[str, dict[str, int]]:
    """TFLM's RecordingMicroAllocator figures after one invoke: {name: {used, count}}."""

    def run() -> None:
        model = tflm_oracle.Int8Model(flatbuffer, arena_bytes)
        details = model.input_details
        model.invoke(np.zeros(details["shape"], dtype=details["dtype"]))
        model._interpreter.print_allocations()  # the runtime reports only by printing

    text = _captured_stderr(run)
    breakdown: dict[str, dict[str, int]] = {}
    for match in _TOTAL.finditer(text):
        breakdown[f"arena {match['part']}"] = {"used": int(match["bytes"]), "count": 1}
    for match in _LINE.finditer(text):
        breakdown[match["name"]] = {"used": int(match["used"]), "count": int(match["count"])}
    missing = [name for name in POINTER_STRUCTS if name not in breakdown]
    if missing or "arena total" not in breakdown:
        raise RuntimeError(f"tflite-micro's allocation report lacks {missing or 'the total'}")
    return breakdown


def arena_by_target(flatbuffer: bytes) -> dict[str, int]:
    """{"x86_64": measured bytes, "cortex_m4": 32-bit upper bound}; see the module doc."""
    measured = tflm_oracle.minimal_arena_bytes(flatbuffer)
    breakdown = allocation_breakdown(flatbuffer, measured)
    saving = 0
    for name, (size_64, size_32) in POINTER_STRUCTS.items():
        entry = breakdown[name]
        if entry["used"] != entry["count"] * size_64:
            raise RuntimeError(
                f"{name}: {entry['used']} bytes for {entry['count']}, not {size_64} each; "
                "this tflite-micro's structs differ from the ones this estimate knows"
            )
        saving += entry["count"] * (size_64 - size_32)
    estimate = measured - saving
    estimate += -estimate % tflm_oracle.ARENA_ALIGNMENT
    return {"x86_64": measured, "cortex_m4": estimate}


def record(card_path: str | Path) -> dict[str, int]:
    """Measures the card's model and writes tflm_arena_bytes (x86-64) and the per-target map."""
    card = model_card.load(card_path)
    card.verify_file()
    figures = arena_by_target(card.tflite_path.read_bytes())
    card.tflm_arena_bytes = figures["x86_64"]
    card.tflm_arena_bytes_by_target = figures
    model_card.save(card, card.path)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", help="model card or its folder")
    parser.add_argument("--record", action="store_true", help="write the figures into the card")
    args = parser.parse_args(argv)
    try:
        if args.record:
            figures = record(args.card)
        else:
            card = model_card.load(args.card)
            card.verify_file()
            figures = arena_by_target(card.tflite_path.read_bytes())
    except model_card.ModelCardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
