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


def test_add_whose_rescaling_tflm_refuses_is_refused(tmp_path: Path) -> None:
    """An ADD output scale below 2^-20 of its inputs' needs a multiplier >= 1: refused."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    flatbuffer = _int8(
        lambda keras, x: keras.layers.Add()(
            [keras.layers.Conv2D(2, 1)(x), keras.layers.Conv2D(2, 3, padding="same")(x)]
        )
    )
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    add = next(
        op
        for op in graph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.ADD
    )
    output = graph.tensors[add.outputs[0]]
    output.quantization.scale = [float(np.float32(output.quantization.scale[0] * 2.0**-24))]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    patched = bytes(builder.Output())
    with pytest.raises(UnsupportedModelError, match=r"ADD .* rescaling outside \(0, 1\)"):
        compile_model(patched)
    # TFLM refuses it too: its Prepare check aborts the process, so ask a child process.
    model = tmp_path / "add.tflite"
    model.write_bytes(patched)
    script = (
        "import sys, numpy as np; from tinyxray import tflm_oracle;"
        " tflm_oracle.Int8Model(sys.argv[1]).invoke(np.zeros((8, 8, 2), np.int8))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(model)], capture_output=True, text=True, check=False
    )
    assert child.returncode != 0


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


def test_left_shift_past_31_is_refused() -> None:
    """A multiplier needing a left shift past 31 is refused (TFLM's arithmetic is undefined)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    flatbuffer = _int8(lambda keras, x: keras.layers.Conv2D(2, 1)(x))
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    output = graph.tensors[graph.operators[0].outputs[0]]
    output.quantization.scale = [float(np.float32(output.quantization.scale[0] * 2.0**-40))]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(UnsupportedModelError, match=r"left shift of \d+"):
        compile_model(bytes(builder.Output()))
