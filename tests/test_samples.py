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
    assert max(counts.values()) == 4 and min(counts.values()) >= 1, counts
    for row in rows:
        with Image.open(SAMPLES / row["file"]) as image:
            assert image.mode == "L" and image.size == (96, 96)
    text = (SAMPLES / "ATTRIBUTION.md").read_text().lower()
    assert "research use only" in text and "nih clinical center" in text
    for source in {row["source"] for row in rows}:
        assert source in text  # every source the frames come from is credited
    # Frames of the case-report sources carry their licence; none forbids adaptations.
    for row in rows:
        assert "ND" not in row.get("licence", "").upper().replace("-", " ").split()


def test_export_keeps_one_frame_per_component_and_shareable_licences(tmp_path):
    root = tmp_path / "reports"
    (root / "Pneumonia").mkdir(parents=True)
    for name in ("1_a.png", "1_b.png", "2_c.png", "3_d.png"):
        Image.fromarray(np.full((40, 40), 100, np.uint8)).save(root / "Pneumonia" / name)
    (root / "patients.csv").write_text(
        "file,patientid,license,source_url\n"
        "Pneumonia/1_a.png,1,CC BY-NC-SA,https://a\nPneumonia/1_b.png,1,CC BY-NC-SA,https://a\n"
        "Pneumonia/2_c.png,2,CC BY-NC-ND,https://c\nPneumonia/3_d.png,3,,https://d\n"
    )
    split = tmp_path / "split.csv"
    header = "file,label,source,original_split,patient_id,split,component\n"
    lines = [
        f"{root / 'Pneumonia' / name},Pneumonia,reports,,{patient},test,{patient}\n"
        for name, patient in (("1_a.png", 1), ("1_b.png", 1), ("2_c.png", 2), ("3_d.png", 3))
    ]
    split.write_text(header + "".join(lines))
    written = samples.export_samples(split, tmp_path / "out")
    assert [row["original"] for row in written] == ["Pneumonia/1_a.png"]
    assert written[0]["licence"] == "CC BY-NC-SA" and written[0]["source_url"] == "https://a"


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
