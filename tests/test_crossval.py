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


def _two_sources(root: Path) -> list[str]:
    """Two synthetic sources sharing Covid and Normal; only the first has Pneumonia."""
    first = write_synthetic_dataset(root / "first")
    second = write_synthetic_dataset(root / "second", seed=1)
    for path in (second / "Pneumonia").iterdir():
        path.unlink()
    (second / "Pneumonia").rmdir()
    return [str(first), str(second)]


@pytest.mark.slow
def test_leave_one_source_out_trains_on_the_other_sources(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    roots = _two_sources(tmp_path / "data")
    common = ["--preset", "tiny", "--epochs", "1", "--data", *roots, "--quiet"]
    kfold = tmp_path / "cv"
    assert crossval.main([*common, "--folds", "2", "--out", str(kfold)]) == 0
    loso = tmp_path / "loso"
    options = ["--by-source", "--in-source", str(kfold), "--out", str(loso)]
    assert crossval.main([*common, *options]) == 0

    config = json.loads((loso / "config.json").read_text())
    assert [fold["name"] for fold in config["folds"]] == ["first", "second"]
    rows = crossval.read_rows(loso)
    pool = {row["path"]: row["source"] for row in crossval.read_rows(kfold)}
    assert {row["path"] for row in rows} == set(pool)  # the same images, each once
    by_source = {"first": 0, "second": 0}
    for row in rows:
        by_source[row["source"]] += 1
        assert row["fold"] == str(["first", "second"].index(row["source"]))
    # Each fold trained on exactly the other source's pool images.
    assert [fold["trained"] for fold in config["folds"]] == [
        by_source["second"],
        by_source["first"],
    ]
    summary = json.loads((loso / "crossval.json").read_text())
    assert set(summary["int8_figures_by_source"]) == {"first", "second"}
    second = summary["int8_figures_by_source"]["second"]
    assert set(second["recall"]) == {"Covid", "Normal"}  # no Pneumonia in that source
    gaps = summary["in_source"]["by_source"]
    for source, gap in gaps.items():
        expected = gap["held_out"]["accuracy"] - gap["in_source"]["accuracy"]
        assert gap["gap"]["difference"] == pytest.approx(expected), source
    text = (loso / "crossval.md").read_text()
    assert "Leave-one-source-out" in text and "gap (held out − in source)" in text
    assert "| second |" in text

    # Per-fold teachers: distillation from the leave-one-source-out run's own fold models.
    distilled = tmp_path / "loso_distill"
    teacher = ["--teacher-cv", str(loso), "--set", "distill=0.5"]
    assert crossval.main([*common, "--by-source", "--out", str(distilled), *teacher]) == 0
    assert [row["path"] for row in crossval.read_rows(distilled)] == [row["path"] for row in rows]
    table = crossval.compare([loso, distilled])
    assert "| first |" in table and "| second |" in table


def test_leave_one_source_out_needs_two_sources_sharing_a_class(
    tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    root = write_synthetic_dataset(tmp_path / "data")
    arguments = ["--by-source", "--preset", "tiny", "--data", str(root), "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        crossval.main([*arguments, "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "at least two sources that share a class" in capsys.readouterr().err
