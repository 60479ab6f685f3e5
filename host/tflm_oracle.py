"""The int8 oracle: what a device running TFLM computes, on the host.

`Int8Model` runs a .tflite with the tflite-micro Python interpreter (TFLM's reference
kernels, the same code the firmware's TFLM backend compiles). `minimal_arena_bytes` finds
the smallest tensor arena that lets the model allocate and run, by bisection.
`litert_ref_invoke` runs ai-edge-litert with BUILTIN_REF kernels, which is bit-exact with
TFLM (the default optimised kernels are not); tests check that claim.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ARENA_ALIGNMENT = 16


def check_softmax_params(flatbuffer: bytes) -> None:
    """Raise ValueError where TFLM's int8 SOFTMAX would abort the process.

    TFLM computes beta * input_scale * 2^26 and requires it to be > 1
    (QuantizeMultiplierGreaterThanOne); a degenerate model (e.g. untrained, with all logits
    near zero) violates this and TFLM calls abort(), which Python cannot catch.
    """
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(flatbuffer), 0))
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.SOFTMAX:
                continue
            tensor = graph.tensors[op.inputs[0]]
            if tensor.quantization is None or tensor.quantization.scale is None:
                continue
            scale = float(tensor.quantization.scale[0])
            beta = float(op.builtinOptions.beta)
            if beta * scale * float(1 << 26) <= 1.0:
                raise ValueError(
                    f"SOFTMAX input scale {scale:g} x beta {beta:g} is too small for TFLM "
                    "(degenerate logits; is the model trained?)"
                )


def _tflm_interpreter(flatbuffer: bytes, arena_bytes: int):
    from tflite_micro.python.tflite_micro import runtime

    check_softmax_params(flatbuffer)

    return runtime.Interpreter.from_bytes(flatbuffer, arena_size=int(arena_bytes))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence TFLM's C-level error prints (used while probing too-small arenas)."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


class Int8Model:
    """An int8 .tflite on the tflite-micro interpreter: `.invoke(int8 HxWxC) -> int8 scores`."""

    def __init__(self, tflite: str | Path | bytes, arena_bytes: int | None = None) -> None:
        if isinstance(tflite, bytes | bytearray):
            self.flatbuffer = bytes(tflite)
        else:
            path = Path(tflite)
            if not path.is_file():
                raise FileNotFoundError(f"no such model file: {path}")
            self.flatbuffer = path.read_bytes()
        self.arena_bytes = int(arena_bytes or max(512 * 1024, len(self.flatbuffer) * 4))
        try:
            self._interpreter = _tflm_interpreter(self.flatbuffer, self.arena_bytes)
        except RuntimeError as error:
            raise ValueError(f"tflite-micro cannot load this model: {error}") from error
        self.input_details = self._interpreter.get_input_details(0)
        self.output_details = self._interpreter.get_output_details(0)
        self.input_shape = tuple(int(d) for d in self.input_details["shape"])
        self.output_shape = tuple(int(d) for d in self.output_details["shape"])
        if np.dtype(self.input_details["dtype"]) != np.int8:
            raise ValueError("the oracle runs int8-input models only")
        in_q = self.input_details["quantization_parameters"]
        out_q = self.output_details["quantization_parameters"]
        self.input_scale = float(in_q["scales"][0])
        self.input_zero_point = int(in_q["zero_points"][0])
        self.output_scale = float(out_q["scales"][0])
        self.output_zero_point = int(out_q["zero_points"][0])

    def invoke(self, frame_int8: np.ndarray) -> np.ndarray:
        """Run one int8 frame (H,W,C or H,W or 1,H,W,C); returns the int8 output vector."""
        frame = np.asarray(frame_int8)
        if frame.dtype != np.int8:
            raise TypeError(f"input must be int8, got {frame.dtype}")
        if frame.size != int(np.prod(self.input_shape)):
            raise ValueError(f"input has {frame.size} values; model expects {self.input_shape}")
        self._interpreter.set_input(frame.reshape(self.input_shape), 0)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_output(0)).reshape(-1).astype(np.int8)

    def invoke_u8(self, frame_u8: np.ndarray) -> np.ndarray:
        """Run a uint8 frame, quantised as the firmware does (step 5 of the preprocessing)."""
        frame = np.asarray(frame_u8)
        if frame.dtype != np.uint8:
            raise TypeError(f"input must be uint8, got {frame.dtype}")
        quantised = np.floor(frame.astype(np.float64) / self.input_scale + 0.5)
        quantised = np.clip(quantised + self.input_zero_point, -128, 127).astype(np.int8)
        return self.invoke(quantised)

    def probabilities(self, scores_int8: np.ndarray) -> np.ndarray:
        """Dequantise int8 scores to float probabilities."""
        return (scores_int8.astype(np.float64) - self.output_zero_point) * self.output_scale


def runs_with_arena(flatbuffer: bytes, arena_bytes: int) -> bool:
    """True if the model allocates and runs one inference in an arena of this size."""
    try:
        with _quiet_stderr():
            interpreter = _tflm_interpreter(flatbuffer, arena_bytes)
            details = interpreter.get_input_details(0)
            interpreter.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
            interpreter.invoke()
    except (RuntimeError, ValueError):
        return False
    return True


def minimal_arena_bytes(flatbuffer: bytes, upper: int = 4 * 1024 * 1024) -> int:
    """Smallest arena (multiple of 16 bytes) with which TFLM allocates and invokes the model."""
    if not runs_with_arena(flatbuffer, upper):
        raise ValueError(f"model does not run even with a {upper}-byte arena")
    low, high = 0, upper // ARENA_ALIGNMENT  # low fails (or is zero), high works
    while high - low > 1:
        middle = (low + high) // 2
        if runs_with_arena(flatbuffer, middle * ARENA_ALIGNMENT):
            high = middle
        else:
            low = middle
    return high * ARENA_ALIGNMENT


def litert_ref_invoke(
    flatbuffer: bytes, frames_int8: np.ndarray, reference_kernels: bool = True
) -> np.ndarray:
    """Run frames (N,H,W,C int8) through ai-edge-litert; BUILTIN_REF kernels by default."""
    from ai_edge_litert import interpreter as litert

    resolver = (
        litert.OpResolverType.BUILTIN_REF if reference_kernels else litert.OpResolverType.AUTO
    )
    interpreter = litert.Interpreter(
        model_content=flatbuffer, experimental_op_resolver_type=resolver, num_threads=1
    )
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    shape = interpreter.get_input_details()[0]["shape"]
    outputs = []
    for frame in frames_int8:
        interpreter.set_tensor(input_index, frame.reshape(shape).astype(np.int8))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index).reshape(-1).copy())
    return np.stack(outputs)


def ops_of_kind(flatbuffer: bytes, kind: str) -> list:
    """The operators of one builtin kind (e.g. "SOFTMAX"), in graph order (schema object API)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(flatbuffer), 0))
    wanted = getattr(schema.BuiltinOperator, kind)
    return [
        op
        for op in model.subgraphs[0].operators
        if max(
            model.operatorCodes[op.opcodeIndex].builtinCode,
            model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode,
        )
        == wanted
    ]


