"""Duplicate grouping and leak-free splits: synthetic images, random properties, the real set."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tinyxray import audit, data, frame_cache

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SEED_SET = DATASETS / "covid19-image-dataset"
NIH_SET = DATASETS / "nih-cxr8-adult-subset"
needs_datasets = pytest.mark.skipif(
    not (SEED_SET.is_dir() and NIH_SET.is_dir()),
    reason=f"shared datasets not found at {DATASETS}",
)


def smooth_field(seed: int, height: int = 240, width: int = 300) -> np.ndarray:
    """A random smooth picture (sum of a few random waves): structure at every scale."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.zeros((height, width))
    for _ in range(12):
        fy, fx = rng.uniform(0.5, 8.0, 2)
        image += rng.normal() * np.cos(2 * np.pi * (fy * rows + fx * cols) + rng.uniform(0, 6))
    image = (image - image.min()) / (image.max() - image.min())
    return (image * 255).astype(np.uint8)


def synthetic_set(root: Path) -> dict[str, Path]:
    """train/test folders with an exact copy, a re-encoding, a near copy and unrelated images."""
    base = Image.fromarray(smooth_field(1))
    paths = {
        "original": root / "test" / "Covid" / "original.png",
        "file_copy": root / "train" / "Covid" / "file_copy.png",
        "bmp_copy": root / "train" / "Covid" / "bmp_copy.bmp",
        "near_copy": root / "train" / "Covid" / "near_copy.jpg",
        "unrelated": root / "train" / "Covid" / "unrelated.png",
        "other": root / "test" / "Normal" / "other.png",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    base.save(paths["original"])
    paths["file_copy"].write_bytes(paths["original"].read_bytes())
    base.save(paths["bmp_copy"])
    near = base.resize((210, 168), Image.BILINEAR).filter(ImageFilter.GaussianBlur(1.2))
    near.save(paths["near_copy"], quality=80)
    Image.fromarray(smooth_field(2)).save(paths["unrelated"])
    Image.fromarray(smooth_field(3)).save(paths["other"])
    return paths


def test_groups_exact_pixel_and_near_copies(tmp_path: Path) -> None:
    paths = synthetic_set(tmp_path / "set")
    scan = data.scan_dataset(tmp_path / "set")
    result = audit.audit_records(scan.records, frame_cache.FrameCache(tmp_path / "cache"))
    names = [record.path.stem for record in result.records]
    groups = [sorted(names[m] for m in group) for group in result.duplicate_groups]
    assert groups == [["bmp_copy", "file_copy", "near_copy", "original"]]
    assert {link.kind for link in result.links} == {"file", "pixels", "near"}
    distances = audit.hamming_matrix(result.hashes)
    index = {name: names.index(name) for name in names}
    assert distances[index["original"], index["near_copy"]] <= audit.NEAR_THRESHOLD
    assert distances[index["original"], index["unrelated"]] > 2 * audit.NEAR_THRESHOLD
    assert set(paths) == set(names)


def test_split_moves_test_copies_out_of_train(tmp_path: Path) -> None:
    synthetic_set(tmp_path / "set")
    scan = data.scan_dataset(tmp_path / "set")
    result = audit.audit_records(scan.records, frame_cache.FrameCache(tmp_path / "cache"))
    split = audit.split_audit(result, seed=3)
    by_name = {record.path.stem: split.split[i] for i, record in enumerate(result.records)}
    assert by_name["original"] == "test" and by_name["other"] == "test"
    for copy in ("file_copy", "bmp_copy", "near_copy"):
        assert by_name[copy] == audit.EXCLUDED
    assert by_name["unrelated"] in ("train", "validation")
    report = audit.report_dict(result, split)
    assert report["summary"]["groups_crossing_original_splits"] == 1
    assert report["summary"]["groups_crossing_leak_free_splits"] == 0
    json.dumps(report)  # JSON-able.
    assert "original.png" in audit.report_markdown(report)


def test_hamming_matrix_by_hand() -> None:
    hashes = np.array([[1, 0, 1, 0], [1, 1, 1, 0], [0, 1, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(audit.hamming_matrix(hashes), [[0, 1, 4], [1, 0, 3], [4, 3, 0]])


def test_union_find() -> None:
    groups = audit.UnionFind(6)
    groups.union(4, 1)
    groups.union(1, 3)
    groups.union(5, 2)
    assert groups.groups() == [[0], [1, 3, 4], [2, 5]]


def random_problem(seed: int) -> tuple[list[data.ImageRecord], list[list[int]], list[list[int]]]:
    """Records from a split source and a splitless one, grouped at random."""
    rng = np.random.default_rng(seed)
    records = []
    for index in range(300):
        split_source = index < 150
        original = rng.choice(["train", "train", "train", "test"]) if split_source else None
        records.append(
            data.ImageRecord(
                path=Path(f"/x/{index:03d}.png"),
                label=str(rng.choice(data.LABELS)),
                source="seed" if split_source else "other",
                original_split=None if original is None else str(original),
            )
        )
    union = audit.UnionFind(len(records))
    duplicates = audit.UnionFind(len(records))
    for _ in range(120):
        first, second = (int(v) for v in rng.integers(0, len(records), 2))
        union.union(first, second)
        if rng.random() < 0.5:
            duplicates.union(first, second)
    for group in duplicates.groups():
        for member in group[1:]:
            union.union(group[0], member)
    duplicate_groups = [group for group in duplicates.groups() if len(group) > 1]
    return records, union.groups(), duplicate_groups


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_property_no_group_crosses_splits(seed: int) -> None:
    records, components, duplicate_groups = random_problem(seed)
    result = audit.leak_free_split(records, components, seed, (0.7, 0.1, 0.2), duplicate_groups)
    assert set(result.split) <= {"train", "validation", "test", audit.EXCLUDED}
    for members in components:
        used = {result.split[m] for m in members} - {audit.EXCLUDED}
        assert len(used) <= 1, [records[m].path for m in members]
        if any(records[m].original_split == "test" for m in members):
            assert used == {"test"}
    # Original test images stay in test unless they duplicate another test image.
    for index, record in enumerate(records):
        if record.original_split == "test":
            assert result.split[index] in ("test", audit.EXCLUDED)
    # Each duplicate group has at most one image in validation and one in test.
    for group in duplicate_groups:
        for name in ("validation", "test"):
            assert sum(result.split[m] == name for m in group) <= 1
    # Deterministic for a seed; another seed gives another division.
    again = audit.leak_free_split(records, components, seed, (0.7, 0.1, 0.2), duplicate_groups)
    assert again.split == result.split
    other = audit.leak_free_split(
        records, components, seed + 100, (0.7, 0.1, 0.2), duplicate_groups
    )
    assert other.split != result.split


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_property_folds_keep_groups_whole(seed: int) -> None:
    records, components, duplicate_groups = random_problem(seed)
    split = audit.leak_free_split(records, components, seed, (0.7, 0.1, 0.2), duplicate_groups)
    pool = [i for i, name in enumerate(split.split) if name in ("train", "validation")]
    fold = audit.group_folds(records, components, pool, 4, seed)
    assert {fold[i] for i in pool} == {0, 1, 2, 3}
    assert all(fold[i] == -1 for i in range(len(records)) if i not in set(pool))
    for members in components:
        assert len({fold[m] for m in members if m in set(pool)}) <= 1
    # Folds are even in images up to one group: greedy on the fewest-images fold.
    sizes = np.bincount([fold[i] for i in pool], minlength=4)
    largest = max(len(members) for members in components)
    assert sizes.max() - sizes.min() <= 2 * largest
    assert audit.group_folds(records, components, pool, 4, seed) == fold


def test_folds_need_two_folds_and_enough_groups() -> None:
    records = [data.ImageRecord(Path(f"/z/{i}.png"), "Normal", "s") for i in range(4)]
    with pytest.raises(ValueError, match="at least 2 folds"):
        audit.group_folds(records, [[0, 1, 2, 3]], range(4), 1)
    with pytest.raises(ValueError, match="too few groups"):
        audit.group_folds(records, [[0, 1], [2, 3]], range(4), 3)


def test_splitless_source_follows_fractions() -> None:
    records = [
        data.ImageRecord(Path(f"/y/{i}.png"), data.LABELS[i % 3], "s", None, str(i // 2))
        for i in range(600)
    ]
    components = [[i, i + 1] for i in range(0, 600, 2)]
    result = audit.leak_free_split(records, components, seed=7)
    counts = {name: result.split.count(name) for name in data.SPLITS}
    assert counts == {"train": 420, "validation": 60, "test": 120}
    with pytest.raises(ValueError, match="fractions"):
        audit.leak_free_split(records, components, fractions=(0.5, 0.5, 0.5))


@needs_datasets
@pytest.mark.dataset
@pytest.mark.slow  # About 35 s with a cold frame cache (decodes 794 files), 3 s warm.
def test_shared_datasets_known_duplicates_and_leak_free_split() -> None:
    scan = data.scan_datasets([SEED_SET, NIH_SET])
    result = audit.audit_records(scan.records)
    names = ["/".join(r.path.parts[-3:]) for r in result.records]
    group_of = {names[m]: n for n, group in enumerate(result.duplicate_groups) for m in group}
    # Known copies of test images in train (same file, and a re-windowed copy).
    for test_name, train_name in [
        ("test/Covid/COVID-00012.jpg", "train/Covid/COVID-00012.jpg"),
        (
            "test/Covid/radiopaedia-2019-novel-coronavirus-infected-pneumonia.jpg",
            "train/Covid/069.jpg",
        ),
        ("test/Covid/0112.jpg", "train/Covid/090.jpeg"),
        ("test/Covid/0100.jpeg", "train/Covid/COVID-00022.jpg"),
    ]:
        assert group_of[test_name] == group_of[train_name]
    split = audit.split_audit(result, seed=0)
    assert audit.report_dict(result, split)["summary"]["groups_crossing_leak_free_splits"] == 0
    # No picture of the leak-free test set is within the threshold of a training picture.
    train = np.array(split.indices("train") + split.indices("validation"))
    test = np.array(split.indices("test"))
    distances = audit.hamming_matrix(result.hashes)[np.ix_(test, train)]
    assert distances.min() > audit.NEAR_THRESHOLD
    assert not {result.pixel_sha256[i] for i in test} & {result.pixel_sha256[i] for i in train}
    # NIH patients never cross splits.
    patient_splits: dict[str, set[str]] = {}
    for index, record in enumerate(result.records):
        if record.patient_id:
            patient_splits.setdefault(record.patient_id, set()).add(split.split[index])
    assert all(len(splits - {audit.EXCLUDED}) == 1 for splits in patient_splits.values())
    assert dataclasses.is_dataclass(split)


def test_audit_command_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    synthetic_set(tmp_path / "set")
    out = tmp_path / "out"
    assert (
        audit.main([str(tmp_path / "set"), "--out", str(out), "--cache", str(tmp_path / "c")]) == 0
    )
    report = json.loads((out / "audit.json").read_text())
    assert report["summary"]["duplicate_groups"] == 1
    assert "set/train/Covid/file_copy.png" in (out / "audit.md").read_text()
    assert (out / "split.csv").read_text().count("\n") == 7
    assert "1 duplicate groups" in capsys.readouterr().out
