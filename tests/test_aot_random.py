"""Randomised models: AOT-compiled C (host gcc build) vs the tflite-micro interpreter.

TINYXRAY_AOT_RANDOM_MODELS sets how many models (default 10, about a minute on 2 cores);
TINYXRAY_AOT_RANDOM_SEED shifts the seeds to explore new models.
"""

from __future__ import annotations

import os
from pathlib import Path

import aot_models
import numpy as np
import pytest

MODEL_COUNT = int(os.environ.get("TINYXRAY_AOT_RANDOM_MODELS", "10"))
FIRST_SEED = int(os.environ.get("TINYXRAY_AOT_RANDOM_SEED", "0"))
INPUTS_PER_MODEL = 24


@pytest.fixture(scope="module")
def kernel_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from tinyxray.aot import host_build

    return host_build.compile_kernels(tmp_path_factory.mktemp("kernels"))


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + MODEL_COUNT))
def test_random_model_is_byte_identical_with_tflm(
    seed: int, kernel_objects: list[Path], tmp_path: Path
) -> None:
    from tinyxray import tflm_oracle
    from tinyxray.aot import compiler, host_build

    model = aot_models.random_model(seed)
    try:
        compiled = compiler.compile_model(model.flatbuffer)
    except compiler.UnsupportedModelError as error:
        # A random net can end in constant logits; then SOFTMAX's input scale is too small
        # for the int8 fixed-point softmax. The compiler must refuse exactly when TFLM does.
        assert "SOFTMAX" in str(error), error
        with pytest.raises(ValueError):
            tflm_oracle.Int8Model(model.flatbuffer).invoke(
                np.zeros(compiler.read_tflite(model.flatbuffer).tensors[0].shape[1:], np.int8)
            )
        return
    compiler.write_model(compiled, tmp_path)
    library = host_build.build_shared_library(
        tmp_path, tmp_path / "libmodel.so", kernel_objects=kernel_objects
    )
    _check_memory_plan(compiled)
    graph = compiled.graph
    source = graph.tensors[graph.inputs[0]]
    result = graph.tensors[graph.outputs[0]]
    host = host_build.HostModel(library, source.size, result.size)
    oracle = tflm_oracle.Int8Model(model.flatbuffer)

    mismatches = []
    inputs = aot_models.random_inputs(tuple(source.shape[1:]), INPUTS_PER_MODEL, seed)
    for index, frame in enumerate(inputs):
        expected = np.asarray(oracle.invoke(frame)).astype(np.int8).reshape(-1)
        actual = host.invoke(frame)
        if not np.array_equal(actual, expected):
            mismatches.append((index, actual.tolist(), expected.tolist()))
    assert not mismatches, (
        f"seed {seed} ({model.description}): {len(mismatches)}/{len(inputs)} inputs differ;"
        f" first (input, aot, tflm): {mismatches[0]}"
    )


def _check_memory_plan(compiled) -> None:
    """No two buffers that are live at the same time overlap in the arena."""
    buffers = compiled.plan.buffers
    for i, first in enumerate(buffers):
        assert first.offset + first.size <= compiled.arena_bytes
        for second in buffers[i + 1 :]:
            if first.last < second.first or second.last < first.first:
                continue
            assert (
                first.offset + first.size <= second.offset
                or second.offset + second.size <= first.offset
            ), f"buffers {first.tensors} and {second.tensors} overlap while both live"
