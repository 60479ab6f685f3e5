"""HIL: full bench runs through the real firmware: accuracy, agreement, resets, resume."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hil_support import CARD, Dut

from tinyxray.bench import runner


def bench_config(url: str, data: Path, out: Path | None, **options: Any) -> runner.BenchConfig:
    settings: dict[str, Any] = {"bench_n": 5, "timeout": 20.0, "progress": False}
    settings.update(options)
    return runner.BenchConfig(port=url, data_dir=data, model_card=CARD, out_dir=out, **settings)


def recorded_frames(run_dir: Path) -> list[str]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    return [json.loads(line)["frame"] for line in lines]


@pytest.mark.slow
def test_sample_run_matches_the_host_int8_model(dut: Dut, samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with dut.released() as url:
        report = runner.BenchRun(bench_config(url, samples, out)).run()
    frames = report["frames"]
    assert frames["missing"] == 0 and frames["duplicates"] == []
    accuracy = report["accuracy"]
    # On-device accuracy equals the host int8 accuracy on the sample frames.
    assert accuracy["device"]["correct"] == accuracy["host_int8"]["correct"]
    assert accuracy["device"]["n"] == frames["labelled"] > 0
    agreement = report["agreement"]
    assert agreement["top1_agree"] == agreement["n"]
    if agreement["backend"] == "aot":
        # AOT is bit-exact: every score byte-identical to the TFLM reference kernels.
        assert agreement["scores_identical"] == agreement["n"], agreement["mismatches"]
    assert report["cost"]["bench"]["n"] == 5
    assert report["link"]["overhead_fraction_per_frame"] <= 0.01
    for name in ("report.json", "report.md", "confusion.png", "latency.png"):
        assert (out / name).is_file()
    print(f"\n[{dut.target}] " + json.dumps(report["link"], default=str)[:600])


@pytest.mark.slow
def test_reset_mid_run_loses_and_duplicates_nothing(
    dut: Dut, sample_subset: Path, tmp_path: Path
) -> None:
    if not dut.virtual:
        pytest.skip("the tests reset only virtual boards")
    board = dut.board
    out = tmp_path / "run"
    restarted = threading.Event()

    def reset_after_four(record: dict[str, Any]) -> None:
        # Kill the board abruptly after the 4th result (as a reset or a pulled cable
        # would), and bring it back a moment later, while the bench keeps going.
        if record["index"] == 3 and not restarted.is_set():
            board.kill()  # type: ignore[union-attr]
            threading.Timer(0.5, lambda: (board.start(), restarted.set())).start()  # type: ignore[union-attr]

    with dut.released() as url:
        report = runner.BenchRun(
            bench_config(url, sample_subset, out, reopen_timeout=60.0),
            on_result=reset_after_four,
        ).run()
    assert restarted.is_set()
    names = recorded_frames(out)
    assert len(names) == len(set(names)) == 12
    assert report["resets"] >= 1
    assert report["frames"]["missing"] == 0 and report["frames"]["duplicates"] == []


@pytest.mark.slow
def test_interrupted_run_resumes_where_it_stopped(
    dut: Dut, sample_subset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with dut.released() as url:
        runner.BenchRun(bench_config(url, sample_subset, out, max_frames=5)).run()
        first = recorded_frames(out)
        assert len(first) == 5
        report = runner.BenchRun(bench_config(url, sample_subset, None, resume=out)).run()
    names = recorded_frames(out)
    assert names[:5] == first
    assert len(names) == len(set(names)) == 12
    assert report["sessions"] == 2


@pytest.mark.slow
def test_bench_script_end_to_end(dut: Dut, sample_subset: Path, tmp_path: Path) -> None:
    """`python host/bench.py --port URL` as a user runs it: exit 0, summary, report files."""
    out = tmp_path / "run"
    script = Path(__file__).resolve().parents[2] / "host" / "bench.py"
    command = [sys.executable, str(script), "--data", str(sample_subset), "--out", str(out)]
    command += ["--bench-n", "2", "--no-progress", "--timeout", "30"]
    with dut.released() as url:
        result = subprocess.run(
            [*command, "--port", url], capture_output=True, text=True, timeout=600, check=False
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Research tool, not a diagnostic device." in result.stdout
    assert "12/12 done, 0 skipped, 0 missing, 0 duplicated" in result.stdout
    assert json.loads((out / "report.json").read_text())["frames"]["done"] == 12
