"""Read an int8 .tflite flatbuffer into a small, typed graph (tensors + operators).

Uses the flatbuffer schema module shipped with tflite-micro (no TensorFlow import).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


class UnsupportedModelError(ValueError):
    """The model uses an op, dtype or option the AOT engine does not implement."""


_TENSOR_TYPES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_BUILTIN_OPS = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_NUMPY_TYPES = {
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FLOAT32": np.float32,
}


@dataclasses.dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray  # float32, empty when not quantised
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant contents, shaped, or None for activations

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_NUMPY_TYPES.get(self.dtype, np.int8)).itemsize

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    def describe(self) -> str:
        return f"tensor {self.index} '{self.name}' {self.dtype}{list(self.shape)}"


@dataclasses.dataclass
class Operator:
    index: int
    opcode: str
    inputs: list[int]  # -1 marks an omitted optional input
    outputs: list[int]
    options: Any

    def describe(self) -> str:
        return f"operator {self.index} ({self.opcode})"


@dataclasses.dataclass
class Graph:
    name: str
    sha256: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def read_tflite(source: str | Path | bytes) -> Graph:
    """Parse a .tflite file (path or bytes) into a Graph; raise on structure we cannot run."""
    if isinstance(source, bytes | bytearray):
        flatbuffer, name = bytes(source), "model"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such model file: {path}")
        flatbuffer, name = path.read_bytes(), path.stem
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    except Exception as error:  # the flatbuffer library raises assorted errors
        raise UnsupportedModelError(f"not a readable .tflite flatbuffer: {error}") from error
    if not model.subgraphs:
        raise UnsupportedModelError("the model has no subgraph")
    if len(model.subgraphs) != 1:
        raise UnsupportedModelError(
            f"the model has {len(model.subgraphs)} subgraphs; only single-subgraph models"
            " are supported"
        )
    subgraph = model.subgraphs[0]
    tensors = [_read_tensor(model, index, t) for index, t in enumerate(subgraph.tensors or [])]
    operators = []
    for index, op in enumerate(subgraph.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        opcode = _BUILTIN_OPS.get(builtin, f"BUILTIN_{builtin}")
        if opcode == "CUSTOM":
            custom = code.customCode.decode() if code.customCode else "?"
            opcode = f"CUSTOM({custom})"
        operators.append(
            Operator(
                index=index,
                opcode=opcode,
                inputs=[int(i) for i in (op.inputs if op.inputs is not None else [])],
                outputs=[int(i) for i in (op.outputs if op.outputs is not None else [])],
                options=op.builtinOptions,
            )
        )
    return Graph(
        name=name,
        sha256=hashlib.sha256(flatbuffer).hexdigest(),
        tensors=tensors,
        operators=operators,
        inputs=[int(i) for i in subgraph.inputs],
        outputs=[int(i) for i in subgraph.outputs],
    )


def _read_tensor(model: Any, index: int, tensor: Any) -> Tensor:
    dtype = _TENSOR_TYPES.get(int(tensor.type), f"TYPE_{tensor.type}")
    shape = tuple(int(d) for d in (tensor.shape if tensor.shape is not None else []))
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")
    quant = tensor.quantization
    scale = np.zeros(0, np.float32)
    zero_point = np.zeros(0, np.int64)
    quantized_dimension = 0
    if quant is not None and quant.scale is not None:
        scale = np.asarray(quant.scale, dtype=np.float32)
        zero_point = np.asarray(quant.zeroPoint, dtype=np.int64)
        quantized_dimension = int(quant.quantizedDimension)
    data = None
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is not None and getattr(buffer, "offset", 0) > 1:
        raise UnsupportedModelError(f"tensor {index} '{name}' stores its data outside the buffer")
    if buffer is not None and buffer.data is not None and len(buffer.data) > 0:
        if dtype not in _NUMPY_TYPES:
            raise UnsupportedModelError(f"constant tensor {index} '{name}' has dtype {dtype}")
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
        data = np.frombuffer(raw, dtype=_NUMPY_TYPES[dtype]).reshape(shape).copy()
    return Tensor(index, name, shape, dtype, scale, zero_point, quantized_dimension, data)
