"""Randomised models on the emulated Cortex-M4 with the DSP kernels, against tflite-micro.

Each model is compiled, built into qemu_m4's test_kernels firmware (model-only mode, the
DSP kernels as every Cortex-M4 build has them) with golden outputs from the tflite-micro
interpreter on random int8 inputs, and run under QEMU: every output must be byte-identical.
The models cover what the kernels specialise (tests/aot_models.py): the generic random
nets, MobileNetV2-like nets with 8/16/24/48 channels at odd sizes, stride 2, VALID padding
and residual ADDs, and the same with quantisation at the edges of the fast
requantisation's proof (accumulators near 2^30, large shifts, left shifts).

TINYXRAY_AOT_QEMU_MODELS (default 3 of each kind, about 20 s a model) and
TINYXRAY_AOT_RANDOM_SEED widen the search.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import aot_models
import numpy as np
import pytest

MODELS_PER_KIND = int(os.environ.get("TINYXRAY_AOT_QEMU_MODELS", "3"))
FIRST_SEED = int(os.environ.get("TINYXRAY_AOT_RANDOM_SEED", "0"))
INPUTS_PER_MODEL = 6
KINDS = ("random", "paths", "stressed")

needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm and arm-none-eabi-gcc are needed (bash tools/dev.sh setup)",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private firmware tree for every model (incremental builds)."""
    from tinyxray.aot import benchmark

    return benchmark.private_project(tmp_path_factory.mktemp("qemu"))


def _flatbuffer(kind: str, seed: int) -> tuple[bytes, str]:
    if kind == "random":
        model = aot_models.random_model(seed)
        return model.flatbuffer, model.description
    network, description = aot_models.kernel_paths_model(seed)
    flatbuffer = aot_models.convert_int8(network, seed)
    if kind == "stressed":
        flatbuffer, stress = aot_models.stress_quantisation(flatbuffer, seed)
        description += f" [{stress}]"
    return flatbuffer, description


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "seed"),
    [(kind, seed) for kind in KINDS for seed in range(FIRST_SEED, FIRST_SEED + MODELS_PER_KIND)],
)
def test_model_on_qemu_is_byte_identical_with_tflm(kind: str, seed: int, project: Path) -> None:
    from tinyxray import tflm_oracle
    from tinyxray.aot import benchmark, compiler

    flatbuffer, description = _flatbuffer(kind, seed)
    try:
        compiled = compiler.compile_model(flatbuffer)
    except compiler.UnsupportedModelError as error:
        # A random net can end in constant logits: the compiler refuses exactly when TFLM does.
        assert "SOFTMAX" in str(error), error
        with pytest.raises(ValueError):
            shape = compiler.read_tflite(flatbuffer).tensors[0].shape[1:]
            tflm_oracle.Int8Model(flatbuffer).invoke(np.zeros(shape, np.int8))
        return
    source = compiled.graph.tensors[compiled.graph.inputs[0]]
    inputs = aot_models.random_inputs(tuple(source.shape[1:]), INPUTS_PER_MODEL, seed)
    golden = benchmark.golden_frames_module()
    benchmark.install_model(
        project,
        compiled,
        lambda path: golden.write_golden_inputs(flatbuffer, inputs, path, "random inputs"),
    )
    run = benchmark.run_on_qemu(project)
    assert run.kernels == "dsp"
    assert run.frames == len(inputs)
    assert run.identical == run.frames, f"{kind} seed {seed} ({description})"


@pytest.mark.slow
def test_stressed_models_take_both_requantisation_forms() -> None:
    """The stress transform must reach both sides of the proof, or the test above is idle."""
    from tinyxray.aot import compiler

    fast = exact = 0
    for seed in range(FIRST_SEED, FIRST_SEED + MODELS_PER_KIND):
        flatbuffer, _ = _flatbuffer("stressed", seed)
        for layer in compiler.compile_model(flatbuffer).layers:
            if layer.kernel.startswith(("conv2d", "depthwise")):
                fast += layer.params["fast_requant"]
                exact += 1 - layer.params["fast_requant"]
    assert fast > 0 and exact > 0
