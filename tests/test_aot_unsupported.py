"""The AOT compiler refuses what it does not implement, naming the op/dtype/option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aot_models
import numpy as np
import pytest

from tinyxray.aot import UnsupportedModelError, compile_model


def _int8(build) -> bytes:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8, 8, 2), batch_size=1)
    return aot_models.convert_int8(keras.Model(inputs, build(keras, inputs)), seed=0)


def test_unsupported_op_is_named() -> None:
    flatbuffer = _int8(lambda keras, x: keras.layers.MaxPooling2D(2)(x))
    with pytest.raises(UnsupportedModelError, match=r"MAX_POOL_2D is not supported"):
        compile_model(flatbuffer)


def test_depth_multiplier_other_than_one_is_refused() -> None:
    flatbuffer = _int8(lambda keras, x: keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(x))
    with pytest.raises(UnsupportedModelError, match=r"depth multiplier 2"):
        compile_model(flatbuffer)


def test_float_model_is_refused_with_its_dtype() -> None:
    import keras
    import tensorflow as tf

    inputs = keras.Input(shape=(4, 4, 1), batch_size=1)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    flatbuffer = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with pytest.raises(UnsupportedModelError, match=r"FLOAT32"):
        compile_model(flatbuffer)


def test_not_a_flatbuffer_is_refused() -> None:
    with pytest.raises(UnsupportedModelError, match=r"not a readable \.tflite"):
        compile_model(b"definitely not a model" * 4)


def test_cli_reports_unsupported_model_and_exits_2(tmp_path: Path) -> None:
    model = tmp_path / "maxpool.tflite"
    model.write_bytes(_int8(lambda keras, x: keras.layers.MaxPooling2D(2)(x)))
    result = subprocess.run(
        [sys.executable, "-m", "tinyxray.aot", str(model), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "MAX_POOL_2D" in result.stderr
    assert not (tmp_path / "out" / "model_aot.c").exists()


def test_cli_writes_sources_and_report(tmp_path: Path) -> None:
    model = tmp_path / "small.tflite"
    model.write_bytes(aot_models.random_model(3).flatbuffer)
    result = subprocess.run(
        [sys.executable, "-m", "tinyxray.aot", str(model), "--out", str(tmp_path), "--report"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads((tmp_path / "aot_report.json").read_text())
    header = (tmp_path / "model_aot.h").read_text()
    assert f"#define MODEL_AOT_ARENA_BYTES {report['arena_bytes']}\n" in header
    assert report["macs"] == sum(layer["macs"] for layer in report["layers"]) > 0
    assert "| # | op |" in (tmp_path / "aot_report.md").read_text()
    assert np.isfinite(report["const_bytes"])
