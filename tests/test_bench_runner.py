"""Unit tests of the bench runner's own logic (handshake checks, logging, resume, resets).

The device here is the in-process fake of bench_fake_device.py, which answers
INFER with the host int8 model; the real firmware is exercised in tests/hil.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_fake_device import FakeDevice, default_info
from PIL import Image

from tinyxray.bench import protocol, runner

REPO = Path(__file__).resolve().parents[1]
CARD = REPO / "models" / "default" / "model_card.json"

pytestmark = pytest.mark.skipif(not CARD.is_file(), reason=f"no default model card at {CARD}")


@pytest.fixture(scope="module")
def model() -> runner.ModelFacts:
    return runner.ModelFacts.load(CARD)


@pytest.fixture(scope="module")
def pipeline(model: runner.ModelFacts) -> runner.HostPipeline:
    return runner.HostPipeline(model)


@pytest.fixture
def frames_dir(tmp_path: Path) -> Path:
    """Six synthetic frames of odd sizes in label folders (not X-rays; logic only)."""
    generator = np.random.default_rng(11)
    root = tmp_path / "frames"
    for index, label in enumerate(["Covid", "normal", "PNEUMONIA", "Covid", "Normal", "other"]):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        shape = (80 + 7 * index, 96 + 11 * index)
        pixels = generator.integers(0, 256, size=shape, dtype=np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"frame{index}.png")
    return root


def device_for(model: runner.ModelFacts, pipeline: runner.HostPipeline, **info: str) -> FakeDevice:
    """A fake that blurs, quantises and runs the host int8 model, like bit-exact firmware."""

    def infer(width: int, height: int, fmt: int, pixels: bytes) -> tuple[int, bool, tuple]:
        frame = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width)
        blurred = pipeline._preprocess.preprocess_array(frame, pipeline.model_config)
        quantised = pipeline._preprocess.to_int8(blurred, model.input_scale, model.input_zero_point)
        scores = pipeline.oracle.invoke(quantised.reshape(model.input_shape))
        return int(np.argmax(scores)), False, tuple(int(s) for s in scores)

    fields = default_info(**{"model_sha256": model.sha256, **info})
    return FakeDevice(info=fields, infer=infer)


def config(url: str, data: Path, out: Path, **options: object) -> runner.BenchConfig:
    settings = {"bench_n": 3, "timeout": 5.0, "progress": False, "reopen_timeout": 5.0}
    settings.update(options)
    return runner.BenchConfig(port=url, data_dir=data, model_card=CARD, out_dir=out, **settings)  # type: ignore[arg-type]


def frame_names(run_dir: Path) -> list[str]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    return [json.loads(line)["frame"] for line in lines]


def test_list_frames_labels_from_folders(frames_dir: Path) -> None:
    frames = runner.list_frames(frames_dir, ("Covid", "Normal", "Pneumonia"))
    labels = {frame.name: frame.label for frame in frames}
    assert len(frames) == 6
    assert labels["PNEUMONIA/frame2.png"] == "Pneumonia"
    assert labels["normal/frame1.png"] == "Normal"
    assert labels["other/frame5.png"] is None


def test_list_frames_from_manifest(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "samples.csv").write_text("file,label,source,original\na.png,normal,x,y\n")
    frames = runner.list_frames(tmp_path, ("Covid", "Normal", "Pneumonia"))
    assert frames == [runner.FrameSpec("a.png", tmp_path / "a.png", "Normal", "x")]
    (tmp_path / "samples.csv").write_text("file,label\na.png,cat\n")
    with pytest.raises(runner.BenchDataError, match="'cat'"):
        runner.list_frames(tmp_path, ("Covid", "Normal", "Pneumonia"))
    (tmp_path / "samples.csv").write_text("file,label\nmissing.png,Covid\n")
    with pytest.raises(runner.BenchDataError, match="missing"):
        runner.list_frames(tmp_path, ("Covid", "Normal", "Pneumonia"))
    with pytest.raises(runner.BenchDataError, match="not a folder"):
        runner.list_frames(tmp_path / "nope", ("Covid",))


def test_full_run_writes_reports(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with device_for(model, pipeline) as device:
        report = runner.BenchRun(config(device.url, frames_dir, out)).run()
    assert sorted(frame_names(out)) == sorted(
        frame.name for frame in runner.list_frames(frames_dir, model.labels)
    )
    assert report["frames"] == {
        "total": 6,
        "done": 6,
        "records": 6,
        "labelled": 5,
        "duplicates": [],
        "skipped": 0,
        "skipped_files": [],
        "unlabelled": {"other": 1},
        "missing": 0,
    }
    assert report["agreement"]["scores_identical"] == 6
    assert report["agreement"]["mismatches"] == []
    assert report["accuracy"]["device"]["n"] == 5
    assert report["accuracy"]["device"]["correct"] == report["accuracy"]["host_int8"]["correct"]
    assert sum(map(sum, report["confusion"]["matrix"])) == 5
    confident = report["accuracy"]["confident"]
    assert confident["threshold"] == model.uncertain_threshold
    assert 0.0 <= confident["aurc"] <= 1.0
    assert confident["coverage_ci95"][0] <= confident["coverage"] <= confident["coverage_ci95"][1]
    assert report["accuracy"]["by_source"] == {}  # folder frames carry no source
    assert report["cost"]["bench"]["n"] == 3
    assert report["cost"]["unit"] == "ns"
    assert report["link"]["overhead_fraction_per_frame"] <= 0.01
    assert report["disclaimer"] == "Research tool, not a diagnostic device."
    for name in ("report.json", "report.md", "confusion.png", "latency.png", "run.json"):
        assert (out / name).stat().st_size > 0
    assert "not a diagnostic device" in (out / "report.md").read_text()


def test_reset_and_vanished_port_lose_nothing(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with device_for(model, pipeline) as device:
        # Request 1 is HELLO, 2-4 the ECHO link probe; a reset on the 3rd INFER (7),
        # the port gone on the 11th request (after the second HELLO).
        device.faults.reset_at_request = 7
        device.faults.disconnect_at_request = 11
        report = runner.BenchRun(config(device.url, frames_dir, out)).run()
    names = frame_names(out)
    assert len(names) == len(set(names)) == 6
    assert report["resets"] == 2
    assert report["frames"]["duplicates"] == []


def test_interrupted_run_resumes_without_duplicates(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with device_for(model, pipeline) as device:
        runner.BenchRun(config(device.url, frames_dir, out, max_frames=2)).run()
        assert len(frame_names(out)) == 2
        # A crash mid-write leaves a torn line; resume drops it.
        with (out / "results.jsonl").open("a") as handle:
            handle.write('{"frame": "torn')
        resumed = config(device.url, frames_dir, None, resume=out)
        report = runner.BenchRun(resumed).run()
    names = frame_names(out)
    assert len(names) == len(set(names)) == 6
    assert report["sessions"] == 2
    assert report["frames"]["missing"] == 0


def test_resume_refuses_another_model(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with device_for(model, pipeline) as device:
        runner.BenchRun(config(device.url, frames_dir, out, max_frames=1)).run()
    with pytest.raises(runner.BenchDataError, match="already holds a bench run"):
        runner.BenchRun(config("socket://127.0.0.1:1", frames_dir, out))
    meta = json.loads((out / "run.json").read_text())
    meta["model_sha256"] = "f" * 64
    (out / "run.json").write_text(json.dumps(meta))
    with device_for(model, pipeline) as device, pytest.raises(runner.BenchDataError, match="sha"):
        runner.BenchRun(config(device.url, frames_dir, None, resume=out)).run()


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"model_sha256": "ab" * 32}, "model mismatch"),
        ({"protocol": "2"}, "protocol 2"),
        ({"labels": "A,B,C"}, "labels"),
        ({"input": "64x64x1"}, "input"),
        ({"input_zero_point": "0"}, "quantisation"),
    ],
)
def test_handshake_refuses_incompatible_devices(
    model: runner.ModelFacts,
    pipeline: runner.HostPipeline,
    frames_dir: Path,
    tmp_path: Path,
    info: dict[str, str],
    message: str,
) -> None:
    with (
        device_for(model, pipeline, **info) as device,
        pytest.raises(runner.HandshakeError, match=message),
    ):
        runner.BenchRun(config(device.url, frames_dir, tmp_path / "run")).run()
    assert not (tmp_path / "run" / "results.jsonl").exists() or not frame_names(tmp_path / "run")


def test_bench_cli_reports_errors(tmp_path: Path) -> None:
    from tinyxray.bench import cli

    assert cli.main(["--port", "socket://127.0.0.1:1", "--data", str(tmp_path / "nope")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["--port", "x", "--resume", str(tmp_path), "--out", str(tmp_path)])


def test_protocol_overhead_is_within_goal(pipeline: runner.HostPipeline, frames_dir: Path) -> None:
    frame = pipeline.prepare(runner.list_frames(frames_dir, pipeline.model.labels)[0])
    payload = protocol.infer_payload(frame.pixels, 96, 96)
    wire = protocol.encode_frame(protocol.Command.INFER, 1, payload)
    assert (len(wire) - frame.pixels.size) / frame.pixels.size <= 0.01


def test_small_max_packet_uses_chunks(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    with device_for(model, pipeline, max_packet="1024") as device:
        report = runner.BenchRun(config(device.url, frames_dir, tmp_path / "run")).run()
        assert device.chunk_pieces >= 6 * 10
    assert report["agreement"]["scores_identical"] == 6


def test_reset_during_the_link_probe(
    model: runner.ModelFacts, pipeline: runner.HostPipeline, frames_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with device_for(model, pipeline) as device:
        device.faults.reset_at_request = 3  # the second ECHO of the probe
        report = runner.BenchRun(config(device.url, frames_dir, out)).run()
    assert report["resets"] == 1 and report["frames"]["missing"] == 0
    assert report["link"]["probe"] is None


def test_silent_device_is_a_clear_handshake_error(frames_dir: Path, tmp_path: Path) -> None:
    import socket

    from tinyxray.bench import cli

    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        options = ["--timeout", "0.3", "--retries", "0", "--no-progress"]
        with pytest.raises(runner.HandshakeError, match="is the tinyxray firmware flashed"):
            runner.BenchRun(config(url, frames_dir, tmp_path / "a", timeout=0.3, retries=0)).run()
        assert cli.main(["--port", url, "--data", str(frames_dir), *options]) == 2
    assert not (tmp_path / "a" / "results.jsonl").exists()
