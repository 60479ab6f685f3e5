"""Random small Keras models, converted to full-int8 .tflite, for the AOT engine's tests.

Each seed gives a different network: random input size and channels, a stem convolution,
a few random blocks (plain conv 1x1/3x3, depthwise 3x3, an inverted-residual block with
ADD, explicit zero padding), random strides, paddings, activations and bias use, and a
random head (global average pooling and/or flatten, dense layers, softmax with a random
beta). Representative data is random too, so quantisation parameters vary.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class RandomModel:
    seed: int
    description: str
    flatbuffer: bytes


def _activation(rng: np.random.Generator, keras: Any, x: Any) -> tuple[Any, str]:
    choice = rng.choice(["none", "relu", "relu6"])
    if choice == "relu":
        return keras.layers.ReLU()(x), choice
    if choice == "relu6":
        return keras.layers.ReLU(6.0)(x), choice
    return x, choice


def _conv(rng, keras, x, parts: list[str]):
    kernel = int(rng.choice([1, 3]))
    stride = int(rng.choice([1, 2])) if min(x.shape[1], x.shape[2]) >= 4 else 1
    valid_fits = kernel == 3 and min(x.shape[1], x.shape[2]) > 3
    padding = str(rng.choice(["same", "valid"])) if valid_fits else "same"
    filters = int(rng.integers(2, 17))
    x = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, use_bias=bool(rng.integers(0, 2))
    )(x)
    if rng.random() < 0.5:
        x = keras.layers.BatchNormalization()(x)
    x, act = _activation(rng, keras, x)
    parts.append(f"conv{kernel}x{kernel}/s{stride}/{padding}/{filters}/{act}")
    return x


def _depthwise(rng, keras, x, parts: list[str]):
    stride = int(rng.choice([1, 2])) if min(x.shape[1], x.shape[2]) >= 4 else 1
    padding = str(rng.choice(["same", "valid"])) if x.shape[1] > 3 and x.shape[2] > 3 else "same"
    x = keras.layers.DepthwiseConv2D(
        3, strides=stride, padding=padding, use_bias=bool(rng.integers(0, 2))
    )(x)
    x, act = _activation(rng, keras, x)
    parts.append(f"dw3x3/s{stride}/{padding}/{act}")
    return x


def _residual(rng, keras, x, parts: list[str]):
    channels = x.shape[-1]
    shortcut = x
    y = keras.layers.Conv2D(channels * int(rng.integers(1, 4)), 1)(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU(6.0)(y)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = keras.layers.ReLU(6.0)(y)
    y = keras.layers.Conv2D(channels, 1)(y)
    y = keras.layers.BatchNormalization()(y)
    parts.append("residual(add)")
    return keras.layers.Add()([shortcut, y])


def _zero_pad(rng, keras, x, parts: list[str]):
    pads = tuple(tuple(int(v) for v in rng.integers(0, 3, size=2)) for _ in range(2))
    parts.append(f"pad{pads}")
    return keras.layers.ZeroPadding2D(pads)(x)


def _flatten(keras, x):
    # A static Reshape (keras' Flatten converts to dynamic SHAPE/STRIDED_SLICE ops).
    return keras.layers.Reshape((int(np.prod(x.shape[1:])),))(x)


def build_keras_model(seed: int):
    """A random functional Keras model and a short description of it."""
    import keras

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    height, width = (int(v) for v in rng.integers(5, 21, size=2))
    channels = int(rng.choice([1, 2, 3, 4, 8]))
    inputs = keras.Input(shape=(height, width, channels), batch_size=1)
    parts = [f"in{height}x{width}x{channels}"]
    x = _conv(rng, keras, inputs, parts)
    for _ in range(int(rng.integers(1, 5))):
        block = rng.choice(["conv", "depthwise", "residual", "residual", "pad"])
        if block == "conv":
            x = _conv(rng, keras, x, parts)
        elif block == "depthwise":
            x = _depthwise(rng, keras, x, parts)
        elif block == "residual":
            x = _residual(rng, keras, x, parts)
        else:
            x = _zero_pad(rng, keras, x, parts)
    head = rng.choice(["mean", "mean", "flatten", "none"])
    if head == "mean":
        x = keras.layers.GlobalAveragePooling2D(keepdims=bool(rng.integers(0, 2)))(x)
        if len(x.shape) == 4:
            x = _flatten(keras, x)
        parts.append("mean")
    elif head == "flatten":
        x = _flatten(keras, x)
        parts.append("flatten")
    if head != "none":
        if rng.random() < 0.5:
            units = int(rng.integers(2, 17))
            x = keras.layers.Dense(units, activation=str(rng.choice(["relu", "linear"])))(x)
            parts.append(f"dense{units}")
        classes = int(rng.integers(2, 6))
        x = keras.layers.Dense(classes)(x)
        parts.append(f"dense{classes}")
        if rng.random() < 0.7:
            x = keras.layers.Softmax()(x)
            parts.append("softmax")
    return keras.Model(inputs, x), " ".join(parts)


def convert_int8(model: Any, seed: int, samples: int = 32) -> bytes:
    """Full-int8 conversion with random representative data (int8 input and output)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed + 1000)
    shape = (1, *model.input_shape[1:])
    scale = float(rng.choice([0.5, 1.0, 4.0, 50.0]))
    offset = float(rng.normal(0.0, scale))

    def dataset():
        for _ in range(samples):
            yield [(rng.normal(offset, scale, size=shape)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    from tinyxray import convert

    return convert.run_converter(converter)


def set_softmax_beta(flatbuffer: bytes, beta: float) -> bytes:
    """The same model with every SOFTMAX's beta replaced (re-serialised)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    changed = False
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin == schema.BuiltinOperator.SOFTMAX:
                op.builtinOptions.beta = float(beta)
                changed = True
    if not changed:
        return flatbuffer
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def append_requantize(flatbuffer: bytes, scale_factor: float, zero_point: int) -> bytes:
    """The same model with an int8 -> int8 QUANTIZE appended to its output (re-serialised)."""
    import copy

    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    subgraph = model.subgraphs[0]
    old_output = subgraph.outputs[0]
    tensor = copy.deepcopy(subgraph.tensors[old_output])
    tensor.name = b"requantized"
    tensor.buffer = 0
    tensor.quantization.scale = [float(np.float32(tensor.quantization.scale[0] * scale_factor))]
    tensor.quantization.zeroPoint = [int(zero_point)]
    subgraph.tensors.append(tensor)
    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.QUANTIZE
    code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs = [old_output]
    op.outputs = [len(subgraph.tensors) - 1]
    op.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
    op.builtinOptions = schema.QuantizeOptionsT()
    subgraph.operators.append(op)
    subgraph.outputs = [len(subgraph.tensors) - 1]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def random_model(seed: int) -> RandomModel:
    model, description = build_keras_model(seed)
    flatbuffer = convert_int8(model, seed)
    rng = np.random.default_rng(seed + 2000)
    if "softmax" in description and rng.random() < 0.6:
        beta = float(rng.choice([0.25, 0.5, 2.0, 3.7]))
        flatbuffer = set_softmax_beta(flatbuffer, beta)
        description += f"(beta={beta})"
    if "softmax" not in description and rng.random() < 0.4:
        factor = float(rng.choice([0.3, 0.77, 1.0, 2.5]))
        zero_point = int(rng.integers(-20, 21))
        flatbuffer = append_requantize(flatbuffer, factor, zero_point)
        description += f" quantize(x{factor}, zp {zero_point})"
    return RandomModel(seed, description, flatbuffer)


def random_inputs(shape: tuple[int, ...], count: int, seed: int) -> list[np.ndarray]:
    """Random int8 inputs, plus the two extremes (all -128, all 127)."""
    rng = np.random.default_rng(seed)
    inputs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
    inputs += [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]
    return inputs


def kernel_paths_model(seed: int):
    """A random MobileNetV2-like net: what the Cortex-M4 kernels specialise, at odd sizes.

    A 3x3 stride-2 stem on one channel, then inverted-residual blocks with channel counts
    of 8, 16, 24 and 48, depthwise strides 1 and 2 (SAME and VALID), residual ADDs, on
    inputs of odd and even sizes (odd pixel counts in the 1x1 layers), and a head of
    global pooling and a dense layer.
    """
    import keras

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    height, width = (int(v) for v in rng.integers(15, 40, size=2))
    inputs = keras.Input(shape=(height, width, 1), batch_size=1)
    channels = int(rng.choice([8, 16]))
    parts = [f"in{height}x{width}x1", f"stem{channels}/s2"]
    x = keras.layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    for _ in range(int(rng.integers(2, 5))):
        out_channels = int(rng.choice([8, 16, 24, 48]))
        expansion = int(rng.choice([1, 3, 6]))
        stride = int(rng.choice([1, 2])) if min(x.shape[1], x.shape[2]) >= 6 else 1
        padding = str(rng.choice(["same", "same", "valid"])) if min(x.shape[1:3]) > 4 else "same"
        shortcut = x
        y = x
        if expansion > 1:
            y = keras.layers.Conv2D(x.shape[-1] * expansion, 1, use_bias=False)(y)
            y = keras.layers.BatchNormalization()(y)
            y = keras.layers.ReLU(6.0)(y)
        y = keras.layers.DepthwiseConv2D(3, strides=stride, padding=padding, use_bias=False)(y)
        y = keras.layers.BatchNormalization()(y)
        y = keras.layers.ReLU(6.0)(y)
        y = keras.layers.Conv2D(out_channels, 1, use_bias=False)(y)
        y = keras.layers.BatchNormalization()(y)
        residual = stride == 1 and padding == "same" and out_channels == x.shape[-1]
        x = keras.layers.Add()([shortcut, y]) if residual else y
        parts.append(
            f"block(x{expansion},dw/s{stride}/{padding},{out_channels}{',add' if residual else ''})"
        )
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(int(rng.integers(2, 6)))(x)
    parts.append("mean dense")
    return keras.Model(inputs, x), " ".join(parts)


def stress_quantisation(flatbuffer: bytes, seed: int) -> tuple[bytes, str]:
    """The same model with quantisation at the edges of the fast requantisation's proof.

    In some convolutions, half the output channels get a bias that puts the accumulator's
    bound just below (or, for a few, just above) 2^30, and the output scale is raised by
    2^10..2^20 so the multipliers are tiny and the shifts large (so the outputs do not all
    saturate, and the rounding constant may overflow: the compiler must then use the exact
    form); in others the output scale is cut by 2^8..2^12 so the multipliers exceed one
    (left shifts). The tensors' scales stay consistent (the next op reads the same tensor,
    whose own shifts move the other way).
    """
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    rng = np.random.default_rng(seed + 3000)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    kinds = {schema.BuiltinOperator.CONV_2D: 0, schema.BuiltinOperator.DEPTHWISE_CONV_2D: 3}

    def builtin(op) -> int:
        code = model.operatorCodes[op.opcodeIndex]
        return max(code.builtinCode, code.deprecatedBuiltinCode)

    # An ADD's input scales must stay within 2^20 of its output's, or neither TFLM nor
    # the compiler takes the model: leave the tensors that feed one alone.
    added = {
        t for op in graph.operators if builtin(op) == schema.BuiltinOperator.ADD for t in op.inputs
    }
    parts = []
    for position, op in enumerate(graph.operators):
        if (
            builtin(op) not in kinds
            or len(op.inputs) < 3
            or op.inputs[2] < 0
            or op.outputs[0] in added
            or rng.random() < 0.4
        ):
            continue
        source, weights = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        bias, output = graph.tensors[op.inputs[2]], graph.tensors[op.outputs[0]]
        w = np.frombuffer(bytes(model.buffers[weights.buffer].data), np.int8)
        w = w.reshape(weights.shape).astype(np.int64)
        axis = kinds[builtin(op)]
        per_channel = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        in_zp = int(source.quantization.zeroPoint[0])
        out_scale = float(output.quantization.scale[0])
        if rng.random() < 0.7:
            values = np.frombuffer(bytes(model.buffers[bias.buffer].data), np.int32).copy()
            for channel in range(len(values)):
                if rng.random() < 0.5:
                    continue
                room = (1 << 30) - 1 - 128 * int(np.abs(per_channel[channel]).sum())
                edge = room - int(rng.integers(0, 200)) + (300 if rng.random() < 0.1 else 0)
                folded = edge if rng.random() < 0.5 else -edge
                # TFLM adds input_offset * sum(w) at run time; the compiler folds it.
                values[channel] = folded + in_zp * int(per_channel[channel].sum())
            model.buffers[bias.buffer].data = np.frombuffer(values.tobytes(), np.uint8)
            # 2^k times coarser: this layer's shifts grow by k (its consumers' shrink by k).
            scale = out_scale * float(2 ** int(rng.integers(10, 21)))
            parts.append(f"op{position}:edge")
        else:
            scale = out_scale * float(2 ** -int(rng.integers(8, 13)))
            parts.append(f"op{position}:left-shift")
        output.quantization.scale = [float(np.float32(scale))]
        output.quantization.zeroPoint = [int(rng.integers(-128, 128))]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), " ".join(parts) or "unchanged"
