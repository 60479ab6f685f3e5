"""Int8 conversion: exact input quantisation, no extra ops, SOFTMAX beta = 1/T carried."""

import keras
import numpy as np
import pytest
from model_fixtures import synthetic_frames, tiny_model_and_int8

from tinyxray import convert, model, tflm_oracle

ALLOWED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"}


def test_input_quantisation_is_exactly_one_and_minus_128():
    _, flatbuffer = tiny_model_and_int8()
    info = convert.check_quantisation(flatbuffer)
    assert info.input_scale == 1.0
    assert info.input_zero_point == -128
    assert info.output_scale == 1.0 / 256
    assert info.output_zero_point == -128
    assert info.input_shape == [1, 96, 96, 1]


def test_no_ops_added_for_nothing():
    _, flatbuffer = tiny_model_and_int8()
    ops = convert.op_names(flatbuffer)
    assert set(ops) <= ALLOWED_OPS, ops
    assert "QUANTIZE" not in ops and "DEQUANTIZE" not in ops and "MUL" not in ops


def test_rescaling_layer_fails_loudly():
    """Rescaling to [-1, 1] before a zero-padded conv survives as MUL + ADD ops."""
    inputs = keras.Input((96, 96, 1))
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Softmax()(keras.layers.Dense(3)(x))
    frames, _ = synthetic_frames(8)
    with pytest.raises(convert.ConversionError, match="input feeds a MUL"):
        convert.convert_int8(keras.Model(inputs, outputs), frames)


def test_representative_frames_span_full_range():
    frames = np.full((5, 96, 96), 100, dtype=np.uint8)
    chosen = convert.representative_frames(frames)
    assert chosen.min() == 0 and chosen.max() == 255
    with pytest.raises(ValueError):
        convert.representative_frames(frames.astype(np.float32))


def test_float_int8_agreement_on_held_out_frames():
    keras_model, flatbuffer = tiny_model_and_int8()
    frames, labels = synthetic_frames(30, seed=5)
    float_pred = keras_model.predict(frames[..., None].astype("float32"), verbose=0).argmax(1)
    oracle = tflm_oracle.Int8Model(flatbuffer)
    int8_pred = np.array([oracle.invoke_u8(frame).argmax() for frame in frames])
    assert np.mean(float_pred == int8_pred) >= 0.9
    assert np.mean(int8_pred == labels) >= 0.6


def test_softmax_beta_is_patched_in_place():
    _, flatbuffer = tiny_model_and_int8()
    assert convert.softmax_beta(flatbuffer) == 1.0
    patched = convert.set_softmax_beta(flatbuffer, 0.5)
    assert convert.softmax_beta(patched) == 0.5
    assert len(patched) == len(flatbuffer)
    changed = np.flatnonzero(
        np.frombuffer(patched, np.uint8) != np.frombuffer(flatbuffer, np.uint8)
    )
    assert 1 <= len(changed) <= 4 and changed.max() - changed.min() < 4
    with pytest.raises(ValueError):
        convert.set_softmax_beta(flatbuffer, 0.0)


def test_beta_changes_oracle_probabilities_as_temperature_predicts():
    """softmax(beta * z) = p^beta renormalised: check it on the TFLM oracle."""
    _, flatbuffer = tiny_model_and_int8()
    temperature = 2.0
    plain = tflm_oracle.Int8Model(flatbuffer)
    calibrated = tflm_oracle.Int8Model(convert.set_softmax_beta(flatbuffer, 1.0 / temperature))
    frames, _ = synthetic_frames(12, seed=3)
    softened = 0
    for frame in frames:
        p = plain.probabilities(plain.invoke_u8(frame))
        q = calibrated.probabilities(calibrated.invoke_u8(frame))
        if p.min() < 1.0 / 256:  # A saturated output hides the logit gap; skip it.
            softened += q.max() <= p.max() + 1.0 / 256
            continue
        expected = np.power(p, 1.0 / temperature)
        expected /= expected.sum()
        np.testing.assert_allclose(q, expected, atol=3.0 / 256)
        softened += q.max() <= p.max() + 1.0 / 256
    assert softened == len(frames)  # T > 1 never sharpens the top probability


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, size=(4000, 3))
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in probs])
    # A model 3x over-confident: logits scaled by 3 -> the fitted temperature is about 3.
    temperature = convert.fit_temperature(true_logits * 3.0, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    with pytest.raises(ValueError):
        convert.fit_temperature(np.zeros((0, 3)), np.zeros(0, int))


def test_lean_preset_is_the_lean_architecture():
    lean = model.build_model(model.get_preset("lean"))
    assert lean.get_layer("stem_conv").filters == 8
    assert lean.get_layer("block_1_expand_conv").filters == 8 * 3
    standard = model.build_model(model.get_preset("recommended"))
    assert standard.get_layer("stem_conv").filters == 16
    assert standard.get_layer("block_1_expand_conv").filters == 8 * 6
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in standard.layers)


def test_convert_cli_writes_a_model_folder(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("TINYXRAY_CACHE", str(tmp_path / "cache"))
    from tinyxray import model_card

    keras_model, _ = tiny_model_and_int8()
    keras_path = tmp_path / "float.keras"
    keras_model.save(keras_path)
    frames, labels = synthetic_frames(9, seed=8)
    for index, (frame, label) in enumerate(zip(frames, labels, strict=True)):
        folder = tmp_path / "data" / model.LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(folder / f"{index}.png")
    out = tmp_path / "out"
    assert (
        convert.main(
            [
                "--model",
                str(keras_path),
                "--data",
                str(tmp_path / "data"),
                "--out",
                str(out),
                "--temperature",
                "2.0",
            ]
        )
        == 0
    )
    card = model_card.load(out)
    card.verify_file()
    assert convert.softmax_beta(card.tflite_path.read_bytes()) == 0.5
    assert (card.input.scale, card.input.zero_point) == (1.0, -128)
