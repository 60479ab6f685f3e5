"""Self-training on unlabelled images (issue 15): pseudo-label selection, label hiding,
copies of held-out images dropped, and `train --unlabelled` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import write_synthetic_dataset

from tinyxray import audit, data, folds, semi_supervised

# -- pseudo-label selection (pure functions) -------------------------------------------------


def test_class_caps_keep_the_labelled_share_of_the_confident_images() -> None:
    labelled = np.array([0] * 10 + [1] * 20 + [2] * 10)  # shares 1/4, 1/2, 1/4
    assert semi_supervised.class_caps(labelled, 40, 3).tolist() == [10, 20, 10]
    assert semi_supervised.class_caps(labelled, 6, 3).tolist() == [2, 3, 2]  # ceil(1.5) = 2
    thirds = np.array([0, 1, 2] * 10)
    assert semi_supervised.class_caps(thirds, 30, 3).tolist() == [10, 10, 10]  # not 11
    # A class with no labelled image gets no pseudo-label.
    assert semi_supervised.class_caps(np.array([0, 0, 1]), 9, 3).tolist() == [6, 3, 0]


def test_selection_thresholds_then_caps_each_class_most_confident_first() -> None:
    probs = np.array(
        [
            [0.95, 0.03, 0.02],  # 0: Covid, confident
            [0.97, 0.02, 0.01],  # 1: Covid, most confident
            [0.91, 0.05, 0.04],  # 2: Covid, confident, least of the three
            [0.10, 0.85, 0.05],  # 3: Normal, below the threshold
            [0.02, 0.93, 0.05],  # 4: Normal, confident
            [0.01, 0.01, 0.98],  # 5: Pneumonia, confident
            [0.90, 0.05, 0.05],  # 6: Covid, exactly at the threshold
        ]
    )
    labelled = np.array([0, 1, 2] * 4)  # balanced classes
    selection = semi_supervised.select_pseudo_labels(probs, 0.9, labelled)
    # Six confident images; caps ceil(6/3) = 2 per class: Covid keeps its two most confident.
    assert selection.confident.tolist() == [4, 1, 1]
    assert selection.cap.tolist() == [2, 2, 2]
    assert selection.kept.tolist() == [0, 1, 4, 5]
    assert selection.labels.tolist() == [0, 0, 1, 2]
    assert selection.kept_per_class.tolist() == [2, 1, 1]
    # Threshold 0.99: nothing is kept; threshold 0: every image is a candidate.
    assert len(semi_supervised.select_pseudo_labels(probs, 0.99, labelled).kept) == 0
    everything = semi_supervised.select_pseudo_labels(probs, 0.0, labelled)
    assert everything.confident.sum() == 7 and everything.cap.tolist() == [3, 3, 3]
    assert everything.kept.tolist() == [0, 1, 2, 3, 4, 5]  # Covid 6 (0.90) is the fourth
    with pytest.raises(ValueError, match="ssl_threshold"):
        semi_supervised.select_pseudo_labels(probs, 1.5, labelled)


def test_student_set_carries_soft_targets_and_the_pseudo_label_weight() -> None:
    frames = np.zeros((2, 4, 4, 1), np.uint8)
    labelled = semi_supervised.TrainingSet.labelled(
        frames, np.array([0, 1]), np.array(["a", "a"], dtype=object)
    )
    unlabelled = semi_supervised.UnlabelledSet(
        [semi_supervised.UnlabelledImage(Path(f"u{i}.png"), "u") for i in range(3)],
        np.full((3, 4, 4, 1), 7, np.uint8),
        audit.Fingerprints(["x"] * 3, ["y"] * 3, np.zeros((3, audit.HASH_BITS), bool)),
    )
    probs = np.array([[0.95, 0.05, 0.0], [0.2, 0.5, 0.3], [0.0, 0.08, 0.92]])
    selection = semi_supervised.select_pseudo_labels(probs, 0.9, np.array([0, 1, 2]))
    student = semi_supervised.student_set(labelled, unlabelled, probs, selection, 0.5)
    assert student.labels.tolist() == [0, 1, 0, 2]
    assert student.sources.tolist() == ["a", "a", "u", "u"]
    assert np.allclose(student.targets[2:], probs[[0, 2]])
    assert np.array_equal(student.targets[:2], np.eye(3)[[0, 1]])
    assert student.scale.tolist() == [1.0, 1.0, 0.5, 0.5]
    assert np.all(student.frames[2:] == 7)


def test_training_weights_multiply_class_balance_by_the_pseudo_label_scale() -> None:
    from tinyxray import model, train

    labels = np.array([0, 0, 0, 1])
    scale = np.array([1.0, 1.0, 0.5, 0.5], np.float32)
    balanced = model.get_preset("tiny", class_balance=True)
    base = train.balancing_weights(balanced, labels)
    assert base is not None
    assert np.allclose(train.training_weights(balanced, labels, None, scale), base * scale)
    assert np.allclose(train.training_weights(model.get_preset("tiny"), labels, None, scale), scale)
    assert train.training_weights(model.get_preset("tiny"), labels) is None


# -- label hiding ------------------------------------------------------------------------------


def _records_and_components() -> tuple[list[data.ImageRecord], list[list[int]]]:
    """Two sources, three classes; some patients with two or three images."""
    records, components = [], []
    for source in ("first", "second"):
        for label in data.LABELS:
            for patient in range(12):
                size = 1 + patient % 3
                start = len(records)
                for image in range(size):
                    name = f"{source}/{label}/p{patient}_{image}.png"
                    records.append(data.ImageRecord(Path(name), label, source, None, f"p{patient}"))
                components.append(list(range(start, start + size)))
    return records, components


def test_label_hiding_keeps_whole_groups_stratified_and_the_scored_fold_untouched() -> None:
    records, components = _records_and_components()
    pool = np.arange(len(records))
    fold_list = folds.group_kfold(records, components, pool, 3, seed=5)
    component_of = {m: n for n, members in enumerate(components) for m in members}
    for fold in fold_list:
        scored_before = fold.scored.copy()
        labelled, hidden = folds.hide_labels(records, components, fold, 0.25, seed=5)
        assert np.array_equal(fold.scored, scored_before)
        assert not set(labelled) & set(fold.scored) and not set(hidden) & set(fold.scored)
        assert sorted([*labelled, *hidden]) == sorted(fold.trained.tolist())
        assert not set(labelled) & set(hidden)
        # No patient (component) on both sides.
        assert not {component_of[i] for i in labelled} & {component_of[i] for i in hidden}
        # Stratified: each (source, class) keeps round(F x its training groups), at least one.
        for source in ("first", "second"):
            for label in data.LABELS:
                groups = {
                    component_of[i]
                    for i in fold.trained
                    if (records[i].source, records[i].label) == (source, label)
                }
                kept = {
                    component_of[i]
                    for i in labelled
                    if (records[i].source, records[i].label) == (source, label)
                }
                assert len(kept) == max(1, int(np.floor(0.25 * len(groups) + 0.5)))

    fold = fold_list[0]
    first = folds.hide_labels(records, components, fold, 0.5, seed=5)
    again = folds.hide_labels(records, components, fold, 0.5, seed=5)
    other = folds.hide_labels(records, components, fold, 0.5, seed=6)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    everything, nothing = folds.hide_labels(records, components, fold, 1.0, seed=5)
    assert np.array_equal(everything, np.sort(fold.trained)) and len(nothing) == 0
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        folds.hide_labels(records, components, fold, 0.0, seed=5)


# -- copies of labelled images -----------------------------------------------------------------


def test_copies_of_names_file_pixel_and_near_copies() -> None:
    rng = np.random.default_rng(0)
    hashes = rng.random((3, audit.HASH_BITS)) > 0.5
    reference = audit.Fingerprints(["f0", "f1", "f2"], ["p0", "p1", "p2"], hashes)
    near = hashes[2].copy()
    near[:5] = ~near[:5]  # 5 bits from reference image 2
    candidates = audit.Fingerprints(
        ["f1", "g1", "g2", "g3"],
        ["q0", "p0", "q2", "q3"],
        np.stack([rng.random(audit.HASH_BITS) > 0.5, hashes[0], near, ~hashes[0]]),
    )
    links = audit.copies_of(candidates, reference)
    assert (links[0].second, links[0].kind) == (1, "file")
    assert (links[1].second, links[1].kind) == (0, "pixels")
    assert (links[2].second, links[2].kind, links[2].distance) == (2, "near", 5)
    assert links[3] is None
    # Within one set, only earlier images count: the first of a group keeps None.
    within = audit.copies_of(audit.Fingerprints(["a", "b", "a"], ["x", "y", "z"], hashes))
    assert within[0] is None and within[1] is None and within[2].second == 0


def _split_dataset(root: Path) -> Path:
    """A root with its own train and test folders (the test images stay test)."""
    write_synthetic_dataset(root / "train")
    write_synthetic_dataset(root / "test", seed=1)
    return root


def _unlabelled_folder(folder: Path, root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(9)
    for number in range(6):
        pixels = rng.normal(60 + 70 * (number % 3), 30, size=(110, 100)).clip(0, 255)
        nested = folder / ("deeper" if number % 2 else "")
        nested.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8)).save(nested / f"u{number}.png")
    shutil.copy(root / "test" / "Normal" / "Normal_3.png", folder / "copy_of_test.png")
    shutil.copy(root / "train" / "Covid" / "Covid_0.png", folder / "copy_of_train.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("no labels here")
    return folder


@pytest.mark.slow
def test_train_unlabelled_drops_copies_of_test_images_and_trains_a_student(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyxray import train

    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    root = _split_dataset(tmp_path / "data")
    folder = _unlabelled_folder(tmp_path / "unlabelled", root)
    out = tmp_path / "run"
    arguments = ["--preset", "tiny", "--data", str(root), "--out", str(out), "--quiet"]
    options = ["--unlabelled", str(folder), "--set", "ssl_threshold=0", "--set", "ssl_weight=0.5"]
    assert train.main([*arguments, *options, "--no-evaluate"]) == 0

    summary = json.loads((out / "train_summary.json").read_text())
    entry = summary["unlabelled"]
    skipped = {Path(path).name: reason for path, reason in entry["skipped"]}
    assert set(skipped) == {"broken.png", "notes.txt"}
    assert "not an image file" in skipped["notes.txt"]
    dropped = {Path(row["file"]).name: row for row in entry["dropped_copies"]}
    assert set(dropped) == {"copy_of_test.png", "copy_of_train.png"}
    assert dropped["copy_of_test.png"]["leak"] and dropped["copy_of_test.png"]["role"] == "test"
    assert dropped["copy_of_test.png"]["copy_of"].endswith("Normal_3.png")
    assert not dropped["copy_of_train.png"]["leak"]
    assert entry["dropped_leaking"] == 1 and entry["candidates"] == 6
    # Threshold 0: every candidate is confident; the caps keep the labelled class balance.
    assert sum(entry["confident_per_class"].values()) == 6
    assert entry["kept"] == sum(
        min(entry["confident_per_class"][n], entry["cap_per_class"][n]) for n in data.LABELS
    )
    rows = (out / "pseudo_labels.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and "copy_of_test" not in "".join(rows)
    text = (out / "training.md").read_text()
    assert "copy_of_test.png" in text and "1 of them copies of held-out images" in text
    # The teacher trained first (its own files), then the student (the shipped model).
    assert (out / "teacher_history.csv").is_file() and (out / "history.csv").is_file()
    assert (out / "model_int8.tflite").is_file()
    assert json.loads((out / "config.json").read_text())["unlabelled"]


@pytest.mark.slow
def test_crossval_label_hiding_arms_score_the_same_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinyxray import crossval

    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    root = write_synthetic_dataset(tmp_path / "data")
    common = ["--preset", "tiny", "--epochs", "1", "--folds", "2", "--data", str(root), "--quiet"]
    full, supervised, semi = tmp_path / "full", tmp_path / "half", tmp_path / "half_ssl"
    assert crossval.main([*common, "--out", str(full)]) == 0
    assert crossval.main([*common, "--label-fraction", "0.5", "--out", str(supervised)]) == 0
    hidden_arm = ["--label-fraction", "0.5", "--unlabelled-hidden", "--set", "ssl_threshold=0"]
    assert crossval.main([*common, *hidden_arm, "--out", str(semi)]) == 0

    keys = [[(r["path"], r["fold"]) for r in crossval.read_rows(run)] for run in (full, supervised)]
    assert keys[0] == keys[1] == [(r["path"], r["fold"]) for r in crossval.read_rows(semi)]
    table = crossval.compare([supervised, semi, full])
    assert str(semi) in table and str(full) in table

    half = json.loads((supervised / "crossval.json").read_text())["label_hiding"]
    assert half["arm"] == "supervised-only" and half["label_fraction"] == 0.5
    ssl = json.loads((semi / "crossval.json").read_text())["label_hiding"]
    assert ssl["arm"] == "semi-supervised"
    for plain, fold in zip(half["folds"], ssl["folds"], strict=True):
        assert (plain["labelled"], plain["hidden"]) == (fold["labelled"], fold["hidden"])
        assert fold["hidden"] > 0
        unlabelled = fold["unlabelled"]
        assert unlabelled["candidates"] == fold["hidden"] and unlabelled["dropped_copies"] == []
        assert unlabelled["kept"] > 0
        assert unlabelled["pseudo_label_precision"]["n"] == unlabelled["kept"]
    assert "pseudo_label_precision" in ssl
    assert "Label hiding: semi-supervised" in (semi / "crossval.md").read_text()

    # --base: the supervised-only arm's fold models are the teachers, the same models the
    # semi-supervised arm trained itself (same labelled images, same seed).
    reused = tmp_path / "half_ssl_base"
    base = ["--base", str(supervised), "--out", str(reused)]
    assert crossval.main([*common, *hidden_arm, *base]) == 0
    for number in range(2):
        own = np.load(semi / f"fold_{number}" / "checkpoints" / semi_supervised.PSEUDO_FILE)
        taken = np.load(reused / f"fold_{number}" / "checkpoints" / semi_supervised.PSEUDO_FILE)
        assert np.array_equal(own["files"], taken["files"])
        assert np.allclose(own["probs"], taken["probs"], atol=1e-4)
        assert not (reused / f"fold_{number}" / "teacher_history.csv").exists()
    with pytest.raises(SystemExit) as exit_info:
        mismatched = ["--label-fraction", "0.25", "--unlabelled-hidden", "--base", str(supervised)]
        crossval.main([*common, *mismatched, "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
