"""Training resumes from its checkpoints after the process is killed mid-run."""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_fixtures import write_synthetic_dataset

EPOCHS = 20


def _epochs(history: Path) -> list[int]:
    if not history.exists():
        return []
    with history.open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _train(data: Path, out: Path, cache: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "tinyxray.train", "--preset", "tiny", "--data", str(data)]
    command += ["--out", str(out), "--epochs", str(EPOCHS), "--quiet", "--no-evaluate", *extra]
    environment = {**os.environ, "TINYXRAY_CACHE": str(cache)}
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data")
    out = tmp_path / "run"
    history = out / "history.csv"

    first = _train(data, out, tmp_path / "cache")
    deadline = time.monotonic() + 240
    while not _epochs(history) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 0.5))  # anywhere in the next epochs
    first.send_signal(signal.SIGKILL)  # an abrupt stop, as a crash or a power cut
    first.wait()
    done_before = _epochs(history)
    if not done_before or done_before[-1] >= EPOCHS - 1:
        pytest.fail(f"could not interrupt the run mid-training (epochs seen: {done_before})")

    resumed = _train(data, out, tmp_path / "cache", "--resume")
    assert resumed.wait(timeout=300) == 0
    epochs = _epochs(history)
    # The resumed run continued after the last finished epoch instead of starting over
    # (a restart would log epoch 0 again), and every epoch is logged exactly once.
    assert epochs[: len(done_before)] == done_before
    assert epochs == list(range(EPOCHS))
    assert (out / "model_int8.tflite").exists()


@pytest.mark.slow
def test_refit_killed_mid_refit_keeps_the_validated_stage(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data")
    out = tmp_path / "run"
    refit_history = out / "refit_history.csv"

    first = _train(data, out, tmp_path / "cache", "--refit")
    deadline = time.monotonic() + 300
    while not _epochs(refit_history) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert _epochs(out / "history.csv") == list(range(EPOCHS)), "validated stage not finished"
    stage = json.loads((out / "checkpoints" / "validated_stage.json").read_text())

    resumed = _train(data, out, tmp_path / "cache", "--refit", "--resume")
    assert resumed.wait(timeout=300) == 0
    # The validated stage was not trained again; the refit finished every epoch once.
    assert _epochs(out / "history.csv") == list(range(EPOCHS))
    assert _epochs(refit_history) == list(range(EPOCHS))
    summary = json.loads((out / "train_summary.json").read_text())
    counts = summary["split_counts"]
    assert summary["refit"]["images"] == counts["train"] + counts["validation"]
    assert summary["temperature"] == stage["temperature"]
    assert summary["float_int8_agreement"]["n"] == counts["test"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["metrics"]["refit"]["images"] == summary["refit"]["images"]
