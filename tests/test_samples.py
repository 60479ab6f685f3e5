"""models/samples: steps 1-3 frames of leak-free TEST images, balanced, with attribution."""

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import preprocess, samples

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "models" / "samples"
SHARED = REPO.parent / "shared" / "datasets"


def _rows() -> list[dict]:
    if not (SAMPLES / "samples.csv").exists():
        pytest.skip("no committed sample frames yet")
    with (SAMPLES / "samples.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_frames_are_small_balanced_96x96_grayscale():
    rows = _rows()
    assert 0 < len(rows) <= 66
    counts = Counter((row["source"], row["label"]) for row in rows)
    assert len(set(counts.values())) == 1, counts
    for row in rows:
        with Image.open(SAMPLES / row["file"]) as image:
            assert image.mode == "L" and image.size == (96, 96)
    text = (SAMPLES / "ATTRIBUTION.md").read_text().lower()
    assert "research use only" in text and "nih clinical center" in text


def test_samples_come_from_the_leak_free_test_split():
    rows = _rows()
    split_file = REPO / "models" / "default" / "split.csv"
    if not split_file.exists():
        pytest.skip("no default split.csv")
    with split_file.open(newline="") as handle:
        split_rows = list(csv.DictReader(handle))
    test_files = {(r["source"], r["file"]) for r in split_rows if r["split"] == "test"}
    for row in rows:
        assert any(
            source == row["source"] and file.endswith("/" + row["original"])
            for source, file in test_files
        ), row


def test_full_pipeline_on_sample_equals_pipeline_on_original():
    rows = _rows()
    split_file = REPO / "models" / "default" / "split.csv"
    if not SHARED.is_dir() or not split_file.exists():
        pytest.skip("../shared/datasets not present")
    config = preprocess.PreprocessConfig()
    for row in rows[:: max(1, len(rows) // 8)]:
        original = SHARED / row["source"] / row["original"]
        expected = preprocess.preprocess_file(original, config)
        np.testing.assert_array_equal(
            preprocess.preprocess_file(SAMPLES / row["file"], config), expected
        )


def test_export_samples_rejects_a_split_without_test(tmp_path):
    split = tmp_path / "split.csv"
    split.write_text("file,label,source,original_split,patient_id,split,component\n")
    with pytest.raises(ValueError):
        samples.export_samples(split, tmp_path / "out")
