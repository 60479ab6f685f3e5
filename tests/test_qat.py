"""Quantisation-aware fine-tuning: the int8 simulation, by hand and against the TFLM oracle."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from model_fixtures import synthetic_frames, tiny_model_and_int8

from tinyxray import convert, qat, tflm_oracle


def test_weight_rounding_per_output_channel_by_hand() -> None:
    # Two output channels (last axis): scales 1.0/127 and 0.5/127.
    kernel = np.array([[1.0, -0.5], [0.3, 0.1]], np.float32)
    rounded = np.asarray(qat.fake_quant_weights(kernel, (0,)))
    scales = np.array([1.0, 0.5]) / 127
    expected = np.round(kernel / scales) * scales
    np.testing.assert_allclose(rounded, expected, rtol=1e-6)
    assert rounded[0, 0] == pytest.approx(1.0) and rounded[0, 1] == pytest.approx(-0.5)


def test_activation_rounding_by_hand() -> None:
    # Range [-1, 3]: scale 4/255, zero point round(-128 + 63.75) = -64; 0 stays exact.
    values = np.array([0.0, 1.0, 5.0, -2.0], np.float32)
    rounded = np.asarray(qat.fake_quant_activation(values, -1.0, 3.0))
    scale = 4.0 / 255
    assert rounded[0] == 0.0
    assert rounded[1] == pytest.approx(round(1.0 / scale) * scale, abs=1e-6)
    assert rounded[2] == pytest.approx((127 + 64) * scale, abs=1e-6)  # clipped high
    assert rounded[3] == pytest.approx((-128 + 64) * scale, abs=1e-6)  # clipped low


def test_straight_through_gradient() -> None:
    import tensorflow as tf

    values = tf.Variable([0.3, 0.7])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(qat.fake_quant_activation(values, 0.0, 1.0) * [2.0, 3.0])
    np.testing.assert_allclose(tape.gradient(loss, values).numpy(), [2.0, 3.0])


def _model_with_moved_batchnorm() -> keras.Model:
    """The tiny model with non-trivial BatchNorm statistics (so folding has work to do)."""
    trained, _ = tiny_model_and_int8()
    copy = keras.Model.from_config(trained.get_config())
    copy.set_weights(trained.get_weights())
    rng = np.random.default_rng(3)
    for layer in copy.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    gamma * rng.uniform(0.5, 1.5, gamma.shape),
                    beta + rng.normal(0, 0.1, beta.shape),
                    mean,
                    variance * rng.uniform(0.5, 2.0, variance.shape),
                ]
            )
    return copy


def test_folding_removes_batchnorm_and_keeps_the_function() -> None:
    original = _model_with_moved_batchnorm()
    folded = qat.fold_batchnorm(original)
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in folded.layers)
    assert any(isinstance(x, keras.layers.BatchNormalization) for x in original.layers)
    frames = synthetic_frames(12, seed=5)[0][..., None].astype(np.float32)
    np.testing.assert_allclose(
        folded.predict(frames, verbose=0), original.predict(frames, verbose=0), atol=1e-5
    )


def test_twin_reproduces_the_int8_graph() -> None:
    """The simulation's outputs match the TFLM oracle's closer than the float model's do."""
    original = _model_with_moved_batchnorm()
    frames, _ = synthetic_frames(48, seed=9)
    folded = qat.fold_batchnorm(original)
    oracle = tflm_oracle.Int8Model(convert.convert_int8(folded, frames))
    twin = qat.quantisation_twin(folded)
    qat.calibrate(twin, folded, convert.representative_frames(frames))
    test = synthetic_frames(24, seed=11)[0]
    int8 = np.array([oracle.probabilities(oracle.invoke_u8(frame)) for frame in test])
    simulated = twin.predict(test[..., None].astype(np.float32), verbose=0)
    plain = folded.predict(test[..., None].astype(np.float32), verbose=0)
    twin_error = np.abs(simulated - int8).mean()
    float_error = np.abs(plain - int8).mean()
    assert twin_error < 0.75 * float_error, (twin_error, float_error)  # measured: 0.50
    assert twin_error < 2 / 256  # within the int8 output's rounding


def test_export_weights_round_trip() -> None:
    folded = qat.fold_batchnorm(_model_with_moved_batchnorm())
    twin = qat.quantisation_twin(folded)
    for layer in twin.layers:
        if isinstance(layer, qat.QuantConv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 2.0, bias])
            name = layer.name
    qat.export_weights(twin, folded)
    np.testing.assert_allclose(
        folded.get_layer(name).get_weights()[0], twin.get_layer(name).get_weights()[0]
    )
