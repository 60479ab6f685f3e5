"""Keras -> full-int8 .tflite, calibrated with training frames; temperature into SOFTMAX beta.

The model takes raw 0..255 pixels, so with calibration frames spanning 0 and 255 the
converter's input quantisation is scale 1.0, zero point -128 (q = pixel - 128). This is
checked after conversion and `ConversionError` is raised otherwise.

Temperature scaling (fitted on validation by NLL) is carried into the int8 model by
patching the SOFTMAX operator's `beta` (= 1/T) in place in the flatbuffer, which leaves
every other byte (and buffer alignment) untouched.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

EXPECTED_INPUT_SCALE = 1.0
EXPECTED_INPUT_ZERO_POINT = -128
EXPECTED_OUTPUT_SCALE = 1.0 / 256.0
EXPECTED_OUTPUT_ZERO_POINT = -128


class ConversionError(RuntimeError):
    """The int8 model does not have the quantisation the firmware relies on."""


@dataclasses.dataclass
class QuantInfo:
    input_shape: list[int]
    input_scale: float
    input_zero_point: int
    output_shape: list[int]
    output_scale: float
    output_zero_point: int


def representative_frames(
    frames_u8: np.ndarray, max_frames: int = 200, seed: int = 0
) -> np.ndarray:
    """Pick calibration frames (N,H,W[,1] uint8) and make sure the set spans 0 and 255.

    Pixel (0,0) of the first frame is set to 0 and pixel (0,1) to 255 so that the input
    range is exactly [0, 255] whatever the chosen frames contain.
    """
    if frames_u8.ndim == 3:
        frames_u8 = frames_u8[..., None]
    if frames_u8.dtype != np.uint8 or frames_u8.ndim != 4 or len(frames_u8) == 0:
        raise ValueError("representative frames must be a non-empty uint8 array (N,H,W[,1])")
    rng = np.random.default_rng(seed)
    count = min(max_frames, len(frames_u8))
    chosen = frames_u8[np.sort(rng.choice(len(frames_u8), size=count, replace=False))].copy()
    chosen[0, 0, 0, 0] = 0
    chosen[0, 0, 1, 0] = 255
    return chosen


def convert_int8(
    model: keras.Model, calibration_u8: np.ndarray, strict_input: bool = True
) -> bytes:
    """Convert to a full-int8 TFLite flatbuffer (int8 input and output).

    With strict_input (the default), the graph input must feed convolutions directly:
    input scaling belongs in the input quantisation, not in MUL/ADD ops (a Rescaling layer).
    """
    import tensorflow as tf

    frames = representative_frames(calibration_u8)

    def dataset() -> Iterator[list[np.ndarray]]:
        for frame in frames:
            yield [frame[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flatbuffer = run_converter(converter)
    check_quantisation(flatbuffer)
    if strict_input:
        check_input_consumers(flatbuffer)
    return flatbuffer


def run_converter(converter) -> bytes:
    """converter.convert() without its console dump (unless TensorFlow's logs are wanted).

    Keras' SavedModel export, which the converter runs first, prints every endpoint and
    captured tensor to stdout (~60 lines); and TensorFlow warns "Statistics for quantized
    inputs were expected" for every full-int8 conversion from a representative dataset,
    where no statistics apply (they are for quantisation-aware graphs).
    """
    import warnings

    from tinyxray import tf_logging

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Statistics for quantized inputs were expected", category=UserWarning
        )
        if tf_logging.wants_logs():
            return bytes(converter.convert())
        # The quantiser also prints "fully_quantize: 0, ..." from C++ straight to stdout.
        with tf_logging.swallowed_stderr(stdout=True):
            return bytes(converter.convert())


def check_input_consumers(flatbuffer: bytes) -> None:
    """Raise ConversionError unless every op reading the graph input is a convolution."""
    from tensorflow.lite.python import schema_py_generated as schema

    by_code = {
        value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()
    }
    model = _read_model(flatbuffer)
    graph = model.subgraphs[0]
    input_index = graph.inputs[0]
    for op in graph.operators:
        if input_index in list(op.inputs):
            code = model.operatorCodes[op.opcodeIndex]
            name = by_code[max(code.builtinCode, code.deprecatedBuiltinCode)]
            if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                raise ConversionError(
                    f"the input feeds a {name} op: fold input scaling into the input"
                    " quantisation (remove Rescaling/normalisation layers)"
                )


def quant_info(flatbuffer: bytes) -> QuantInfo:
    """Input/output shapes and quantisation read from the flatbuffer."""
    model = _read_model(flatbuffer)
    graph = model.subgraphs[0]
    in_tensor = graph.tensors[graph.inputs[0]]
    out_tensor = graph.tensors[graph.outputs[0]]
    return QuantInfo(
        input_shape=[int(d) for d in in_tensor.shape],
        input_scale=float(in_tensor.quantization.scale[0]),
        input_zero_point=int(in_tensor.quantization.zeroPoint[0]),
        output_shape=[int(d) for d in out_tensor.shape],
        output_scale=float(out_tensor.quantization.scale[0]),
        output_zero_point=int(out_tensor.quantization.zeroPoint[0]),
    )


def check_quantisation(flatbuffer: bytes) -> QuantInfo:
    """Fail loudly unless input is int8 scale 1.0 / zp -128 and output int8 1/256 / -128."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = _read_model(flatbuffer)
    graph = model.subgraphs[0]
    for index in (graph.inputs[0], graph.outputs[0]):
        if graph.tensors[index].type != schema.TensorType.INT8:
            raise ConversionError(f"tensor {index} is not int8")
    info = quant_info(flatbuffer)
    if (
        np.float32(info.input_scale) != np.float32(EXPECTED_INPUT_SCALE)
        or info.input_zero_point != EXPECTED_INPUT_ZERO_POINT
    ):
        raise ConversionError(
            f"input quantisation is scale={info.input_scale!r} zero_point={info.input_zero_point}"
            f"; expected exactly {EXPECTED_INPUT_SCALE} / {EXPECTED_INPUT_ZERO_POINT}"
            " (calibration frames must span 0..255 and the model must have no Rescaling)"
        )
    if (
        np.float32(info.output_scale) != np.float32(EXPECTED_OUTPUT_SCALE)
        or info.output_zero_point != EXPECTED_OUTPUT_ZERO_POINT
    ):
        raise ConversionError(
            f"output quantisation is {info.output_scale}/{info.output_zero_point}; expected"
            " 1/256 / -128 (the model must end in a softmax)"
        )
    return info


def op_names(flatbuffer: bytes) -> list[str]:
    """Builtin operator names in first-use order (e.g. CONV_2D, DEPTHWISE_CONV_2D, ...)."""
    from tensorflow.lite.python import schema_py_generated as schema

    by_code = {
        value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()
    }
    model = _read_model(flatbuffer)
    names: list[str] = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = by_code[builtin]
        if name not in names:
            names.append(name)
    return names


def _read_model(flatbuffer: bytes):
    from tensorflow.lite.python import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(bytearray(flatbuffer), 0)
    return schema.ModelT.InitFromObj(root)


def _softmax_beta_offsets(flatbuffer: bytes) -> list[int]:
    """Byte offsets of every SOFTMAX operator's beta field (a little-endian float32)."""
    from tensorflow.lite.python import schema_py_generated as schema

    buf = bytearray(flatbuffer)
    model = schema.Model.GetRootAsModel(buf, 0)
    offsets = []
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        for op_index in range(graph.OperatorsLength()):
            op = graph.Operators(op_index)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin != schema.BuiltinOperator.SOFTMAX:
                continue
            table = op.BuiltinOptions()
            if table is None:
                raise ConversionError("SOFTMAX has no options table; cannot set beta")
            options = schema.SoftmaxOptions()
            options.Init(table.Bytes, table.Pos)
            field = options._tab.Offset(4)
            if field == 0:
                raise ConversionError("SOFTMAX beta is stored as a default; cannot patch in place")
            offsets.append(options._tab.Pos + field)
    return offsets


def softmax_beta(flatbuffer: bytes) -> float:
    """The beta of the (single) SOFTMAX operator."""
    offsets = _softmax_beta_offsets(flatbuffer)
    if len(offsets) != 1:
        raise ConversionError(f"expected one SOFTMAX operator, found {len(offsets)}")
    return struct.unpack_from("<f", flatbuffer, offsets[0])[0]


def set_softmax_beta(flatbuffer: bytes, beta: float) -> bytes:
    """Return a copy of the flatbuffer with the SOFTMAX beta replaced (1/temperature)."""
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a positive finite float, got {beta}")
    offsets = _softmax_beta_offsets(flatbuffer)
    if len(offsets) != 1:
        raise ConversionError(f"expected one SOFTMAX operator, found {len(offsets)}")
    patched = bytearray(flatbuffer)
    struct.pack_into("<f", patched, offsets[0], float(beta))
    return bytes(patched)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the NLL of softmax(logits / T) (golden-section on log T)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(logits) == 0:
        raise ValueError("cannot fit a temperature on zero samples")

    def nll(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    low, high = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        left = high - ratio * (high - low)
        right = low + ratio * (high - low)
        if nll(left) < nll(right):
            high = right
        else:
            low = left
    return float(np.exp((low + high) / 2.0))


def save(flatbuffer: bytes, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(flatbuffer)
    return path


def write_model_dir(
    out_dir: Path,
    flatbuffer: bytes,
    *,
    name: str,
    version: str,
    command: str,
    temperature: float,
    labels: list[str],
    preprocess: dict,
    architecture: dict,
    metrics: dict | None = None,
    uncertain_threshold: float = 0.6,
) -> Path:
    """Write model_int8.tflite + model_card.json (arena bisected with the TFLM oracle)."""
    import hashlib

    from tinyxray import model_card, tflm_arena

    out_dir = Path(out_dir)
    info = check_quantisation(flatbuffer)
    tflite_path = save(flatbuffer, out_dir / "model_int8.tflite")
    arena = tflm_arena.arena_by_target(flatbuffer)
    card = model_card.ModelCard(
        name=name,
        version=version,
        created_by_command=command,
        tflite=tflite_path.name,
        sha256=hashlib.sha256(flatbuffer).hexdigest(),
        labels=list(labels),
        input=model_card.TensorSpec(
            info.input_shape, "int8", info.input_scale, info.input_zero_point
        ),
        output=model_card.TensorSpec(
            info.output_shape, "int8", info.output_scale, info.output_zero_point
        ),
        preprocess=dict(preprocess),
        temperature=float(temperature),
        uncertain_threshold=float(uncertain_threshold),
        tflm_arena_bytes=arena["x86_64"],
        aot_arena_bytes=None,
        ops=op_names(flatbuffer),
        tflm_arena_bytes_by_target=arena,
        metrics=dict(metrics or {}),
        architecture=dict(architecture),
    )
    return model_card.save(card, out_dir / model_card.CARD_FILE)


def main(argv: list[str] | None = None) -> int:
    """python -m tinyxray.convert: a float .keras -> models/<name>/ (int8 .tflite + card)."""
    import argparse
    import json
    import shlex
    import sys

    from tinyxray import data, frame_cache, model_card, preprocess

    parser = argparse.ArgumentParser(
        prog="python -m tinyxray.convert",
        description="Convert a float .keras model to full int8 (calibrated on training frames).",
    )
    parser.add_argument("--model", required=True, help="float .keras model")
    parser.add_argument("--data", nargs="+", required=True, help="dataset root(s) for calibration")
    parser.add_argument("--split-file", default=None, help="calibrate on its train split only")
    parser.add_argument("--temperature", type=float, default=1.0, help="folded into SOFTMAX beta")
    parser.add_argument("--out", required=True, help="output folder (model_int8.tflite + card)")
    parser.add_argument("--name", default="tinyxray-converted")
    parser.add_argument("--version", default="0.0.0")
    args = parser.parse_args(argv)

    config = preprocess.PreprocessConfig()
    records = data.scan_datasets(args.data).records
    if args.split_file:
        from tinyxray import train

        split_of = train.read_split_csv(Path(args.split_file))
        records = [r for r in records if split_of.get(train.split_key(r.path, r.source)) == "train"]
    frames = frame_cache.load_frames(records, config).frames
    if len(frames) == 0:
        raise SystemExit("no calibration frames found")
    keras_model = keras.models.load_model(args.model, compile=False)
    flatbuffer = set_softmax_beta(convert_int8(keras_model, frames), 1.0 / args.temperature)
    command = "python -m tinyxray.convert " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    card_path = write_model_dir(
        Path(args.out),
        flatbuffer,
        name=args.name,
        version=args.version,
        command=command,
        temperature=args.temperature,
        labels=list(data.LABELS),
        preprocess=dataclasses.asdict(config),
        architecture={"source_model": str(args.model)},
    )
    card = model_card.load(card_path)
    print(json.dumps({"card": str(card_path), "ops": card.ops, "arena": card.tflm_arena_bytes}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
