"""The host commands as users meet them (issue 13): one line and exit 2 for a mistake.

Each command runs as a user runs it, in a subprocess (`python -m tinyxray.X`), so a
traceback, a wrong exit status or TensorFlow's start-up noise would show. The int8
model is the committed default (evaluate needs no TensorFlow for it).
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import write_synthetic_dataset
from PIL import Image

from tinyxray import evaluate, preprocess, train

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "default" / "model_int8.tflite"
CARD = REPO / "models" / "default" / "model_card.json"
TENSORFLOW_NOISE = ("oneDNN", "cpu_feature_guard", "TensorSpec", "MLIR", "node_def_util", "absl")

needs_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"no default model at {MODEL}")


def run(
    module: str, *arguments: str, timeout: float = 300, **options
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, prog: str, words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"{prog}: error: ")]
    assert len(errors) == 1, lines
    # Only argparse's usage lines may come before the one error line.
    assert all(line.startswith(("usage:", " ")) for line in lines[: lines.index(errors[0])])
    assert words in errors[0], errors[0]


def image(path: Path, size: tuple[int, int] = (120, 100), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path)
    return path


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """Datasets a user might point --data at by mistake, and a good one."""
    image(tmp_path / "good" / "Covid" / "a.png")
    image(tmp_path / "good" / "Normal" / "b.png", seed=1)
    image(tmp_path / "tb" / "Tuberculosis" / "c.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "noimages" / "Covid").mkdir(parents=True)
    (tmp_path / "noimages" / "Covid" / "notes.txt").write_text("")
    (tmp_path / "a-file").write_text("not a folder")
    random_model = tmp_path / "random.tflite"
    random_model.write_bytes(np.random.default_rng(0).bytes(4096))
    return {
        "good": tmp_path / "good",
        "tb": tmp_path / "tb",
        "empty": tmp_path / "empty",
        "noimages": tmp_path / "noimages",
        "file": tmp_path / "a-file",
        "random_model": random_model,
        "missing": tmp_path / "missing",
    }


# -- 9. evaluate --------------------------------------------------------------------------


@needs_model
@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("missing data", "argument --data: "),
        ("unknown class", "unknown class 'Tuberculosis'"),
        ("empty folder", "no class folders"),
        ("class folder without images", "no usable image under"),
        ("random tflite", "is not a TensorFlow Lite model"),
        ("other input shape", "takes input 96x96x1; the preprocessing makes 64x64x1"),
        ("threshold 5", "argument --threshold: 5 is not a probability"),
        ("unwritable out", "--out "),
        ("bad split file", "--split-file "),
    ],
)
def test_evaluate_mistakes(
    folders: dict[str, Path], tmp_path: Path, mistake: str, words: str
) -> None:
    arguments = {"--model": str(MODEL), "--data": str(folders["good"])}
    if mistake == "missing data":
        arguments["--data"] = str(folders["missing"])
    elif mistake == "unknown class":
        arguments["--data"] = str(folders["tb"])
    elif mistake == "empty folder":
        arguments["--data"] = str(folders["empty"])
    elif mistake == "class folder without images":
        arguments["--data"] = str(folders["noimages"])
    elif mistake == "random tflite":
        arguments["--model"] = str(folders["random_model"])
    elif mistake == "other input shape":
        card = json.loads(CARD.read_text())
        card["preprocess"]["size"] = 64
        (tmp_path / "card64.json").write_text(json.dumps(card))
        arguments["--card"] = str(tmp_path / "card64.json")
    elif mistake == "threshold 5":
        arguments["--threshold"] = "5"
    elif mistake == "unwritable out":
        arguments["--out"] = str(folders["file"] / "report")
    elif mistake == "bad split file":
        (tmp_path / "split.csv").write_text("a,b\n1,2\n")
        arguments["--split-file"] = str(tmp_path / "split.csv")
    flat = [item for pair in arguments.items() for item in pair]
    assert_one_line_error(run("tinyxray.evaluate", *flat), "python -m tinyxray.evaluate", words)


@pytest.mark.slow
def test_evaluate_refuses_a_float_tflite_and_loads_keras_quietly(tmp_path: Path) -> None:
    import tensorflow as tf
    from model_fixtures import tiny_model_and_int8

    keras_model, _ = tiny_model_and_int8()
    float_model = tmp_path / "float.tflite"
    float_model.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras_model).convert())
    data = tmp_path / "data"
    image(data / "Normal" / "a.png")
    image(data / "Covid" / "b.png", seed=2)
    result = run("tinyxray.evaluate", "--model", str(float_model), "--data", str(data))
    assert_one_line_error(result, "python -m tinyxray.evaluate", "is not an int8 model")

    # A float .keras model loads TensorFlow: none of its start-up lines reach the user,
    # unless asked for with --verbose.
    keras_path = tmp_path / "model.keras"
    keras_model.save(keras_path)
    arguments = ["--model", str(MODEL), "--float-model", str(keras_path), "--data", str(data)]
    quiet = run("tinyxray.evaluate", *arguments)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    verbose = run("tinyxray.evaluate", *arguments, "--verbose", env=environment)
    assert verbose.returncode == 0
    assert "oneDNN" in verbose.stderr


# -- 11./13. evaluate's console and figures ----------------------------------------------------


@needs_model
def test_evaluate_summary_says_how_many_were_skipped_and_where(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = folders["good"]
    (data / "Normal" / "empty.png").write_bytes(b"")
    (data / "Normal" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"x" * 64)
    assert evaluate.main(["--model", str(MODEL), "--data", str(data)]) == 0
    printed = capsys.readouterr().out
    assert "images 2, skipped 2 unusable file(s)" in printed
    assert "Normal/empty.png: empty file" in printed  # no --out: the reasons are printed
    out = tmp_path / "report"
    assert evaluate.main(["--model", str(MODEL), "--data", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"skipped files and their reasons: {out / 'report.md'}" in printed
    assert "## Skipped files" in (out / "report.md").read_text()


@needs_model
def test_one_image_evaluation_draws_its_figures_without_warnings(tmp_path: Path) -> None:
    image(tmp_path / "data" / "Covid" / "only.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = evaluate.main(
            ["--model", str(MODEL), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "r")]
        )
    assert status == 0
    assert [
        str(w.message) for w in caught if "matplotlib" in w.filename or "artist" in str(w.message)
    ] == []
    for name in ("reliability.png", "confusion.png", "features.png"):
        assert (tmp_path / "r" / name).stat().st_size > 1000


def _report_for_figures(count: int = 60) -> tuple[dict, dict]:
    """A report dict and arrays as evaluate() returns them, from synthetic probabilities."""
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 3, size=count)
    logits = rng.normal(size=(count, 3)) + 2.5 * np.eye(3)[targets]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    features = rng.normal(size=(count, 8)) + targets[:, None]
    from tinyxray import metrics

    result = metrics.classification_report(targets, probs, ["Covid", "Normal", "Pneumonia"])
    report = {"models": {"int8": {"sets": {"all": result}}}}
    arrays = {"int8": {"all": {"probs": probs, "features": features, "targets": targets}}}
    return report, arrays


def test_figures_are_readable() -> None:
    from matplotlib import colors, pyplot

    report, arrays = _report_for_figures()
    reliability = evaluate.reliability_figure(report, ["int8"], "all")
    confusion = evaluate.confusion_figure(report, ["int8"], "all")
    features = evaluate.features_figure(arrays, report, ["int8"], "all")
    try:
        renderer = reliability.canvas.get_renderer()
        axes = reliability.axes[0]
        legend = axes.get_legend().get_window_extent(renderer)
        for bar in axes.patches:
            assert not legend.overlaps(bar.get_window_extent(renderer)), "legend covers a bar"

        axes = confusion.axes[0]
        image_data = axes.images[0]
        for text in axes.texts:
            column, row = (round(value) for value in text.get_position())
            red, green, blue, _ = image_data.cmap(
                image_data.norm(image_data.get_array()[row, column])
            )
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            assert colors.to_hex(text.get_color()) == ("#ffffff" if dark else "#000000")

        axes = features.axes[0]
        assert axes.get_xlabel().startswith("principal component 1 (")
        assert axes.get_ylabel().startswith("principal component 2 (")
        assert "% of variance" in axes.get_xlabel()
    finally:
        for figure in (reliability, confusion, features):
            pyplot.close(figure)


# -- 9./10./12. train and crossval -------------------------------------------------------------


@pytest.mark.parametrize("module", ["tinyxray.train", "tinyxray.crossval", "tinyxray.evaluate"])
def test_help_loads_no_tensorflow(module: str) -> None:
    script = (
        "import sys, runpy\n"
        f"sys.argv = [{module!r}, '--help']\n"
        "try:\n"
        f"    runpy.run_module({module!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('tensorflow', 'keras')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert "LOADED []" in result.stdout, result.stdout[-500:] + result.stderr[-500:]


@pytest.mark.parametrize(
    ("module", "extra", "words"),
    [
        ("tinyxray.train", ["--set", "epochs=abc"], "epochs takes int, not 'abc'"),
        ("tinyxray.train", ["--set", "no_field=1"], "expected KEY=VALUE"),
        ("tinyxray.train", ["--epochs", "0"], "argument --epochs: 0 is below the minimum 1"),
        ("tinyxray.train", ["--test-fraction", "1.5"], "not a fraction in [0, 1)"),
        ("tinyxray.crossval", ["--folds", "1"], "argument --folds: 1 is below the minimum 2"),
        ("tinyxray.crossval", ["--set", "epochs=abc"], "epochs takes int"),
        ("tinyxray.train", ["--unlabelled", "no-such-folder"], "argument --unlabelled: "),
        ("tinyxray.crossval", ["--unlabelled", "no-such-folder"], "argument --unlabelled: "),
        ("tinyxray.train", ["--set", "ssl_threshold=2"], "ssl_threshold must be in [0, 1]"),
        ("tinyxray.crossval", ["--label-fraction", "0"], "not a fraction in (0, 1]"),
        ("tinyxray.crossval", ["--label-fraction", "1.5"], "not a fraction in (0, 1]"),
        ("tinyxray.crossval", ["--unlabelled-hidden"], "needs --label-fraction"),
    ],
)
def test_train_and_crossval_refuse_impossible_values(
    folders: dict[str, Path], tmp_path: Path, module: str, extra: list[str], words: str
) -> None:
    arguments = ["--data", str(folders["good"]), "--out", str(tmp_path / "out"), *extra]
    assert_one_line_error(run(module, *arguments), f"python -m {module}", words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("module", ["tinyxray.train", "tinyxray.crossval"])
@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("missing data", "argument --data: "),
        ("unknown class", "unknown class 'Tuberculosis'"),
        ("empty folder", "no class folders"),
        ("class folder without images", "no usable image under"),
        ("unwritable out", "cannot write there"),
    ],
)
def test_train_and_crossval_data_and_out_mistakes(
    folders: dict[str, Path], tmp_path: Path, module: str, mistake: str, words: str
) -> None:
    data = {
        "missing data": folders["missing"],
        "unknown class": folders["tb"],
        "empty folder": folders["empty"],
        "class folder without images": folders["noimages"],
        "unwritable out": folders["good"],
    }[mistake]
    out = folders["file"] / "run" if mistake == "unwritable out" else tmp_path / "run"
    arguments = ["--preset", "tiny", "--data", str(data), "--out", str(out), "--quiet"]
    environment = {**os.environ, "TINYXRAY_CACHE": str(tmp_path / "cache")}
    result = run(module, *arguments, env=environment)
    assert_one_line_error(result, f"python -m {module}", words)
    assert not any(noise in result.stderr for noise in TENSORFLOW_NOISE), result.stderr


@pytest.mark.parametrize("module", ["tinyxray.train", "tinyxray.crossval"])
def test_an_unlabelled_folder_without_images_is_one_line(
    folders: dict[str, Path], tmp_path: Path, module: str
) -> None:
    arguments = ["--preset", "tiny", "--data", str(folders["good"]), "--quiet"]
    unlabelled = ["--unlabelled", str(folders["noimages"]), "--out", str(tmp_path / "run")]
    environment = {**os.environ, "TINYXRAY_CACHE": str(tmp_path / "cache")}
    result = run(module, *arguments, *unlabelled, env=environment)
    assert_one_line_error(result, f"python -m {module}", "no usable image")


def test_train_refuses_to_overwrite_a_run_unless_forced(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    (out / "report").mkdir(parents=True)
    (out / "config.json").write_text("{}")
    arguments = ["--data", str(folders["good"]), "--out", str(out)]
    result = run("tinyxray.train", *arguments)
    assert_one_line_error(result, "python -m tinyxray.train", "already holds a training run")
    assert (out / "report").is_dir()
    # --force replaces the old run whole, so no old report/ stays beside a new model.
    train.prepare_out(out, resume=False, force=True)
    assert out.is_dir() and list(out.iterdir()) == []
    # A folder of other files is never a run folder to write into.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("")
    result = run("tinyxray.train", "--data", str(folders["good"]), "--out", str(tmp_path / "mine"))
    assert_one_line_error(result, "python -m tinyxray.train", "is not empty")


def test_resume_command_continues_and_never_forces(tmp_path: Path) -> None:
    argv = ["--data", "my data", "--out", str(tmp_path / "run"), "--force"]
    command = train.resume_command("tinyxray crossval", argv)
    assert command == f"tinyxray crossval --data 'my data' --out {tmp_path / 'run'} --resume"
    assert train.resume_command("x", ["--resume"]) == "x --resume"
    message = train.interrupted_message(tmp_path / "run", "tinyxray train", argv)
    assert message.startswith("interrupted before the first epoch finished; nothing to resume")


def _epochs(history: Path) -> int:
    if not history.exists():
        return 0
    with history.open() as handle:
        return len(list(csv.DictReader(handle)))


@pytest.mark.slow
def test_ctrl_c_during_training_says_where_the_checkpoint_is_and_how_to_resume(
    tmp_path: Path,
) -> None:
    data = write_synthetic_dataset(tmp_path / "data")
    out = tmp_path / "run"
    environment = {
        **os.environ,
        "TINYXRAY_CACHE": str(tmp_path / "cache"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    command = [sys.executable, "-m", "tinyxray.train", "--preset", "tiny", "--data", str(data)]
    command += ["--out", str(out), "--epochs", "12", "--quiet", "--no-evaluate"]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while _epochs(out / "history.csv") < 1 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines  # no TensorFlow noise, no traceback: one line
    assert f"is in {out / 'checkpoints'}; resume with: " in lines[0]
    printed = lines[0].split("resume with: ", 1)[1]
    assert printed.startswith("python -m tinyxray.train ") and printed.endswith(" --resume")
    done = _epochs(out / "history.csv")
    resumed = subprocess.run(
        shlex.split(printed),
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _epochs(out / "history.csv") == 12 > done
    # `train --quiet` prints its one result line and nothing of TensorFlow's.
    quiet = [line for line in (resumed.stdout + resumed.stderr).splitlines() if line.strip()]
    assert len(quiet) == 1 and quiet[0].startswith("trained tiny"), quiet


# -- 9. preprocess frame ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("missing image", "argument image: "),
        ("corrupt image", "corrupt"),
        ("unknown suffix", "unknown image suffix '.xyz'"),
        ("unwritable out", "cannot write there"),
        ("size 0", "argument --size: 0 is below the minimum 1"),
    ],
)
def test_preprocess_frame_mistakes(
    folders: dict[str, Path], tmp_path: Path, mistake: str, words: str
) -> None:
    source = folders["good"] / "Covid" / "a.png"
    out = tmp_path / "frame.png"
    extra: list[str] = []
    if mistake == "missing image":
        source = folders["missing"]
    elif mistake == "corrupt image":
        source = tmp_path / "cut.jpg"
        source.write_bytes(b"\xff\xd8\xff\xe0" + b"x" * 64)
    elif mistake == "unknown suffix":
        out = tmp_path / "frame.xyz"
    elif mistake == "unwritable out":
        out = folders["file"] / "frame.png"
    elif mistake == "size 0":
        extra = ["--size", "0"]
    result = run("tinyxray.preprocess", "frame", str(source), str(out), *extra)
    prog = "python -m tinyxray.preprocess frame"
    assert_one_line_error(result, prog, words)


# -- 15. one decompression-bomb limit --------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims width x height (as a decompression bomb does)."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    body = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = body[4:]
    data[29:33] = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("side", [8000, 12000])  # 64 Mpx (PIL warns) and 144 Mpx (PIL refuses)
def test_one_decompression_bomb_limit_in_messages_and_docs(tmp_path: Path, side: int) -> None:
    from tinyxray import data

    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(side, side))
    limit = f"{preprocess.MAX_PIXELS:,}"
    with pytest.raises(preprocess.ImageError) as error:
        preprocess.load_grayscale(path)
    assert limit in error.value.reason and "100,000,000" not in error.value.reason
    assert f"{side * side:,} pixels" in error.value.reason
    assert limit in (data.check_image_header(path) or "")
    assert f"`MAX_PIXELS` = {limit} pixels" in (REPO / "docs" / "preprocessing.md").read_text()


# -- 14. no machine paths in committed files ---------------------------------------------------


def test_reports_write_paths_relative_to_the_repository() -> None:
    from tinyxray.paths import REPO_ROOT, display_path

    assert display_path(REPO_ROOT.parent / "shared" / "datasets" / "x") == "../shared/datasets/x"
    assert display_path(REPO_ROOT / "models" / "default" / "m.tflite") == "models/default/m.tflite"
    assert display_path("/etc/hostname") == "/etc/hostname"  # far away: stays absolute


def test_a_symlinked_shared_folder_still_reads_as_beside_the_repository(tmp_path: Path) -> None:
    from tinyxray.paths import display_path

    repo, elsewhere = tmp_path / "checkout" / "repo", tmp_path / "disk" / "shared"
    repo.mkdir(parents=True)
    (elsewhere / "datasets").mkdir(parents=True)
    (repo.parent / "shared").symlink_to(elsewhere)
    shown = display_path(repo.parent / "shared" / "datasets" / "x", root=repo)
    assert shown == "../shared/datasets/x"


def test_committed_docs_and_reports_carry_no_machine_paths() -> None:
    import re

    machine_path = re.compile(r"(?<![\w.])/(?:work|home|root|Users|tmp/inst)/")
    checked = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    checked += [path for path in (REPO / "models").rglob("*") if path.suffix in {".md", ".json"}]
    offending = [
        f"{path.relative_to(REPO)}:{number}"
        for path in checked
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if machine_path.search(line)
    ]
    assert offending == []
