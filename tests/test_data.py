"""Dataset scanning: layouts, label mapping, patient ids, bad files, the frame cache."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import data, frame_cache, preprocess

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SEED_SET = DATASETS / "covid19-image-dataset"
NIH_SET = DATASETS / "nih-cxr8-adult-subset"
needs_datasets = pytest.mark.skipif(
    not (SEED_SET.is_dir() and NIH_SET.is_dir()),
    reason=f"shared datasets not found at {DATASETS}",
)


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Covid", "Covid"),
        ("COVID-19", "Covid"),
        ("covid19", "Covid"),
        ("covid", "Covid"),
        ("Normal", "Normal"),
        ("normal", "Normal"),
        ("No_findings", "Normal"),
        ("no finding", "Normal"),
        ("Viral Pneumonia", "Pneumonia"),
        ("viral_pneumonia", "Pneumonia"),
        ("pneumonia", "Pneumonia"),
        ("Bacterial-Pneumonia", "Pneumonia"),
    ],
)
def test_canonical_label(name: str, label: str) -> None:
    assert data.canonical_label(name) == label


def test_unknown_class_names_the_class() -> None:
    with pytest.raises(data.UnknownClassError, match="'Tuberculosis'"):
        data.canonical_label("Tuberculosis")


def test_patient_id_from_nih_names_only() -> None:
    assert data.patient_id_from_name(Path("00000506_013.jpg")) == "00000506"
    assert data.patient_id_from_name(Path("0106.jpeg")) is None
    assert data.patient_id_from_name(Path("COVID-00003b.jpg")) is None


def test_class_folders_without_splits(tmp_path: Path) -> None:
    write_image(tmp_path / "set" / "COVID-19" / "a.png")
    write_image(tmp_path / "set" / "No_findings" / "00000001_000.png", 1)
    scan = data.scan_dataset(tmp_path / "set")
    assert [(r.label, r.source, r.original_split) for r in scan.records] == [
        ("Covid", "set", None),
        ("Normal", "set", None),
    ]
    assert scan.records[1].patient_id == "00000001"
    assert scan.skipped == []


def test_train_test_and_roboflow_valid_splits(tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        write_image(tmp_path / "rf" / split / "Viral Pneumonia" / f"{split}.png")
    scan = data.scan_dataset(tmp_path / "rf", source="roboflow")
    assert sorted(r.original_split for r in scan.records) == ["test", "train", "validation"]
    assert {r.label for r in scan.records} == {"Pneumonia"}
    assert {r.source for r in scan.records} == {"roboflow"}


def test_roboflow_classes_csv(tmp_path: Path) -> None:
    split = tmp_path / "rf" / "train"
    write_image(split / "one.jpg")
    write_image(split / "two.jpg", 1)
    write_image(split / "both.jpg", 2)
    (split / "_classes.csv").write_text(
        "filename, COVID, Normal, Viral Pneumonia\n"
        "one.jpg,1,0,0\n"
        "two.jpg,0,0,1\n"
        "both.jpg,1,1,0\n"
        "gone.jpg,0,1,0\n"
    )
    scan = data.scan_dataset(tmp_path / "rf")
    assert [(r.path.name, r.label, r.original_split) for r in scan.records] == [
        ("one.jpg", "Covid", "train"),
        ("two.jpg", "Pneumonia", "train"),
    ]
    reasons = {path.name: reason for path, reason in scan.skipped}
    assert "exactly one label" in reasons["both.jpg"]
    assert "missing" in reasons["gone.jpg"]


def test_unknown_class_folder_and_mixed_layout_raise(tmp_path: Path) -> None:
    write_image(tmp_path / "a" / "Fracture" / "x.png")
    with pytest.raises(data.UnknownClassError, match="Fracture"):
        data.scan_dataset(tmp_path / "a")
    write_image(tmp_path / "b" / "train" / "Normal" / "x.png")
    write_image(tmp_path / "b" / "Normal" / "y.png")
    with pytest.raises(data.DatasetError, match="mixes split folders"):
        data.scan_dataset(tmp_path / "b")
    with pytest.raises(FileNotFoundError):
        data.scan_dataset(tmp_path / "absent")


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "set" / "Normal"
    write_image(folder / "good.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    (folder / "fake.jpg").write_bytes(b"GIF? no" * 20)
    write_image(folder / "tiny.png", size=(20, 300))
    buffer = io.BytesIO()
    Image.fromarray(np.full((300, 300), 99, dtype=np.uint8)).save(buffer, format="JPEG")
    (folder / "cut.jpg").write_bytes(buffer.getvalue()[:400])
    (folder / ".DS_Store").write_bytes(b"\0\1")

    quick = data.scan_dataset(tmp_path / "set")
    reasons = {path.name: reason for path, reason in quick.skipped}
    assert "not an image file" in reasons["notes.txt"]
    assert reasons["empty.png"] == "empty file"
    assert "not an image" in reasons["fake.jpg"]
    assert "too small" in reasons["tiny.png"]
    assert ".DS_Store" not in reasons
    # The header of the cut JPEG is intact: only a full decode finds the damage.
    assert {r.path.name for r in quick.records} == {"good.png", "cut.jpg"}
    full = data.scan_dataset(tmp_path / "set", decode=True)
    assert {r.path.name for r in full.records} == {"good.png"}
    assert "truncated" in dict((p.name, r) for p, r in full.skipped)["cut.jpg"]


def test_several_roots_keep_their_source(tmp_path: Path) -> None:
    write_image(tmp_path / "first" / "Covid" / "a.png")
    write_image(tmp_path / "second" / "train" / "Normal" / "b.png", 1)
    combined = data.scan_datasets([tmp_path / "first", tmp_path / "second"])
    assert [r.source for r in combined.records] == ["first", "second"]
    named = data.scan_datasets([tmp_path / "first", tmp_path / "second"], ["x", "y"])
    assert named.counts() == {"x/-/Covid": 1, "y/train/Normal": 1}


def test_frame_cache_decodes_once_and_caches_failures(tmp_path: Path) -> None:
    image = write_image(tmp_path / "img" / "a.png", size=(130, 90))
    copy = tmp_path / "img" / "copy.png"
    copy.write_bytes(image.read_bytes())
    broken = tmp_path / "img" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    cache = frame_cache.FrameCache(tmp_path / "cache")
    config = preprocess.PreprocessConfig()
    first = cache.frame(image, config)
    np.testing.assert_array_equal(first, preprocess.preprocess_file(image, config))
    np.testing.assert_array_equal(cache.frame(copy, config), first)  # Same bytes, one entry.
    assert (cache.misses, cache.hits) == (1, 1)
    with pytest.raises(preprocess.ImageError):
        cache.entry(broken)
    with pytest.raises(preprocess.ImageError):
        cache.entry(broken)
    assert (cache.misses, cache.hits) == (2, 2)
    entry = cache.entry(image)
    assert (entry.height, entry.width) == (90, 130)
    assert entry.pixel_sha256 == frame_cache.pixel_sha256(preprocess.load_grayscale(image))


def test_frame_cache_location_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(frame_cache.ENV_VAR, str(tmp_path / "elsewhere"))
    assert frame_cache.FrameCache().directory == tmp_path / "elsewhere"
    monkeypatch.delenv(frame_cache.ENV_VAR)
    assert frame_cache.default_directory() == frame_cache.REPO_ROOT / ".cache"


def test_load_frames_reports_skipped(tmp_path: Path) -> None:
    good = write_image(tmp_path / "set" / "Normal" / "good.png")
    bad = tmp_path / "set" / "Normal" / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    records = [data.ImageRecord(good, "Normal", "set"), data.ImageRecord(bad, "Normal", "set")]
    frames = frame_cache.load_frames(records, cache=frame_cache.FrameCache(tmp_path / "c"))
    assert frames.frames.shape == (1, 96, 96)
    assert [r.path for r in frames.records] == [good]
    assert frames.skipped[0][0] == bad


@needs_datasets
@pytest.mark.dataset
def test_scan_shared_datasets() -> None:
    published = data.scan_datasets([SEED_SET, NIH_SET], corrections=False).counts()
    assert published["covid19-image-dataset/test/Covid"] == 26
    assert published["covid19-image-dataset/train/Pneumonia"] == 70
    scan = data.scan_datasets([SEED_SET, NIH_SET])  # label corrections applied
    assert scan.skipped == []
    counts = scan.counts()
    assert counts["covid19-image-dataset/test/Covid"] == 25  # test/Covid/0113.jpg
    assert counts["covid19-image-dataset/train/Pneumonia"] == 70 + 18
    nih = [r for r in scan.records if r.source == "nih-cxr8-adult-subset"]
    assert len(nih) == 480 and all(r.patient_id for r in nih)
    assert all(r.original_split is None for r in nih)
