"""HIL: the bench command with a virtual board it starts itself (`--port host|qemu`).

- a board that dies mid-run is restarted, as the reset tests restart it (VirtualBoard.restart),
  at most --max-restarts times, and the run completes with every frame once;
- SIGTERM and SIGHUP stop the bench as Ctrl-C does: the board process and its temporary
  folder are gone afterwards, and the message says how to continue.

The board is found as the bench's child process (Linux /proc), killed from outside as a
crash would kill it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "host" / "bench.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
]


@pytest.fixture
def board(target: str) -> str:
    if target.startswith("port:"):
        pytest.skip("the bench restarts only the virtual boards it starts")
    return target


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may hold spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def board_process(bench: subprocess.Popen) -> tuple[int, Path]:
    """The virtual board's pid and its temporary folder (from the log file it writes)."""
    for pid in children(bench.pid):
        log = Path(os.readlink(f"/proc/{pid}/fd/1"))
        if log.name == "board.log" and log.parent.name.startswith("tinyxray-"):
            return pid, log.parent
    raise AssertionError("the bench runs no virtual board")


def recorded(out: Path) -> list[str]:
    path = out / "results.jsonl"
    return (
        [json.loads(line)["frame"] for line in path.read_text().splitlines()]
        if path.exists()
        else []
    )


def wait_for(predicate, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start_bench(board: str, data: Path, out: Path, *options: str) -> subprocess.Popen:
    command = [sys.executable, str(BENCH), "--port", board, "--data", str(data)]
    command += ["--out", str(out), "--no-progress", "--timeout", "30", "--bench-n", "2", *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def repeated_frames(source: Path, folder: Path, copies: int) -> Path:
    """A samples.csv folder holding every frame of `source` `copies` times, under new names."""
    folder.mkdir()
    rows = (source / "samples.csv").read_text().splitlines()
    lines = [rows[0]]
    for copy in range(copies):
        for row in rows[1:]:
            name, label = row.split(",", 1)
            target = f"{copy:02d}_{Path(name).name}"
            shutil.copyfile(source / name, folder / target)
            lines.append(f"{target},{label}")
    (folder / "samples.csv").write_text("\n".join(lines) + "\n")
    return folder


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_a_dead_virtual_board_is_restarted_and_the_run_completes(
    board: str, sample_subset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    bench = start_bench(board, sample_subset, out)
    try:
        wait_for(lambda: len(recorded(out)) >= 3 or bench.poll() is not None)
        pid, _ = board_process(bench)
        os.kill(pid, signal.SIGKILL)  # a crash, not a stop
        stdout, stderr = bench.communicate(timeout=600)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 0, stderr[-3000:]
    assert f"the {board} virtual board exited (code -9); restarted it (1 of at most 3)" in stderr
    names = recorded(out)
    assert len(names) == len(set(names)) == 12
    report = json.loads((out / "report.json").read_text())
    assert report["board_restarts"] == 1 and report["frames"]["missing"] == 0
    assert "1 board restart(s)" in stdout


def test_restarts_are_bounded_and_results_stay_on_disk(
    board: str, sample_subset: Path, tmp_path: Path
) -> None:
    if board != "host":
        pytest.skip("the bound is the bench's logic; the host board shows it fastest")
    # The host board answers ~60 frames/s: with 12 frames the run (and its BENCH phase) can end
    # before the kill lands. Many copies keep the kill in the middle of the frames.
    data = repeated_frames(sample_subset, tmp_path / "many", copies=25)
    out = tmp_path / "run"
    bench = start_bench(board, data, out, "--max-restarts", "0")
    try:
        wait_for(lambda: len(recorded(out)) >= 2 or bench.poll() is not None)
        pid, _ = board_process(bench)
        os.kill(pid, signal.SIGKILL)
        _, stderr = bench.communicate(timeout=300)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 2, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("bench: error: the host virtual board exited (code -9) again after 0")
    assert "Traceback" not in stderr
    assert len(recorded(out)) >= 2  # what was gathered stays


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_the_board_and_remove_its_folder(
    board: str, sample_subset: Path, tmp_path: Path, signum: int
) -> None:
    out = tmp_path / "run"
    bench = start_bench(board, sample_subset, out)
    try:
        wait_for(lambda: len(recorded(out)) >= 2 or bench.poll() is not None)
        pid, workdir = board_process(bench)
        assert workdir.is_dir()
        bench.send_signal(signum)
        _, stderr = bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 128 + signum, stderr[-2000:]
    wait_for(lambda: gone(pid), timeout=10)
    assert not workdir.exists()
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    assert f"stopped by {name}: results so far are in {out}" in stderr
    assert f"--resume {out}" in stderr or "--resume " in stderr
