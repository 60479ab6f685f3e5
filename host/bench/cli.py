"""Command line of the bench: `python host/bench.py --port PORT` or `tinyxray-bench`.

PORT is a serial device (/dev/ttyACM0, COM3), `auto` (the one supported board
found by USB id), a pyserial URL (socket://127.0.0.1:4321), or a virtual board
name (`host`, `qemu`), which the bench builds if needed, starts and stops.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tinyxray.bench import link, runner

__all__ = ["main"]

VIRTUAL_BOARDS = ("host", "qemu")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Stream frames to a board running the tinyxray firmware and compare its answers "
            "with the host int8 model. Research tool, not a diagnostic device."
        ),
    )
    parser.add_argument(
        "--port",
        required=True,
        help="serial device, 'auto', a pyserial URL (socket://host:port), or 'host'/'qemu'",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=runner.DEFAULT_DATA_DIR,
        help="folder of frames (samples.csv or label sub-folders); default: the sample frames",
    )
    parser.add_argument("--model", type=Path, default=runner.DEFAULT_MODEL_CARD, help="model card")
    parser.add_argument("--out", type=Path, help="run folder (default runs/bench-<timestamp>)")
    parser.add_argument("--resume", type=Path, help="continue the run in this folder")
    parser.add_argument(
        "--bench-n", type=int, default=20, help="BENCH repetitions after the frames (0: skip)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per reply")
    parser.add_argument("--retries", type=int, default=2, help="resends after a timeout")
    parser.add_argument(
        "--reopen-timeout", type=float, default=30.0, help="seconds to wait for a vanished port"
    )
    parser.add_argument("--max-frames", type=int, help="stop after this many new frames")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.resume is not None and args.out is not None:
        parser.error("--resume and --out are exclusive: a resumed run stays in its folder")
    if not 0 <= args.bench_n <= 1000:
        parser.error("--bench-n must be within 0..1000")
    return args


@contextlib.contextmanager
def open_port(port: str) -> Iterator[str]:
    """Yields a pyserial URL for PORT, running a virtual board for `host`/`qemu`."""
    if port not in VIRTUAL_BOARDS:
        yield link.resolve_port(port)
        return
    from tinyxray import virtual_board

    name = port
    print(f"building the {name} virtual board firmware (if needed) ...", file=sys.stderr)
    firmware = virtual_board.build(name)
    with virtual_board.VirtualBoard(name, firmware) as board:
        print(f"{name} virtual board on {board.url}", file=sys.stderr)
        yield board.url


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with open_port(args.port) as url:
            config = runner.BenchConfig(
                port=url,
                data_dir=args.data,
                model_card=args.model,
                out_dir=args.out,
                resume=args.resume,
                bench_n=args.bench_n,
                timeout=args.timeout,
                retries=args.retries,
                reopen_timeout=args.reopen_timeout,
                max_frames=args.max_frames,
                progress=not args.no_progress,
            )
            bench = runner.BenchRun(config)
            try:
                report = bench.run()
            except KeyboardInterrupt:
                print(
                    f"\ninterrupted: results so far are in {bench.run_dir}; "
                    f"continue with --resume {bench.run_dir}",
                    file=sys.stderr,
                )
                return 130
    except (
        RuntimeError,  # tinyxray.virtual_board.VirtualBoardError: build or start failed
        link.LinkError,
        runner.HandshakeError,
        runner.BenchDataError,
        ValueError,
        OSError,
    ) as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 2
    from tinyxray.bench import report as report_module

    print(report_module.format_summary(report))
    agreement = report["agreement"]
    return 1 if agreement["mismatches"] or report["frames"]["duplicates"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
