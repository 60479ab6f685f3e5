"""The TFLM oracle: interface, arena bisection, bit-exactness with ai-edge-litert REF kernels."""

from pathlib import Path

import numpy as np
import pytest
from model_fixtures import synthetic_frames, tiny_model_and_int8

from tinyxray import model_card, preprocess, tflm_oracle

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def flatbuffer():
    return tiny_model_and_int8()[1]


def _int8_frames(count: int, seed: int) -> np.ndarray:
    frames, _ = synthetic_frames(count, seed)
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(2, 96, 96), dtype=np.uint8)
    return np.stack([preprocess.to_int8(frame) for frame in [*frames, *noise]])


def test_invoke_returns_int8_scores(flatbuffer):
    oracle = tflm_oracle.Int8Model(flatbuffer)
    assert oracle.input_shape == (1, 96, 96, 1)
    assert (oracle.input_scale, oracle.input_zero_point) == (1.0, -128)
    scores = oracle.invoke(np.zeros((96, 96, 1), np.int8))
    assert scores.dtype == np.int8 and scores.shape == (3,)
    probabilities = oracle.probabilities(scores)
    assert abs(probabilities.sum() - 1.0) < 4 / 256


def test_invoke_u8_matches_firmware_quantisation(flatbuffer):
    oracle = tflm_oracle.Int8Model(flatbuffer)
    frame = synthetic_frames(1, seed=9)[0][0]
    np.testing.assert_array_equal(
        oracle.invoke_u8(frame), oracle.invoke((frame.astype(np.int16) - 128).astype(np.int8))
    )


def test_bad_inputs_are_rejected(flatbuffer, tmp_path):
    oracle = tflm_oracle.Int8Model(flatbuffer)
    with pytest.raises(TypeError):
        oracle.invoke(np.zeros((96, 96, 1), np.uint8))
    with pytest.raises(ValueError):
        oracle.invoke(np.zeros((95, 96, 1), np.int8))
    with pytest.raises(FileNotFoundError):
        tflm_oracle.Int8Model(tmp_path / "absent.tflite")


def test_minimal_arena_is_minimal(flatbuffer):
    arena = tflm_oracle.minimal_arena_bytes(flatbuffer)
    assert arena % 16 == 0
    assert tflm_oracle.runs_with_arena(flatbuffer, arena)
    assert not tflm_oracle.runs_with_arena(flatbuffer, arena - 16)
    # A model of the same ops runs in that arena exactly.
    oracle = tflm_oracle.Int8Model(flatbuffer, arena_bytes=arena)
    oracle.invoke(np.zeros((96, 96, 1), np.int8))


def test_tflm_and_litert_reference_kernels_are_bit_exact(flatbuffer):
    frames = _int8_frames(10, seed=11)
    oracle = tflm_oracle.Int8Model(flatbuffer)
    tflm = np.stack([oracle.invoke(frame) for frame in frames])
    litert = tflm_oracle.litert_ref_invoke(flatbuffer, frames)
    np.testing.assert_array_equal(tflm, litert)


def test_committed_default_model_is_bit_exact_with_litert_ref():
    card_path = REPO / "models" / "default" / "model_card.json"
    if not card_path.exists():
        pytest.skip("no default model yet")
    card = model_card.load(card_path)
    flatbuffer = card.tflite_path.read_bytes()
    frames = _int8_frames(4, seed=2)
    samples = sorted((REPO / "models" / "samples").glob("*.png"))[:6]
    if samples:
        config = preprocess.PreprocessConfig(**card.preprocess)
        extra = [preprocess.to_int8(preprocess.preprocess_file(path, config)) for path in samples]
        frames = np.concatenate([frames, np.stack(extra)])
    oracle = tflm_oracle.Int8Model(flatbuffer)
    tflm = np.stack([oracle.invoke(frame) for frame in frames])
    np.testing.assert_array_equal(tflm, tflm_oracle.litert_ref_invoke(flatbuffer, frames))


def test_int8_host_inference_benchmark(benchmark, flatbuffer):
    """pytest-benchmark: one int8 inference on the TFLM oracle (run with --benchmark-enable)."""
    card_path = REPO / "models" / "default" / "model_card.json"
    model_bytes = (
        model_card.load(card_path).tflite_path.read_bytes() if card_path.exists() else flatbuffer
    )
    oracle = tflm_oracle.Int8Model(model_bytes)
    frame = _int8_frames(1, seed=1)[0]
    scores = benchmark(oracle.invoke, frame)
    assert scores.shape == (3,)


def test_softmax_beta_check_on_tiny_and_default_models(flatbuffer):
    from tinyxray import convert

    frames = _int8_frames(6, seed=4)
    patched = convert.set_softmax_beta(flatbuffer, 0.4)
    result = tflm_oracle.softmax_beta_check(patched, frames)
    assert result["beta"] == pytest.approx(0.4)
    assert result["max_abs_diff"] <= 1.5 / 256
    card_path = REPO / "models" / "default" / "model_card.json"
    if card_path.exists():
        card = model_card.load(card_path)
        result = tflm_oracle.softmax_beta_check(card.tflite_path.read_bytes(), frames)
        assert result["beta"] == pytest.approx(1.0 / card.temperature, rel=1e-6)
        assert result["max_abs_diff"] <= 1.5 / 256
