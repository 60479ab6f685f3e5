"""The optional interference flagger on synthetic images with known defects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import data, quality

SIZE = 512


def clean_image() -> np.ndarray:
    """A smooth mid-grey picture without borders, white areas or marks."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    return (110 + 60 * np.sin(6 * rows) * np.cos(5 * cols)).astype(np.uint8)


def test_clean_image_is_not_flagged() -> None:
    measures = quality.measure(clean_image())
    assert measures.reasons(quality.QualityThresholds()) == []


def test_black_frame_is_a_border() -> None:
    image = clean_image()
    image[:, : SIZE // 8] = 0  # 12.5% of the width.
    measures = quality.measure(image)
    assert measures.border == pytest.approx(0.125, abs=0.01)
    assert measures.reasons(quality.QualityThresholds())[0].startswith("border")


def test_large_white_patch_is_saturated() -> None:
    image = clean_image()
    image[300:450, 100:400] = 255  # 17% of the picture.
    measures = quality.measure(image)
    assert measures.saturated == pytest.approx(150 * 300 / SIZE**2, abs=0.01)
    assert any(r.startswith("saturated") for r in measures.reasons(quality.QualityThresholds()))


def test_bright_marks_in_the_margin() -> None:
    image = clean_image()
    marks = image.copy()
    for top in range(6, 50, 12):  # Rows of small letter-like dots along the top margin.
        for left in range(6, SIZE - 6, 12):
            marks[top : top + 5, left : left + 5] = 255
    centre = image.copy()
    centre[200:312:12, 200:312] = 255  # Bright lines in the middle do not count.
    thresholds = quality.QualityThresholds()
    assert quality.measure(marks).margin_marks > thresholds.margin_marks
    assert quality.measure(centre).margin_marks == 0.0
    assert quality.measure(image).margin_marks == 0.0


def test_flag_records_reports_unreadable_files(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(clean_image()).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    rows = quality.flag_records(
        [data.ImageRecord(good, "Normal", "t"), data.ImageRecord(bad, "Normal", "t")]
    )
    assert rows[0]["reasons"] == [] and rows[0]["border"] < 0.02
    assert rows[1]["reasons"][0].startswith("unreadable")
