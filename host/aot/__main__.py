"""CLI: python -m tinyxray.aot MODEL.tflite --out DIR [--report [REPORT_DIR]]."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyxray.aot import compiler, report
from tinyxray.aot.graph import UnsupportedModelError


def main(argv: list[str] | None = None, prog: str = "python -m tinyxray.aot") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compile an int8 .tflite into C (model_aot.h/.c) over tinyxray's kernels.",
    )
    parser.add_argument("model", type=Path, help="int8 .tflite file")
    parser.add_argument("--out", type=Path, required=True, help="directory for model_aot.h/.c")
    parser.add_argument(
        "--report",
        nargs="?",
        const=True,
        default=None,
        help="write aot_report.json/.md (into the given directory, default --out)",
    )
    args = parser.parse_args(argv)
    try:
        compiled = compiler.compile_model(args.model)
    except (UnsupportedModelError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = compiler.write_model(compiled, args.out)
    summary = compiled.report()
    if args.report is not None:
        report_dir = args.out if args.report is True else Path(args.report)
        report_dir.mkdir(parents=True, exist_ok=True)
        summary["arm_flash"] = report.measure_arm_flash(args.out)
        paths += report.write_report(summary, report_dir)
    for path in paths:
        print(f"wrote {path}")
    print(
        f"arena {summary['arena_bytes']} B, constants {summary['const_bytes']} B,"
        f" {summary['macs']} MACs, {len(compiled.layers)} layers"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
