"""Sources: patient tables, shared classes, balance by class and source, folds by source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import audit, balance, data, folds, sources

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
CASEREPORT = DATASETS / "casereport-pneumonia"
CXNET = DATASETS / "covid-cxnet-covid"


def write_image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 40), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_patient_table_gives_ids_and_empty_cells_mean_unknown(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    for number, name in enumerate(("7_a.png", "7_b.png", "8_c.png", "x.png")):
        write_image(root / "Pneumonia" / name, number)
    (root / "patients.csv").write_text(
        "file,patientid,finding\n"
        "Pneumonia/7_a.png,7,SARS\nPneumonia/7_b.png,7,SARS\nPneumonia/8_c.png,8,x\n"
        "Pneumonia/x.png,,unknown\n"
    )
    scan = data.scan_dataset(root)
    ids = {record.path.name: record.patient_id for record in scan.records}
    assert ids == {"7_a.png": "7", "7_b.png": "7", "8_c.png": "8", "x.png": None}
    summary = sources.source_summary(scan.records)["reports"]
    assert (summary["with_patient_id"], summary["patients"]) == (3, 2)


def test_a_table_without_patient_column_is_not_a_patient_table(tmp_path: Path) -> None:
    root = tmp_path / "set"
    write_image(root / "Covid" / "00000001_000.png", 0)
    (root / "metadata.csv").write_text("file,licence\nCovid/00000001_000.png,CC BY\n")
    record = data.scan_dataset(root).records[0]
    assert record.patient_id == "00000001"  # the NIH name scheme still applies


def test_two_roots_with_one_source_name_are_refused(tmp_path: Path) -> None:
    for parent in ("a", "b"):
        write_image(tmp_path / parent / "same" / "Covid" / "x.png", 0)
    with pytest.raises(ValueError, match="source name 'same'"):
        data.scan_datasets([tmp_path / "a" / "same", tmp_path / "b" / "same"])


def record(source: str, label: str, name: str, patient: str | None = None) -> data.ImageRecord:
    return data.ImageRecord(Path(f"/{source}/{label}/{name}"), label, source, None, patient)


def test_shared_classes() -> None:
    records = [
        record("seed", "Covid", "1"),
        record("seed", "Normal", "2"),
        record("cxnet", "Covid", "3"),
        record("kids", "Pneumonia", "4"),
    ]
    assert sources.shared_classes(records) == {"cxnet": ["Covid"], "kids": [], "seed": ["Covid"]}


def test_balance_weights_by_hand() -> None:
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])  # Covid: a 5, b 1; Normal: a 2
    names = ["a"] * 5 + ["b"] + ["a", "a"]
    plain = balance.balance_weights(labels, names, 3, 0.0)
    # Each class weighs N / C = 4: Covid images 4/6 each, Normal images 4/2 each.
    np.testing.assert_allclose(plain, [4 / 6] * 6 + [2.0, 2.0], rtol=1e-6)
    even = balance.balance_weights(labels, names, 3, 1.0)
    # Within Covid, a and b share 4 equally: a's images 2/5, b's image 2.
    np.testing.assert_allclose(even, [0.4] * 5 + [2.0, 2.0, 2.0], rtol=1e-6)
    assert even.sum() == pytest.approx(len(labels))
    with pytest.raises(ValueError, match="source_balance"):
        balance.balance_weights(labels, names, 3, 1.5)


def test_sampling_multiset_follows_the_weights() -> None:
    weights = np.array([0.5, 1.0, 2.0, 1.25])
    drawn = balance.sampling_multiset(weights, resolution=8)
    counts = np.bincount(drawn)
    np.testing.assert_array_equal(counts, [8, 16, 32, 20])
    with pytest.raises(ValueError, match="positive"):
        balance.sampling_multiset(np.array([1.0, 0.0]))


def test_sampled_epochs_draw_small_sources_more_often() -> None:
    from tinyxray import model, train

    labels = np.array([0] * 30 + [0] * 2)
    names = np.array(["big"] * 30 + ["small"] * 2, dtype=object)
    frames = np.arange(32, dtype=np.float32).reshape(32, 1, 1, 1) * np.ones((1, 4, 4, 1))
    preset = model.get_preset(
        "tiny", batch_size=8, balance="sampling", source_balance=1.0, class_balance=True
    )
    weights = train.balancing_weights(preset, labels, names)
    dataset = train.make_dataset(frames, labels, preset, seed=3, train=True, weights=weights)
    seen = []
    for _ in range(20):  # 20 epochs of 32 draws
        for images, _targets, sample_weights in dataset:
            seen += images.numpy()[:, 0, 0, 0].astype(int).tolist()
            assert np.all(sample_weights.numpy() == 1.0)
    small = np.isin(seen, [30, 31]).mean()
    assert len(seen) == 20 * 32
    assert 0.4 < small < 0.6  # half the draws, against 2/32 without source balance


def test_leave_one_source_out_folds() -> None:
    records = [
        record("seed", "Covid", "s1"),
        record("seed", "Normal", "s2"),
        record("cxnet", "Covid", "c1", "p1"),
        record("cxnet", "Covid", "c2", "p1"),
        record("kids", "Pneumonia", "k1"),  # no class shared with another source
        record("seed", "Covid", "s3"),
    ]
    # s3 is a copy of c1 (one component across sources), s1 and s2 stand alone.
    components = [[0], [1], [2, 3, 5], [4]]
    built = folds.leave_one_source_out(records, components, np.arange(6))
    assert [fold.held_out_source for fold in built] == ["cxnet", "seed"]
    cxnet, seed = built
    assert cxnet.scored.tolist() == [2, 3]
    assert cxnet.trained.tolist() == [0, 1, 4]  # every other source, but not s3 (c1's copy)
    assert seed.scored.tolist() == [0, 1, 5]
    assert seed.trained.tolist() == [4]  # the cxnet patient shares a component with s3
    numbers = folds.fold_numbers(built, len(records))
    assert numbers.tolist() == [1, 1, 0, 0, -1, 1]
    with pytest.raises(ValueError, match="at least two sources"):
        folds.leave_one_source_out(records[:2], [[0], [1]], np.arange(2))


def test_group_kfold_is_audits_folds() -> None:
    records = [record("s", "Covid" if i % 2 else "Normal", str(i)) for i in range(12)]
    components = [[i] for i in range(12)]
    built = folds.group_kfold(records, components, np.arange(10), 3, seed=5)
    expected = audit.group_folds(records, components, np.arange(10), 3, seed=5)
    for fold in built:
        assert fold.scored.tolist() == [i for i, f in enumerate(expected) if f == fold.number]
        assert set(fold.trained) | set(fold.scored) == set(range(10))
        assert not set(fold.trained) & set(fold.scored)


@pytest.mark.dataset
@pytest.mark.skipif(
    not (CASEREPORT.is_dir() and CXNET.is_dir()), reason=f"shared datasets not found at {DATASETS}"
)
def test_shared_sources_patient_ids() -> None:
    case = data.scan_dataset(CASEREPORT).records
    assert all(record.patient_id for record in case)
    assert len({record.patient_id for record in case}) == 25  # 16 pneumonia + 9 normal
    assert all(record.path.name.startswith(f"{record.patient_id}_") for record in case)
    cxnet = data.scan_dataset(CXNET).records
    assert sum(record.patient_id is not None for record in cxnet) == 370
