"""A tiny int8 model trained in seconds on synthetic frames, shared by the model tests.

The class of a synthetic frame is its brightness band (dark / mid / bright) plus noise, which
a few MobileNetV2 blocks learn in a few epochs; trained weights matter because TFLM's int8
SOFTMAX rejects the degenerate logits of an untrained network.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np


def synthetic_frames(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (N,96,96) and labels; together they span 0..255."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    centres = np.array([50.0, 128.0, 205.0])[labels]
    noise = rng.normal(0.0, 25.0, size=(count, 96, 96))
    gradient = np.linspace(-20, 20, 96)[None, None, :]
    frames = np.clip(centres[:, None, None] + noise + gradient, 0, 255).astype(np.uint8)
    frames[0, 0, 0] = 0
    frames[0, 0, 1] = 255
    return frames, labels


@functools.lru_cache(maxsize=1)
def tiny_model_and_int8():
    """(keras model, int8 flatbuffer) of the `tiny` preset trained on synthetic frames."""
    import keras

    from tinyxray import convert, model

    keras.utils.set_random_seed(7)
    preset = model.get_preset("tiny")
    keras_model = model.build_model(preset)
    frames, labels = synthetic_frames(96)
    keras_model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"
    )
    keras_model.fit(frames[..., None].astype("float32"), labels, epochs=4, batch_size=16, verbose=0)
    model.reestimate_batchnorm(keras_model, frames[..., None])
    flatbuffer = convert.convert_int8(keras_model, frames)
    return keras_model, flatbuffer


def write_tiny_model_dir(directory: Path, temperature: float = 1.0) -> Path:
    """models/<name>/-style folder with the tiny model + card; returns the card path."""
    from tinyxray import convert, model

    _, flatbuffer = tiny_model_and_int8()
    return convert.write_model_dir(
        directory,
        convert.set_softmax_beta(flatbuffer, 1.0 / temperature),
        name="tiny-test",
        version="0.0.0",
        command="pytest",
        temperature=temperature,
        labels=list(model.LABELS),
        preprocess={"size": 96, "blur_kernel": 3, "blur_sigma": 1.0, "pad": "reflect"},
        architecture=model.get_preset("tiny").to_dict(),
    )


def write_synthetic_dataset(root: Path, seed: int = 0) -> Path:
    """Class folders of 12 noisy PNGs each, one brightness band per class; returns root."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index, label in enumerate(("Covid", "Normal", "Pneumonia")):
        folder = root / label
        folder.mkdir(parents=True)
        for number in range(12):
            pixels = rng.normal(60 + 70 * index, 30, size=(120, 100)).clip(0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{label}_{number}.png")
    return root
