"""Command line of the bench: `python host/bench.py --port PORT` or `tinyxray-bench`.

PORT is a serial device (/dev/ttyACM0, COM3), `auto` (the one supported board
found by USB id), a pyserial URL (socket://127.0.0.1:4321), or a virtual board
name (`host`, `qemu`), which the bench builds if needed, starts, restarts if it
dies (at most --max-restarts times) and stops, also on SIGTERM and SIGHUP.

`--resume DIR` continues a run: the data folder, the model and the settings come
from its run.json, and it must be the same device (board, backend, firmware,
model, cost unit). Ctrl-C prints the command that continues the run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tinyxray import arguments
from tinyxray.bench import link, runner

__all__ = ["main"]

VIRTUAL_BOARDS = ("host", "qemu")
DEFAULT_PROG = "tinyxray-bench"
# Settings kept in run.json so that a resumed run measures as the first session did.
RUN_OPTIONS: dict[str, Any] = {
    "bench_n": 20,
    "timeout": 10.0,
    "retries": 2,
    "reopen_timeout": 30.0,
    "max_restarts": 3,
}


def build_parser(prog: str = DEFAULT_PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Stream frames to a board running the tinyxray firmware and compare its answers "
            "with the host int8 model. Research tool, not a diagnostic device."
        ),
    )
    parser.add_argument(
        "--port",
        help="serial device, 'auto', a pyserial URL (socket://host:port), or 'host'/'qemu' "
        "(required, except with --resume, which takes the run's)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder of frames (samples.csv or label sub-folders); default: the sample frames, "
        "or the resumed run's",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="model card, its folder, or the .tflite with its model_card.json beside it "
        "(default: models/default, or the resumed run's)",
    )
    parser.add_argument("--out", type=Path, help="run folder (default runs/bench-<timestamp>)")
    parser.add_argument("--resume", type=Path, help="continue the run in this folder")
    parser.add_argument(
        "--bench-n",
        type=arguments.int_in_range(0, 1000),
        help=f"BENCH repetitions after the frames, 0..1000 (0: skip; {RUN_OPTIONS['bench_n']})",
    )
    parser.add_argument(
        "--timeout",
        type=arguments.positive_float,
        help=f"seconds to wait for each reply (default {RUN_OPTIONS['timeout']:g})",
    )
    parser.add_argument(
        "--retries",
        type=arguments.non_negative_int,
        help=f"resends after a timeout (default {RUN_OPTIONS['retries']})",
    )
    parser.add_argument(
        "--reopen-timeout",
        type=arguments.positive_float,
        help="seconds to wait for a vanished port to come back "
        f"(default {RUN_OPTIONS['reopen_timeout']:g})",
    )
    parser.add_argument(
        "--max-restarts",
        type=arguments.non_negative_int,
        help="restarts of a virtual board that dies mid-run "
        f"(default {RUN_OPTIONS['max_restarts']})",
    )
    parser.add_argument(
        "--max-frames", type=arguments.positive_int, help="stop after this many new frames"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def parse_args(argv: Sequence[str] | None = None, prog: str = DEFAULT_PROG) -> argparse.Namespace:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.resume is not None and args.out is not None:
        parser.error("--resume and --out are exclusive: a resumed run stays in its folder")
    if args.resume is None and args.port is None:
        parser.error("the following arguments are required: --port")
    return args


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Data folder, model, port and options: from the command line, else the resumed run's.

    A resumed run refuses a --data or --model other than its own (one line, exit 2).
    """
    chosen = {
        "data": args.data,
        "model": args.model,
        "port": args.port,
        **{name: getattr(args, name) for name in RUN_OPTIONS},
    }
    if args.resume is None:
        chosen["data"] = chosen["data"] or runner.DEFAULT_DATA_DIR
        chosen["model"] = chosen["model"] or runner.DEFAULT_MODEL_CARD
        for name, default in RUN_OPTIONS.items():
            if chosen[name] is None:
                chosen[name] = default
        return chosen
    meta = runner.read_run_meta(args.resume)
    recorded = {"data": meta.get("data_dir"), "model": meta.get("model_card")}
    for name, value in recorded.items():
        if value is None:
            continue
        given = chosen[name]
        if given is not None and _comparable(name, given) != Path(value).resolve():
            raise runner.BenchDataError(
                f"--resume {args.resume}: the run's --{name} is {value}, not {given}; "
                f"leave --{name} out to continue it, or start a new run"
            )
        chosen[name] = Path(value)
    chosen["data"] = chosen["data"] or runner.DEFAULT_DATA_DIR
    chosen["model"] = chosen["model"] or runner.DEFAULT_MODEL_CARD
    chosen["port"] = chosen["port"] or meta.get("port_spec") or meta.get("port")
    options = meta.get("options") or {}
    for name, default in RUN_OPTIONS.items():
        if chosen[name] is None:
            chosen[name] = options.get(name, default)
    return chosen


def _comparable(name: str, path: Path) -> Path:
    """A --data or --model path as run.json records it (the model as its card's path)."""
    if name == "model":
        path = path / "model_card.json" if path.is_dir() else runner.resolve_model_card(path)
    return path.resolve()


