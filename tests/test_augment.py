"""Strong photometric augmentation: grey-level frames out, new draws each epoch, seeded."""

from __future__ import annotations

import numpy as np

from tinyxray import augment


def _batches(seed: int, frames: np.ndarray, epochs: int) -> list[np.ndarray]:
    import tensorflow as tf

    dataset = (
        tf.data.Dataset.from_tensor_slices(frames).batch(4).map(augment.strong_photometric(seed))
    )
    return [batch.numpy() for _ in range(epochs) for batch in dataset]


def test_strong_photometric_changes_frames_within_the_grey_scale() -> None:
    frames = np.clip(np.random.default_rng(0).normal(120, 35, (8, 32, 32, 1)), 0, 255)
    frames = frames.astype(np.float32)
    first = _batches(1, frames, epochs=1)[0]
    assert first.shape == (4, 32, 32, 1)
    assert first.min() >= 0 and first.max() <= 255
    np.testing.assert_array_equal(first, np.round(first))  # whole grey levels, as a frame
    assert np.abs(first - frames[:4]).mean() > 3  # it does change them
    epochs = _batches(1, frames, epochs=2)
    assert not np.array_equal(epochs[0], epochs[2])  # new draws in the next epoch
    again = _batches(1, frames, epochs=2)
    for one, two in zip(epochs, again, strict=True):
        np.testing.assert_array_equal(one, two)  # the seed repeats the run
