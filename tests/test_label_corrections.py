"""Label corrections: the file format, applying them at scan, opting out, the shared seed set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import data, label_corrections

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SEED_SET = DATASETS / "covid19-image-dataset"
HEADER = "file,sha256,published_label,label,reason\n"


def write_image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "set"
    for number in range(4):
        write_image(root / "train" / "Covid" / f"c{number}.png", number)
    write_image(root / "test" / "Normal" / "n0.png", 10)
    return root


def test_corrections_relabel_exclude_keep_and_refuse(dataset: Path) -> None:
    c0, c1 = dataset / "train/Covid/c0.png", dataset / "train/Covid/c1.png"
    (dataset / label_corrections.ROOT_FILE).write_text(
        "# reviewed by hand\n"
        + HEADER
        + f"train/Covid/c0.png,{sha256(c0)},Covid,Viral Pneumonia,SARS\n"
        + f"train/Covid/c1.png,{sha256(c1)},Covid,exclude,not a chest film\n"
        + "train/Covid/c2.png,,Covid,Covid,looked again: COVID-19\n"
        + f"train/Covid/c3.png,{'0' * 64},Covid,Normal,made for other bytes\n"
        + "test/Normal/n0.png,,Covid,Normal,the dataset no longer says Covid\n"
        + "train/Covid/gone.png,,Covid,Normal,not in the dataset\n"
    )
    scan = data.scan_dataset(dataset)
    by_name = {record.path.name: record for record in scan.records}
    assert by_name["c0.png"].label == "Pneumonia"
    assert by_name["c0.png"].published_label == "Covid"
    assert by_name["c0.png"].study_label == "Covid"
    assert "c1.png" not in by_name
    assert any(path.name == "c1.png" and "label-correction" in why for path, why in scan.skipped)
    assert by_name["c2.png"].label == "Covid" and by_name["c2.png"].published_label is None
    assert by_name["c3.png"].label == "Covid"  # other bytes: not applied
    assert by_name["n0.png"].label == "Normal"
    status = {Path(outcome.file).name: outcome.status for outcome in scan.corrections}
    assert status["c0.png"] == "relabelled"
    assert status["c1.png"] == "excluded"
    assert status["c2.png"] == "kept"
    assert "content differs" in status["c3.png"]
    assert "labels it Normal" in status["n0.png"]
    assert "no such image" in status["gone.png"]
    line = scan.corrections_line()
    assert "2 applied" in line and "Covid->Pneumonia 1" in line and "excluded 1" in line


def test_study_labels_opt_out_leaves_the_dataset_as_published(dataset: Path) -> None:
    (dataset / label_corrections.ROOT_FILE).write_text(
        HEADER + "train/Covid/c0.png,,Covid,Pneumonia,SARS\n"
    )
    scan = data.scan_dataset(dataset, corrections=False)
    assert {record.label for record in scan.records} == {"Covid", "Normal"}
    assert scan.corrections == []
    assert "not applied" in scan.corrections_line()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,label\n", "expected the columns"),
        (HEADER + "a.png,,Covid,Tuberculosis,x\n", "line 2: unknown class 'Tuberculosis'"),
        (HEADER + "a.png,abc,Covid,Normal,x\n", "64 hex digits"),
        (HEADER + "a.png,,Covid,Normal\n", "expected 5 fields"),
        (HEADER + "a.png,,Covid,Normal,x\na.png,,Covid,Normal,y\n", "listed twice"),
        ("# only a comment\n", "no header"),
    ],
)
def test_malformed_correction_files_name_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "corrections.csv"
    path.write_text(text)
    with pytest.raises(label_corrections.CorrectionFileError, match=message):
        label_corrections.read(path)


def test_a_dataset_file_takes_precedence_over_the_bundled_one(tmp_path: Path) -> None:
    root = tmp_path / "covid19-image-dataset"
    root.mkdir()
    assert label_corrections.correction_file(root).parent == label_corrections.BUNDLED
    (root / label_corrections.ROOT_FILE).write_text(HEADER)
    assert label_corrections.correction_file(root) == root / label_corrections.ROOT_FILE
    assert label_corrections.correction_file(tmp_path / "elsewhere") is None


@pytest.mark.dataset
@pytest.mark.skipif(not SEED_SET.is_dir(), reason=f"shared datasets not found at {DATASETS}")
def test_bundled_corrections_of_the_seed_set_apply_to_its_files() -> None:
    scan = data.scan_dataset(SEED_SET)
    statuses = [outcome.status for outcome in scan.corrections]
    assert statuses.count("relabelled") == 21 and statuses.count("kept") == 1
    assert label_corrections.summary(scan.corrections) == {
        "Covid->Normal": 2,
        "Covid->Pneumonia": 19,
        "kept": 1,
    }
    by_name = {r.path.relative_to(SEED_SET).as_posix(): r for r in scan.records}
    test_image = by_name["test/Covid/0113.jpg"]
    assert (test_image.label, test_image.study_label) == ("Pneumonia", "Covid")
    assert by_name["train/Covid/COVID-00023.jpg"].label == "Normal"
    assert by_name["train/Covid/062.jpeg"].label == "Covid"
    originals = data.scan_dataset(SEED_SET, corrections=False).records
    assert sum(record.label == "Covid" for record in originals) == 113 + 21