def intermediate_values(
    flatbuffer: bytes, tensor_index: int, frames_int8: Iterable[np.ndarray]
) -> np.ndarray:
    """Dequantised values of one intermediate tensor, one row per frame.

    TFLM's Python interpreter cannot expose intermediates, so this runs ai-edge-litert with
    reference kernels (bit-exact with TFLM, as tests/test_oracle.py checks) and all tensors
    preserved.
    """
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_content=flatbuffer,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
        num_threads=1,
    )
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    scale, zero_point = next(
        d["quantization"] for d in interpreter.get_tensor_details() if d["index"] == tensor_index
    )
    rows = []
    for frame in frames_int8:
        interpreter.set_tensor(detail["index"], frame.reshape(detail["shape"]).astype(np.int8))
        interpreter.invoke()
        raw = interpreter.get_tensor(tensor_index).reshape(-1).astype(np.float64)
        rows.append((raw - zero_point) * scale)
    return np.stack(rows) if rows else np.zeros((0, 0))


def softmax_beta_check(flatbuffer: bytes, frames_int8: np.ndarray) -> dict:
    """Check that the device's output is softmax(beta * logits) with the flatbuffer's beta.

    The SOFTMAX input (the logits) is read with `intermediate_values`; the expected
    probabilities are computed in float64 from it and the stored beta, and compared with the
    TFLM oracle's dequantised output. Returns beta, frames and the largest absolute
    probability difference (about 1/256 when beta is honoured).
    """
    softmax_ops = ops_of_kind(flatbuffer, "SOFTMAX")
    if len(softmax_ops) != 1:
        raise ValueError(f"expected one SOFTMAX op, found {len(softmax_ops)}")
    beta = float(softmax_ops[0].builtinOptions.beta)
    logits = intermediate_values(flatbuffer, int(softmax_ops[0].inputs[0]), frames_int8)
    oracle = Int8Model(flatbuffer)
    worst = 0.0
    for frame, frame_logits in zip(frames_int8, logits, strict=True):
        scaled = beta * frame_logits
        expected = np.exp(scaled - scaled.max())
        expected /= expected.sum()
        actual = oracle.probabilities(oracle.invoke(frame))
        worst = max(worst, float(np.max(np.abs(actual - expected))))
    return {"beta": beta, "frames": len(frames_int8), "max_abs_diff": worst}
