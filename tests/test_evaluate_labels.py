"""Evaluation with corrected labels, the study's labels beside them, and selective figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from model_fixtures import write_tiny_model_dir
from PIL import Image

from tinyxray import evaluate


def _dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for index, label in enumerate(("Covid", "Normal", "Pneumonia")):
        folder = root / "test" / label
        folder.mkdir(parents=True)
        for number in range(4):
            pixels = rng.normal(50 + 78 * index, 20, size=(96, 96)).clip(0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{label}_{number}.png")
    (root / "label_corrections.csv").write_text(
        "file,sha256,published_label,label,reason\n"
        "test/Covid/Covid_0.png,,Covid,Pneumonia,a test of the correction\n"
    )
    return root


def test_report_gives_corrected_and_study_labels_and_selective(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    root = _dataset(tmp_path / "set")
    card = write_tiny_model_dir(tmp_path / "model")
    predictor = evaluate.Int8Predictor(card.parent / "model_int8.tflite")
    report = evaluate.evaluate([predictor], [str(root)], threshold=0.5)
    result = report["models"]["int8"]["sets"]["all"]
    predicted = report["_arrays"]["int8"]["all"]["probs"].argmax(1)
    targets = report["_arrays"]["int8"]["all"]["targets"]
    assert result["correct"] == int(np.sum(predicted == targets))
    assert result["study_labels"]["relabelled_images"] == 1
    published = targets.copy()
    published[0] = 0  # Covid_0.png is the first record and is Covid as published
    assert result["study_labels"]["correct"] == int(np.sum(predicted == published))
    assert "1 applied" in report["label_corrections"]
    chosen = result["selective"]["at_threshold"]
    confidence = report["_arrays"]["int8"]["all"]["probs"].max(1)
    assert chosen["answered"] == int(np.sum(confidence >= 0.5))
    assert 0.0 <= result["selective"]["aurc"] <= 1.0
    assert "macro_f1" in result["per_source"]["set"]
    text = evaluate.markdown(report, [])
    assert "study labels (as published, 1 image(s)" in text
    assert "Selective prediction" in text
    # The opt-out scores the labels as published.
    plain = evaluate.evaluate([predictor], [str(root)], threshold=0.5, study_labels=True)
    assert "study_labels" not in plain["models"]["int8"]["sets"]["all"]
    assert plain["models"]["int8"]["sets"]["all"]["correct"] == result["study_labels"]["correct"]
