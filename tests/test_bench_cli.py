"""The bench as a user meets it (issue 13): bad files, resume, arguments, messages, imports.

The device is the in-process fake of bench_fake_device.py (it answers INFER with the host
int8 model); the bench runs as a user runs it, `python host/bench.py ...` in a subprocess,
wherever the behaviour is about the command line. Restarts and signals against the real
firmware on the virtual boards are in tests/hil/test_bench_cli_hil.py.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bench_fake_device import FakeDevice, default_info
from PIL import Image

from tinyxray.bench import cli, report, runner

REPO = Path(__file__).resolve().parents[1]
CARD = REPO / "models" / "default" / "model_card.json"
BENCH = REPO / "host" / "bench.py"

pytestmark = pytest.mark.skipif(not CARD.is_file(), reason=f"no default model card at {CARD}")


@pytest.fixture(scope="module")
def pipeline() -> runner.HostPipeline:
    return runner.HostPipeline(runner.ModelFacts.load(CARD))


def fake_device(pipeline: runner.HostPipeline, delay: float = 0.0, **info: str) -> FakeDevice:
    """A fake that answers as bit-exact firmware would, `delay` seconds per INFER."""
    model = pipeline.model

    def infer(width: int, height: int, fmt: int, pixels: bytes) -> tuple[int, bool, tuple]:
        time.sleep(delay)
        frame = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width)
        blurred = pipeline._preprocess.preprocess_array(frame, pipeline.model_config)
        quantised = pipeline._preprocess.to_int8(blurred, model.input_scale, model.input_zero_point)
        scores = pipeline.oracle.invoke(quantised.reshape(model.input_shape))
        return int(np.argmax(scores)), False, tuple(int(s) for s in scores)

    return FakeDevice(info=default_info(**{"model_sha256": model.sha256, **info}), infer=infer)


def write_frames(root: Path, layout: dict[str, int], suffix: str = ".png") -> Path:
    """Synthetic frames (logic only, not X-rays): layout maps a folder to a frame count."""
    generator = np.random.default_rng(5)
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = generator.integers(0, 256, size=(90 + index, 100), dtype=np.uint8)
            Image.fromarray(pixels, mode="L").save(root / folder / f"f{index}{suffix}")
    return root


def bench(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python host/bench.py ARGS` from the repository root, as a user types it."""
    return subprocess.run(
        [sys.executable, str(BENCH.relative_to(REPO)), "--no-progress", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def records(run_dir: Path, name: str = "results.jsonl") -> list[dict]:
    path = run_dir / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- 1. one unreadable image ---------------------------------------------------------


def corrupt_jpeg(path: Path) -> Path:
    """A JPEG whose header decodes and whose image data is cut short."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(1).integers(0, 256, size=(200, 200), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path, format="JPEG")
    path.write_bytes(path.read_bytes()[:400])
    return path


def test_unreadable_image_is_skipped_with_its_reason(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    data = write_frames(tmp_path / "data", {"Covid": 2, "Normal": 2})
    corrupt_jpeg(data / "Covid" / "corrupt.jpg")
    out = tmp_path / "run"
    with fake_device(pipeline) as device:
        result = bench("--port", device.url, "--data", str(data), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "4/5 done, 1 skipped" in result.stdout
        assert "Covid/corrupt.jpg: corrupt or truncated image data" in result.stdout
        assert len(records(out)) == 4
        saved = json.loads((out / "report.json").read_text())["frames"]
        assert saved["skipped"] == 1 and saved["missing"] == 0
        assert saved["skipped_files"][0]["frame"] == "Covid/corrupt.jpg"
        assert "## Skipped files (1)" in (out / "report.md").read_text()

        # Resume does not stop at the same file either: the run is complete, BENCH runs.
        resumed = bench("--resume", str(out), "--port", device.url)
        assert resumed.returncode == 0, resumed.stderr
        assert len(records(out)) == 4


def test_a_run_where_every_frame_is_skipped_fails(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    corrupt_jpeg(tmp_path / "data" / "Normal" / "a.jpg")
    (tmp_path / "data" / "Normal" / "b.png").write_bytes(b"")
    out = tmp_path / "run"
    with fake_device(pipeline) as device:
        result = bench("--port", device.url, "--data", str(tmp_path / "data"), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("bench: error: every frame was")
    assert "Traceback" not in result.stderr
    assert (out / "report.md").is_file()  # the reasons stay on disk


# -- 2./3. resume: same device only, settings from run.json, a hint that works ----------


@pytest.mark.parametrize(
    ("info", "named"),
    [
        ({"board": "qemu_m4", "cost_unit": "instructions"}, "board"),
        ({"backend": "tflm"}, "backend"),
        ({"firmware": "9.9.9"}, "firmware"),
        ({"cost_unit": "us"}, "cost_unit"),
    ],
)
def test_resume_refuses_another_device(
    pipeline: runner.HostPipeline, tmp_path: Path, info: dict[str, str], named: str
) -> None:
    data = write_frames(tmp_path / "data", {"Normal": 4})
    out = tmp_path / "run"
    with fake_device(pipeline) as device:
        first = bench(
            "--port", device.url, "--data", str(data), "--out", str(out), "--max-frames", "2"
        )
        assert first.returncode == 0, first.stderr
    with fake_device(pipeline, **info) as other:
        result = bench("--resume", str(out), "--port", other.url)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "another device" in message[0] and named in message[0]
    assert len(records(out)) == 2  # nothing mixed in, nothing lost
    assert len(records(out, "sessions.jsonl")) == 1


def test_resume_takes_data_and_model_from_the_run_and_refuses_others(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    data = write_frames(tmp_path / "data", {"Normal": 4})
    other = write_frames(tmp_path / "other", {"Normal": 1})
    out = tmp_path / "run"
    with fake_device(pipeline) as device:
        first = bench(
            "--port",
            device.url,
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-frames",
            "1",
            "--bench-n",
            "2",
        )
        assert first.returncode == 0, first.stderr
        refused = bench("--resume", str(out), "--port", device.url, "--data", str(other))
        assert refused.returncode == 2
        assert "the run's --data is" in refused.stderr.strip().splitlines()[-1]
        # The same folder spelled relative to the run, and the model as its .tflite: fine.
        resumed = bench(
            "--resume",
            str(out),
            "--port",
            device.url,
            "--model",
            str(CARD.parent / "model_int8.tflite"),
        )
        assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["frame"] for r in records(out)) == [f"Normal/f{i}.png" for i in range(4)]
    sessions = records(out, "sessions.jsonl")
    assert sessions[-1]["bench"]["n"] == 2  # --bench-n came from run.json


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_prints_a_resume_command_that_works_as_printed(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    data = write_frames(tmp_path / "data", {"Covid": 3, "Pneumonia": 3})
    out = tmp_path / "run"
    with fake_device(pipeline, delay=0.3) as device:
        command = [sys.executable, str(BENCH.relative_to(REPO)), "--no-progress"]
        command += ["--port", device.url, "--data", str(data), "--out", str(out), "--bench-n", "3"]
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: len(records(out)) >= 2)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        hint = stderr.strip().splitlines()[-1]
        assert "continue with: " in hint
        printed = hint.split("continue with: ", 1)[1]
        assert printed.startswith(f"python {BENCH.relative_to(REPO)} --resume ")
        # Run the hint exactly as printed, in the folder the user typed the first command.
        environment = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        again = subprocess.run(
            shlex.split(printed),
            cwd=REPO,
            capture_output=True,
            text=True,
            env=environment,
            timeout=300,
            check=False,
        )
    assert again.returncode == 0, again.stderr
    names = [r["frame"] for r in records(out)]
    assert len(names) == len(set(names)) == 6
    assert len(records(out, "sessions.jsonl")) == 2


def test_ctrl_c_before_the_run_started_prints_no_hint(tmp_path: Path) -> None:
    out = tmp_path / "never"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"socket://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, str(BENCH), "--port", url, "--out", str(out), "--timeout", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "nothing was written" in stderr and "--resume" not in stderr
    assert not out.exists()


# -- 6./7. what --model and --data accept ---------------------------------------------


def test_model_may_be_the_tflite_beside_its_card_and_nothing_else(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    assert runner.ModelFacts.load(CARD.parent / "model_int8.tflite").sha256 == pipeline.model.sha256
    assert runner.ModelFacts.load(CARD.parent).sha256 == pipeline.model.sha256
    lonely = tmp_path / "lonely.tflite"
    lonely.write_bytes((CARD.parent / "model_int8.tflite").read_bytes())
    result = bench("--port", "socket://127.0.0.1:1", "--model", str(lonely))
    assert result.returncode == 2
    assert "no model_card.json beside this .tflite" in result.stderr
    binary = tmp_path / "random.json"
    binary.write_bytes(bytes(range(256)) * 4)
    result = bench("--port", "socket://127.0.0.1:1", "--model", str(binary))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a model card (JSON)" in result.stderr


def test_bench_finds_the_images_evaluate_finds_and_says_what_is_unlabelled(
    pipeline: runner.HostPipeline, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    write_frames(data, {"Normal": 1}, ".webp")
    write_frames(data, {"COVID-19": 1}, ".gif")
    write_frames(data, {"Viral Pneumonia": 1}, ".ppm")
    write_frames(data, {"Tuberculosis": 2}, ".png")
    write_frames(data, {".thumbnails": 1}, ".png")  # hidden: never data
    (data / "Normal" / "notes.txt").write_text("not a frame")
    frames = runner.list_frames(data, pipeline.model.labels)
    labels = {frame.name: frame.label for frame in frames}
    assert labels == {
        "COVID-19/f0.gif": "Covid",
        "Normal/f0.webp": "Normal",
        "Tuberculosis/f0.png": None,
        "Tuberculosis/f1.png": None,
        "Viral Pneumonia/f0.ppm": "Pneumonia",
    }
    assert runner.unlabelled_folders(frames) == {"Tuberculosis": 2}
    with fake_device(pipeline) as device:
        result = bench("--port", device.url, "--data", str(data), "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    assert "2 frame(s) unlabelled" in result.stderr and "Tuberculosis/ (2)" in result.stderr
    assert "| Tuberculosis/ | 2 |" in (tmp_path / "r" / "report.md").read_text()


# -- 8. arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--max-frames", "-3", "below the minimum 1"),
        ("--retries", "-1", "below the minimum 0"),
        ("--timeout", "0", "greater than 0"),
        ("--reopen-timeout", "-5", "greater than 0"),
        ("--bench-n", "2000", "not within 0..1000"),
        ("--max-restarts", "x", "not a whole number"),
    ],
)
def test_impossible_values_are_refused_at_parse_time(option: str, value: str, reason: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["--port", "host", option, value])
    assert exit_info.value.code == 2
    result = bench("--port", "host", option, value, timeout=60)
    assert result.returncode == 2
    assert f"argument {option}: " in result.stderr and reason in result.stderr


def test_data_and_model_mistakes_stop_the_bench_before_a_board_starts(tmp_path: Path) -> None:
    result = bench("--port", "qemu", "--data", str(tmp_path / "missing"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"bench: error: --data {tmp_path / 'missing'} is not a folder"


# -- 10./12. start-up: no TensorFlow, the right program name, a setup hint ---------------


def test_the_bench_imports_no_tensorflow(pipeline: runner.HostPipeline, tmp_path: Path) -> None:
    data = write_frames(tmp_path / "data", {"Normal": 2})
    with fake_device(pipeline) as device:
        script = (
            "import sys\n"
            "from tinyxray.bench import cli\n"
            f"status = cli.main(['--port', {device.url!r}, '--data', {str(data)!r}, "
            f"'--out', {str(tmp_path / 'run')!r}, '--no-progress'])\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tf_keras'))\n"
            "print('LOADED', loaded)\n"
            "raise SystemExit(status)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
        )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_usage_names_the_command_the_user_typed() -> None:
    assert bench("--help", timeout=60).stdout.startswith("usage: python host/bench.py ")
    via_tinyxray = subprocess.run(
        [sys.executable, "-m", "tinyxray.cli", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert via_tinyxray.stdout.startswith("usage: tinyxray bench ")


def test_outside_the_environment_the_bench_says_how_to_set_up(tmp_path: Path) -> None:
    # -S: no site-packages, so pyserial (like every dependency) is missing.
    result = subprocess.run(
        [sys.executable, "-S", str(BENCH), "--port", "host"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bash tools/dev.sh setup" in result.stderr and "source tools/env.sh" in result.stderr


# -- 13. the latency figure ---------------------------------------------------------------


@pytest.fixture
def qemu_like_records() -> Iterator[list[dict]]:
    """Costs as QEMU reports them: about 62 M instructions, a few hundred apart."""
    costs = 62_074_000 + np.arange(30) * 137
    yield [{"infer_cost": int(c), "round_trip_s": 0.25 + 0.001 * i} for i, c in enumerate(costs)]


def test_latency_figure_has_whole_counts_and_readable_units(qemu_like_records: list[dict]) -> None:
    figure = report.latency_figure({"cost": {"unit": "instructions"}}, qemu_like_records)
    try:
        cost_axes, rtt_axes = figure.axes
        figure.canvas.draw()
        assert cost_axes.get_xlabel() == "inference cost per frame (M instructions)"
        assert rtt_axes.get_xlabel() == "round trip per frame (ms)"
        for axes in (cost_axes, rtt_axes):
            assert axes.xaxis.get_offset_text().get_text() == ""  # no "1e7" offset
            counts = [tick for tick in axes.get_yticks() if tick >= 0]
            assert all(float(tick).is_integer() for tick in counts)
        low, high = cost_axes.get_xlim()
        labels = [
            label
            for label, tick in zip(cost_axes.get_xticklabels(), cost_axes.get_xticks(), strict=True)
            if low <= tick <= high and label.get_text()
        ]
        shown = [label.get_text() for label in labels]
        assert all(62.0 < float(text.replace("−", "-")) < 62.1 for text in shown), shown
        renderer = figure.canvas.get_renderer()
        boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda b: b.x0)
        assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes))
    finally:
        from matplotlib import pyplot

        pyplot.close(figure)
    assert report.readable_cost_unit("ns") == (1e-6, "ms")
    assert report.readable_cost_unit("us") == (1e-3, "ms")
