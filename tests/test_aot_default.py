"""The default model through the AOT engine: byte-identical with tflite-micro on real frames.

Skips (with the reason) when the default model, the sample frames or the datasets are absent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "default" / "model_int8.tflite"
SAMPLES = REPO / "models" / "samples"
GENERATED = REPO / "firmware" / "lib" / "model" / "model_aot.h"
DATASETS = REPO.parent / "shared" / "datasets"

needs_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"no default model at {MODEL}")


@needs_model
def test_generated_model_aot_matches_default_model() -> None:
    from tinyxray.aot import compile_model

    assert GENERATED.is_file(), "run: python -m tinyxray.aot " + str(MODEL.relative_to(REPO))
    sha = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    header = GENERATED.read_text()
    assert f'MODEL_AOT_SHA256 "{sha}"' in header, (
        "firmware/lib/model/model_aot.{h,c} are stale; regenerate with"
        " `python -m tinyxray.aot models/default/model_int8.tflite --out firmware/lib/model`"
    )
    compiled = compile_model(MODEL)
    assert header == compiled.header
    assert (GENERATED.parent / "model_aot.c").read_text() == compiled.source


@needs_model
def test_default_model_arena_meets_budget() -> None:
    from tinyxray.aot import compile_model

    compiled = compile_model(MODEL)
    assert compiled.arena_bytes <= 140 * 1024
    tensors = compiled.graph.tensors
    # The arena can never be smaller than the largest single layer's input + output.
    for layer in compiled.layers:
        if layer.kernel != "alias" and layer.in_place_input is None:
            needed = sum(tensors[t].nbytes for t in layer.inputs) + tensors[layer.output].nbytes
            assert compiled.arena_bytes >= needed


@needs_model
def test_default_model_layers_take_the_fast_kernels() -> None:
    """Every convolution of the default model is proven for the fast requantisation, and
    each layer gets the specialised kernel entry its geometry allows (the Cortex-M4 cost
    figures in models/default/aot_report.md rely on both)."""
    from tinyxray.aot import compile_model

    compiled = compile_model(MODEL)
    entries = {}
    for layer in compiled.layers:
        entries.setdefault(layer.opcode, set()).add(layer.kernel)
        if layer.kernel.startswith(("conv2d", "depthwise")):
            assert layer.params["fast_requant"] == 1, (layer.op_index, layer.exact_reason)
        if layer.kernel in ("add", "mean"):
            assert layer.params["fast"], (layer.op_index, layer.exact_reason)
    assert entries["DEPTHWISE_CONV_2D"] == {"depthwise_conv2d_3x3"}
    assert entries["FULLY_CONNECTED"] == {"conv2d_1x1"}
    assert entries["CONV_2D"] == {"conv2d", "conv2d_1x1"}  # the stem, then pointwise


@needs_model
def test_default_model_samples_byte_identical(tmp_path: Path) -> None:
    from tinyxray.aot import verify

    if not sorted(SAMPLES.glob("*.png")):
        pytest.skip(f"no sample frames in {SAMPLES}")
    names, frames = verify.sample_frames(SAMPLES)
    outcome = verify.verify(MODEL, frames, names, work_dir=tmp_path)
    assert outcome.identical == outcome.frames, outcome.mismatches[:3]


@needs_model
@pytest.mark.dataset
def test_default_model_test_split_byte_identical(tmp_path: Path) -> None:
    from tinyxray.aot import verify

    roots = [p for p in sorted(DATASETS.glob("*")) if p.is_dir()]
    if not roots:
        pytest.skip(f"datasets not found at {DATASETS}")
    split_file = MODEL.parent / "split.csv"
    names, frames = verify.test_split_frames(roots, split_file if split_file.is_file() else None)
    if not frames:
        pytest.skip("the datasets have no test split")
    outcome = verify.verify(MODEL, frames, names, work_dir=tmp_path)
    assert outcome.identical == outcome.frames, outcome.mismatches[:3]