class BoardKeeper:
    """Restarts the virtual board the bench started when it dies, at most `limit` times."""

    def __init__(self, board: Any, limit: int) -> None:
        self.board = board
        self.limit = limit
        self.restarts = 0

    def __call__(self) -> str | None:
        if self.board.alive():
            return None  # Only the connection failed: reopening is enough.
        code = self.board.exit_code()
        if self.restarts >= self.limit:
            raise link.LinkError(
                f"the {self.board.board} virtual board exited (code {code}) again after "
                f"{self.restarts} restart(s), the most --max-restarts allows; its output is "
                f"in {self.board.workdir / 'board.log'} until the bench exits"
            )
        self.restarts += 1
        self.board.restart()
        note = (
            f"the {self.board.board} virtual board exited (code {code}); restarted it "
            f"({self.restarts} of at most {self.limit})"
        )
        print(f"bench: {note}", file=sys.stderr)
        return note


@contextlib.contextmanager
def open_port(port: str, max_restarts: int) -> Iterator[tuple[str, BoardKeeper | None]]:
    """Yields a pyserial URL for PORT, running a virtual board for `host`/`qemu`."""
    if port not in VIRTUAL_BOARDS:
        yield link.resolve_port(port), None
        return
    from tinyxray import virtual_board

    name = port
    print(f"building the {name} virtual board firmware (if needed) ...", file=sys.stderr)
    firmware = virtual_board.build(name)
    with virtual_board.VirtualBoard(name, firmware) as board:
        print(f"{name} virtual board on {board.url}", file=sys.stderr)
        yield board.url, BoardKeeper(board, max_restarts)


def resume_hint(prog: str, run_dir: Path, port: str) -> str:
    """The command that continues a run, as it can be typed in the current folder."""
    shown = os.path.relpath(run_dir) if run_dir.is_absolute() else str(run_dir)
    if shown.startswith(".."):
        shown = str(run_dir.resolve())
    return f"{prog} --resume {shlex.quote(shown)} --port {shlex.quote(port)}"


class _Progress:
    """What main() needs to know after an interruption: the port and the run, once made."""

    port = "?"
    bench: runner.BenchRun | None = None


def _interrupted(prog: str, progress: _Progress, what: str) -> str:
    bench = progress.bench
    if bench is None or not (bench.run_dir / runner.RUN_FILE).is_file():
        return f"\n{what}: stopped before the run started; nothing was written"
    return (
        f"\n{what}: results so far are in {bench.run_dir}; continue with: "
        f"{resume_hint(prog, bench.run_dir, progress.port)}"
    )


def main(argv: Sequence[str] | None = None, prog: str = DEFAULT_PROG) -> int:
    from tinyxray import model_card, user_errors, virtual_board

    args = parse_args(argv, prog)
    progress = _Progress()
    try:
        with virtual_board.signals_as_interrupts():
            report = _run(args, progress)
    except virtual_board.Terminated as stop:
        print(_interrupted(prog, progress, f"stopped by {stop}"), file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(_interrupted(prog, progress, "interrupted"), file=sys.stderr)
        return user_errors.EXIT_INTERRUPTED
    except (
        virtual_board.VirtualBoardError,
        link.LinkError,
        runner.HandshakeError,
        runner.BenchDataError,
        model_card.ModelCardError,
        ValueError,
        OSError,
    ) as error:
        return user_errors.fail("bench", error)
    from tinyxray.bench import report as report_module

    print(report_module.format_summary(report))
    agreement = report["agreement"]
    return 1 if agreement["mismatches"] or report["frames"]["duplicates"] else 0


def _run(args: argparse.Namespace, progress: _Progress) -> dict[str, Any]:
    chosen = settings(args)
    progress.port = chosen["port"]
    # Mistakes in --model or --data end the run before a virtual board is built or started.
    model = runner.ModelFacts.load(Path(chosen["model"]))
    runner.list_frames(Path(chosen["data"]), model.labels)
    with open_port(chosen["port"], chosen["max_restarts"]) as (url, keeper):
        config = runner.BenchConfig(
            port=url,
            data_dir=Path(chosen["data"]),
            model_card=Path(chosen["model"]),
            out_dir=args.out,
            resume=args.resume,
            bench_n=chosen["bench_n"],
            timeout=chosen["timeout"],
            retries=chosen["retries"],
            reopen_timeout=chosen["reopen_timeout"],
            max_frames=args.max_frames,
            progress=not args.no_progress,
            port_spec=chosen["port"],
            revive=keeper,
            options={name: chosen[name] for name in RUN_OPTIONS},
        )
        bench = progress.bench = runner.BenchRun(config)
        unlabelled = runner.unlabelled_folders(bench.frames)
        if unlabelled:
            listing = ", ".join(f"{folder}/ ({count})" for folder, count in unlabelled.items())
            print(
                f"bench: {sum(unlabelled.values())} frame(s) unlabelled, counted for agreement "
                f"and cost but not accuracy: no folder names one of "
                f"{', '.join(bench.model.labels)} in {listing}",
                file=sys.stderr,
            )
        return bench.run()


if __name__ == "__main__":
    raise SystemExit(main())
