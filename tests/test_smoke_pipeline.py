"""CI smoke run: train a tiny model for one epoch on a few images -> int8 -> C export -> report.

Uses a few real images from ../shared/datasets when present, otherwise synthetic PNGs in
class folders. Writes only under tmp_path (never over the committed model).
"""

import json
import shutil
from pathlib import Path

import pytest
from model_fixtures import write_synthetic_dataset

from tinyxray import evaluate, export_c, model_card, train

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def _copy_some(source: Path, target: Path, per_folder: int) -> None:
    """Copy the first few images of every class folder, keeping the layout."""
    for folder in sorted(path for path in source.rglob("*") if path.is_dir()):
        images = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
        if not images:
            continue
        destination = target / folder.relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for image in images[:per_folder]:
            shutil.copy(image, destination / image.name)


def _dataset(tmp_path: Path) -> list[str]:
    """A few real images per class of both sources if present, else synthetic PNGs."""
    roots = [SHARED / "covid19-image-dataset", SHARED / "nih-cxr8-adult-subset"]
    if all(root.is_dir() for root in roots):
        copies = [tmp_path / "data" / root.name for root in roots]
        _copy_some(roots[0], copies[0], 6)
        _copy_some(roots[1], copies[1], 10)
        return [str(root) for root in copies]
    return [str(write_synthetic_dataset(tmp_path / "synthetic"))]


@pytest.mark.slow
def test_smoke_pipeline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    roots = _dataset(tmp_path)
    run = tmp_path / "run"
    code = train.main(
        [
            "--preset",
            "tiny",
            "--data",
            *roots,
            "--out",
            str(run),
            "--epochs",
            "1",
            "--quiet",
            "--no-evaluate",
        ]
    )
    assert code == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["split_counts"]["train"] > 0
    card = model_card.load(run)
    card.verify_file()
    assert (card.input.scale, card.input.zero_point) == (1.0, -128)
    assert card.tflm_arena_bytes > 0
    for name in ("config.json", "split.csv", "history.csv", "model_float.keras", "audit.md"):
        assert (run / name).exists(), name

    generated = tmp_path / "generated"
    export_c.export(run, generated)
    assert export_c.parse_c_array((generated / "model_data.cc").read_text()) == (
        card.tflite_path.read_bytes()
    )

    report_dir = tmp_path / "report"
    assert (
        evaluate.main(
            [
                "--model",
                str(run / "model_int8.tflite"),
                "--float-model",
                str(run / "model_float.keras"),
                "--data",
                *roots,
                "--split-file",
                str(run / "split.csv"),
                "--out",
                str(report_dir),
            ]
        )
        == 0
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert "not a diagnostic device" in report["disclaimer"].lower()
    assert set(report["models"]) == {"float", "int8"}
    assert "not a diagnostic device" in (report_dir / "report.md").read_text().lower()
    for figure in ("reliability.png", "confusion.png", "features.png", "risk_coverage.png"):
        assert (report_dir / figure).stat().st_size > 1000
    # The uncertain threshold was chosen on validation and is the card's (and the device's).
    assert card.uncertain_threshold == summary["selective"]["threshold"]
    assert card.metrics["selective"]["target"] == 0.9
    chosen = report["models"]["int8"]["sets"]["leak_free_test"]["selective"]["at_threshold"]
    assert chosen["threshold"] == pytest.approx(card.uncertain_threshold)
    assert "Selective prediction" in (report_dir / "report.md").read_text()

    # A student distilled from the run just trained (mixup, EMA, quantisation-aware
    # fine-tuning and refit on the way).
    student = tmp_path / "student"
    options = ["--set", "distill=0.5", "--set", "mixup=0.2", "--set", "ema=0.9", "--refit"]
    options += ["--set", "qat_epochs=1"]
    argv = ["--preset", "tiny", "--data", *roots, "--out", str(student), "--epochs", "1"]
    assert train.main([*argv, "--quiet", "--no-evaluate", "--teacher", str(run), *options]) == 0
    student_card = model_card.load(student)
    assert student_card.metrics["refit"]["images"] == (
        summary["split_counts"]["train"] + summary["split_counts"]["validation"]
    )
    # The shipped float model is the BatchNorm-folded, fine-tuned one; both stages logged.
    assert (student / "qat_history.csv").is_file() and (student / "refit_qat_history.csv").is_file()
    summary_student = json.loads((student / "train_summary.json").read_text())
    assert "after_qat" in summary_student["bn"]
    with pytest.raises(SystemExit) as exit_info:
        train.main([*argv, "--quiet", "--no-evaluate", "--teacher", str(run), "--force"])
    assert exit_info.value.code == 2
    assert "distillation needs both" in capsys.readouterr().err
