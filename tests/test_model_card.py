"""Model card load/save/validation and the committed default card."""

import hashlib
import json
from pathlib import Path

import pytest

from tinyxray import model_card

REPO = Path(__file__).resolve().parents[1]


def _card_dict(tflite_bytes: bytes) -> dict:
    return {
        "name": "test",
        "version": "0.0.1",
        "created_by_command": "pytest",
        "tflite": "model_int8.tflite",
        "sha256": hashlib.sha256(tflite_bytes).hexdigest(),
        "labels": ["Covid", "Normal", "Pneumonia"],
        "input": {"shape": [1, 96, 96, 1], "dtype": "int8", "scale": 1.0, "zero_point": -128},
        "output": {"shape": [1, 3], "dtype": "int8", "scale": 0.00390625, "zero_point": -128},
        "preprocess": {"size": 96, "blur_kernel": 3, "blur_sigma": 1.0, "pad": "reflect"},
        "temperature": 1.25,
        "uncertain_threshold": 0.6,
        "tflm_arena_bytes": 145872,
        "aot_arena_bytes": None,
        "ops": ["CONV_2D", "SOFTMAX"],
        "metrics": {"accuracy": 0.9},
        "disclaimer": model_card.DISCLAIMER,
    }


def test_round_trip(tmp_path):
    (tmp_path / "model_int8.tflite").write_bytes(b"TFL3 fake")
    data = _card_dict(b"TFL3 fake")
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    card = model_card.load(tmp_path)
    assert card.input_height == 96 and card.input_channels == 1
    assert card.input.zero_point == -128
    assert card.tflite_path == (tmp_path / "model_int8.tflite").resolve()
    card.verify_file()
    out = tmp_path / "copy"
    out.mkdir()
    model_card.save(card, out)
    assert json.loads((out / "model_card.json").read_text())["sha256"] == data["sha256"]
    assert model_card.load(out) == card


def test_hash_mismatch_is_detected(tmp_path):
    (tmp_path / "model_int8.tflite").write_bytes(b"other bytes")
    (tmp_path / "model_card.json").write_text(json.dumps(_card_dict(b"TFL3 fake")))
    with pytest.raises(model_card.ModelCardError, match="sha256"):
        model_card.load(tmp_path).verify_file()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("labels", ["Covid", "Normal"], "output shape"),
        ("uncertain_threshold", 1.5, "uncertain_threshold"),
        ("temperature", 0.0, "temperature"),
        ("input", {"shape": [96, 96], "dtype": "int8", "scale": 1.0, "zero_point": 0}, "input"),
    ],
)
def test_invalid_cards_are_rejected(tmp_path, key, value, message):
    data = _card_dict(b"x")
    data[key] = value
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    with pytest.raises(model_card.ModelCardError, match=message):
        model_card.load(tmp_path)


def test_missing_fields_and_bad_json(tmp_path):
    data = _card_dict(b"x")
    del data["ops"]
    (tmp_path / "model_card.json").write_text(json.dumps(data))
    with pytest.raises(model_card.ModelCardError, match="ops"):
        model_card.load(tmp_path)
    (tmp_path / "model_card.json").write_text("{not json")
    with pytest.raises(model_card.ModelCardError, match="JSON"):
        model_card.load(tmp_path)
    with pytest.raises(model_card.ModelCardError, match="no model card"):
        model_card.load(tmp_path / "absent")


def test_committed_default_card_matches_its_model():
    card_path = REPO / "models" / "default" / "model_card.json"
    if not card_path.exists():
        pytest.skip("no default model committed yet")
    card = model_card.load(card_path)
    card.verify_file()
    assert card.input.scale == 1.0 and card.input.zero_point == -128
    assert card.labels == ["Covid", "Normal", "Pneumonia"]
    assert card.tflm_arena_bytes > 0
    assert "not a diagnostic device" in card.disclaimer.lower()
