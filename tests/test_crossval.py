"""Cross-validation by patient group: folds cover the pool once, test is never scored."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import write_synthetic_dataset

from tinyxray import crossval


def test_mcnemar_exact_p_by_hand() -> None:
    assert crossval.mcnemar_p(0, 0) == 1.0
    assert crossval.mcnemar_p(0, 5) == pytest.approx(2 / 32)  # 2 * P(X <= 0), X ~ B(5, .5)
    assert crossval.mcnemar_p(1, 5) == pytest.approx(2 * 7 / 64)
    assert crossval.mcnemar_p(3, 3) == 1.0


def _row(path: str, label: str, int8: str, fold: int, probs: tuple[float, ...]) -> dict:
    row = {"path": path, "source": "s", "label": label, "fold": fold, "int8_prediction": int8}
    for name, value in zip(("Covid", "Normal", "Pneumonia"), probs, strict=True):
        row[f"float_{name}"] = value
    return row


def test_summary_by_hand() -> None:
    rows = [
        _row("a", "Covid", "Covid", 0, (0.8, 0.1, 0.1)),
        _row("b", "Normal", "Covid", 0, (0.2, 0.7, 0.1)),
        _row("c", "Pneumonia", "Pneumonia", 1, (0.1, 0.1, 0.8)),
        _row("d", "Normal", "Pneumonia", 1, (0.1, 0.3, 0.6)),
    ]
    summary = crossval.summarise(rows)
    assert summary["float"]["correct"] == 3  # a, b, c
    assert summary["int8"]["correct"] == 2  # a, c
    assert summary["int8_by_fold"]["0"]["correct"] == 1
    assert summary["int8_by_fold"]["1"]["correct"] == 1
    assert summary["float_int8_agreement"]["agree"] == 3  # b differs
    expected_nll = -np.mean(np.log([0.8, 0.7, 0.8, 0.3]))
    assert summary["float_nll_after_fold_temperature"] == pytest.approx(expected_nll)


@pytest.mark.slow
def test_crossval_scores_every_pool_image_once(
    tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    root = write_synthetic_dataset(tmp_path / "data")
    run = tmp_path / "cv"
    arguments = ["--preset", "tiny", "--folds", "2", "--data", str(root), "--quiet"]
    assert crossval.main([*arguments, "--out", str(run), "--epochs", "1"]) == 0

    with (run / "split.csv").open(newline="") as handle:
        split = {Path(row["file"]).name: row["split"] for row in csv.DictReader(handle)}
    rows = crossval.read_rows(run)
    scored = [Path(row["path"]).name for row in rows]
    assert len(scored) == len(set(scored))
    assert set(scored) == {name for name, where in split.items() if where != "test"}
    assert {row["fold"] for row in rows} == {"0", "1"}
    summary = json.loads((run / "crossval.json").read_text())
    assert summary["images"] == len(rows)
    assert "not a diagnostic device" in (run / "crossval.md").read_text()

    # --resume reuses finished folds: the saved fold predictions are not rewritten.
    saved = run / "fold_0" / "predictions.npz"
    before = saved.stat().st_mtime_ns
    assert crossval.main([*arguments, "--out", str(run), "--epochs", "1", "--resume"]) == 0
    assert saved.stat().st_mtime_ns == before

    # A run compared with itself: no discordant images, p = 1.
    table = crossval.compare([run, run])
    assert table.count("| 0 / 0 | 1.000 |") == 2

    # Quantisation-aware fine-tuning of the same fold models (--base): same images scored.
    tuned = tmp_path / "cv_qat"
    options = ["--base", str(run), "--set", "qat_epochs=1", "--out", str(tuned)]
    assert crossval.main([*arguments, *options]) == 0
    assert (tuned / "fold_0" / "qat_history.csv").is_file()
    assert [row["path"] for row in crossval.read_rows(tuned)] == [row["path"] for row in rows]
    with pytest.raises(SystemExit) as exit_info:
        crossval.main(
            [*arguments, "--folds", "3", "--base", str(run), "--out", str(tmp_path / "x")]
        )
    assert exit_info.value.code == 2
    assert "scored other images" in capsys.readouterr().err


def test_compare_refuses_runs_on_other_folds(tmp_path: Path) -> None:
    for name, fold in (("a", "0"), ("b", "1")):
        (tmp_path / name).mkdir()
        row = _row("x.png", "Covid", "Covid", int(fold), (0.9, 0.05, 0.05))
        row.update({"float_prediction": "Covid"})
        with (tmp_path / name / crossval.PREDICTIONS_FILE).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
    with pytest.raises(SystemExit, match="same images in the same folds"):
        crossval.compare([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(SystemExit, match="not a finished"):
        crossval.compare([tmp_path / "missing"])


def test_distillation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        arguments = ["--preset", "tiny", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
        crossval.main([*arguments, "--set", "distill=0.5"])
    assert exit_info.value.code == 2
    assert "cannot be cross-validated" in capsys.readouterr().err
