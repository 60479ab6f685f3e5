"""Validate each operator and lower it to a kernel call with precomputed parameters.

Everything a kernel needs (padding, zero points, activation bounds, per-channel
multipliers and shifts, folded biases) is computed here, once, so the device keeps no
quantisation state in RAM. Anything outside the supported set raises
`UnsupportedModelError` naming the operator and the offending op, dtype or option.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyxray.aot import quantization, requant
from tinyxray.aot.graph import Graph, Operator, Tensor, UnsupportedModelError

SUPPORTED_OPS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "ADD",
    "MEAN",
    "FULLY_CONNECTED",
    "SOFTMAX",
    "RESHAPE",
    "PAD",
    "QUANTIZE",
)
_ACTIVATIONS = {
    v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")
}
_SUPPORTED_ACTIVATIONS = ("NONE", "RELU", "RELU6")


# Bytes per element of each constant's C type (the records: one row of 3 or 4 int32).
_CTYPE_BYTES = {"int8_t": 1, "int32_t": 4, "tx_channel_quant": 12, "tx_conv_quant": 16}
# Readable zero bytes after a filter: the DSP kernels load weights 4 at a time.
FILTER_PADDING = 4


@dataclasses.dataclass
class Constant:
    """A const array emitted to flash (int8 arrays 4-byte aligned)."""

    name: str
    ctype: str  # "int8_t", "int32_t", "tx_channel_quant" or "tx_conv_quant" (rows of 3, 4)
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        rows = len(self.values) if self.ctype.endswith("_quant") else int(self.values.size)
        return rows * _CTYPE_BYTES[self.ctype]


@dataclasses.dataclass
class Layer:
    """One kernel call: `tx_kernels.<kernel>(&params, inputs..., output)`."""

    op_index: int
    opcode: str
    kernel: str  # member of tx_kernel_table, or "alias" for RESHAPE
    param_type: str
    params: dict[str, Any]  # C field -> int/float/str (constant name) / None
    constants: list[Constant]
    inputs: list[int]  # activation tensor indices read
    output: int
    macs: int
    in_place_input: int | None = None  # input whose buffer may be reused for the output
    exact_reason: str = ""  # why the fast requantisation is not proven ("" if it is or n/a)

    @property
    def const_bytes(self) -> int:
        return sum(constant.nbytes for constant in self.constants)


def lower_graph(graph: Graph) -> list[Layer]:
    _check_io(graph)
    layers = []
    for op in graph.operators:
        lower = _LOWERINGS.get(op.opcode)
        if lower is None:
            raise UnsupportedModelError(
                f"{op.describe()}: op {op.opcode} is not supported by the AOT engine"
                f" (supported: {', '.join(SUPPORTED_OPS)})"
            )
        if len(op.outputs) != 1:
            raise UnsupportedModelError(f"{op.describe()}: expected one output")
        for index in op.outputs:
            _check_activation(graph, op, graph.tensors[index])
        layers.append(lower(graph, op))
    return layers


def _check_io(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs;"
            " exactly one of each is supported"
        )
    for index in (*graph.inputs, *graph.outputs):
        tensor = graph.tensors[index]
        if tensor.dtype != "INT8":
            raise UnsupportedModelError(
                f"model input/output {tensor.describe()} has dtype {tensor.dtype};"
                " only INT8 is supported (convert with full-int8 quantisation)"
            )


def _check_activation(graph: Graph, op: Operator, tensor: Tensor) -> None:
    if tensor.dtype != "INT8":
        raise UnsupportedModelError(
            f"{op.describe()}: {tensor.describe()} has dtype {tensor.dtype}; only INT8"
            " activations are supported"
        )
    if tensor.scale.size != 1 or tensor.zero_point.size != 1:
        raise UnsupportedModelError(
            f"{op.describe()}: {tensor.describe()} must have per-tensor quantisation"
        )
    if tensor.shape and tensor.shape[0] != 1:
        raise UnsupportedModelError(
            f"{op.describe()}: {tensor.describe()} has batch {tensor.shape[0]}; only batch 1"
        )


def _activation_input(graph: Graph, op: Operator, position: int) -> Tensor:
    if position >= len(op.inputs) or op.inputs[position] < 0:
        raise UnsupportedModelError(f"{op.describe()}: input {position} is missing")
    tensor = graph.tensors[op.inputs[position]]
    if tensor.is_constant:
        raise UnsupportedModelError(
            f"{op.describe()}: constant {tensor.describe()} as a data input is not supported"
        )
    _check_activation(graph, op, tensor)
    return tensor


def _constant_input(graph: Graph, op: Operator, position: int, dtype: str) -> Tensor | None:
    if position >= len(op.inputs) or op.inputs[position] < 0:
        return None
    tensor = graph.tensors[op.inputs[position]]
    if not tensor.is_constant:
        raise UnsupportedModelError(
            f"{op.describe()}: {tensor.describe()} must be a constant (weights/bias/params)"
        )
    if tensor.dtype != dtype:
        raise UnsupportedModelError(
            f"{op.describe()}: {tensor.describe()} has dtype {tensor.dtype}; expected {dtype}"
        )
    return tensor


def _fused_activation(op: Operator) -> str:
    name = _ACTIVATIONS.get(int(op.options.fusedActivationFunction), "?")
    if name not in _SUPPORTED_ACTIVATIONS:
        raise UnsupportedModelError(
            f"{op.describe()}: fused activation {name} is not supported"
            f" (supported: {', '.join(_SUPPORTED_ACTIVATIONS)})"
        )
    return name


def _qparams(tensor: Tensor) -> tuple[float, int]:
    return float(tensor.scale[0]), int(tensor.zero_point[0])


def _filter_scales(op: Operator, weights: Tensor, channels: int, axis: int) -> np.ndarray:
    if np.any(weights.zero_point != 0):
        raise UnsupportedModelError(
            f"{op.describe()}: {weights.describe()} has non-zero weight zero points"
            " (only symmetric int8 weights are supported)"
        )
    if weights.scale.size == 1:
        return np.repeat(weights.scale, channels)
    if weights.scale.size != channels or weights.quantized_dimension != axis:
        raise UnsupportedModelError(
            f"{op.describe()}: {weights.describe()} has {weights.scale.size} scales on axis"
            f" {weights.quantized_dimension}; expected per-tensor or {channels} on axis {axis}"
        )
    return weights.scale


def _padding(op: Operator, in_size: int, kernel: int, stride: int, out_size: int) -> int:
    padding = int(op.options.padding)
    if padding == schema.Padding.SAME:
        expected = (in_size + stride - 1) // stride
    elif padding == schema.Padding.VALID:
        expected = (in_size - kernel + stride) // stride
    else:
        raise UnsupportedModelError(f"{op.describe()}: padding {padding} is not supported")
    if expected != out_size:
        raise UnsupportedModelError(
            f"{op.describe()}: output size {out_size} does not match the padding ({expected})"
        )
    return max(0, (out_size - 1) * stride + kernel - in_size) // 2


# TFLM multiplies by (1 << shift) before the rounding multiply: past 31 that is undefined
# behaviour in C++, and TFLM's results differ between platforms (x86 masks the shift count,
# an Arm core shifts everything out), so there is no arithmetic to be exact with.
MAX_LEFT_SHIFT = 31


def _check_shifts(op: Operator, shifts: list[int]) -> None:
    worst = max(shifts, default=0)
    if worst > MAX_LEFT_SHIFT:
        raise UnsupportedModelError(
            f"{op.describe()}: an output rescaling needs a left shift of {worst}"
            f" (a multiplier of about 2^{worst - 1}); TFLM's arithmetic is undefined past"
            f" {MAX_LEFT_SHIFT} (check the output tensor's scale)"
        )


def _check_dilation(op: Operator) -> None:
    if int(op.options.dilationHFactor) != 1 or int(op.options.dilationWFactor) != 1:
        raise UnsupportedModelError(f"{op.describe()}: dilation is not supported")


def _bias(graph: Graph, op: Operator, channels: int, prefix: str) -> np.ndarray | None:
    bias = _constant_input(graph, op, 2, "INT32")
    if bias is None:
        return None
    if bias.size != channels:
        raise UnsupportedModelError(f"{op.describe()}: bias has {bias.size} values")
    return bias.data.reshape(-1).astype(np.int64)


def _conv2d(graph: Graph, op: Operator) -> Layer:
    _check_dilation(op)
    source = _activation_input(graph, op, 0)
    weights = _constant_input(graph, op, 1, "INT8")
    if weights is None or len(weights.shape) != 4 or len(source.shape) != 4:
        raise UnsupportedModelError(f"{op.describe()}: expects 4-D input and weights")
    output = graph.tensors[op.outputs[0]]
    _, in_h, in_w, in_c = source.shape
    out_c, k_h, k_w, filter_c = weights.shape
    _, out_h, out_w, out_c2 = output.shape
    if filter_c != in_c or out_c2 != out_c:
        raise UnsupportedModelError(
            f"{op.describe()}: grouped convolution / channel mismatch is not supported"
        )
    stride_h, stride_w = int(op.options.strideH), int(op.options.strideW)
    pad_top = _padding(op, in_h, k_h, stride_h, out_h)
    pad_left = _padding(op, in_w, k_w, stride_w, out_w)
    activation = _fused_activation(op)
    in_scale, in_zp = _qparams(source)
    out_scale, out_zp = _qparams(output)
    scales = _filter_scales(op, weights, out_c, 0)
    multipliers, shifts = quantization.per_channel_multipliers(in_scale, scales, out_scale)
    _check_shifts(op, shifts)
    act_min, act_max = quantization.activation_range(activation, out_scale, out_zp)
    bias = _bias(graph, op, out_c, "conv")
    filter_values = weights.data.astype(np.int8).reshape(out_c, -1)
    pointwise = (k_h, k_w, stride_h, stride_w, pad_top, pad_left) == (1, 1, 1, 1, 0, 0) and (
        out_h,
        out_w,
    ) == (in_h, in_w)
    return _convolution_layer(
        op,
        source,
        output,
        filter_values,
        bias,
        multipliers,
        shifts,
        in_zp,
        out_zp,
        (act_min, act_max),
        geometry={
            "in_h": in_h,
            "in_w": in_w,
            "in_c": in_c,
            "out_h": out_h,
            "out_w": out_w,
            "out_c": out_c,
            "k_h": k_h,
            "k_w": k_w,
            "stride_h": stride_h,
            "stride_w": stride_w,
            "pad_top": pad_top,
            "pad_left": pad_left,
        },
        kernel="conv2d_1x1" if pointwise else "conv2d",
        macs=out_h * out_w * out_c * k_h * k_w * in_c,
    )


def _convolution_layer(
    op: Operator,
    source: Tensor,
    output: Tensor,
    filter_values: np.ndarray,
    bias: np.ndarray | None,
    multipliers: list[int],
    shifts: list[int],
    in_zp: int,
    out_zp: int,
    act_range: tuple[int, int],
    geometry: dict[str, int],
    kernel: str,
    macs: int,
) -> Layer:
    """A tx_conv_params layer from weights [out_c][taps * in_c] (CONV_2D, FULLY_CONNECTED).

    The input offset is folded into the bias for every tap (a padding tap reads the input
    zero point, see tx_kernels.h), and the fast requantisation is proven or refused here.
    """
    out_c = filter_values.shape[0]
    sums = filter_values.astype(np.int64).sum(axis=1)
    folded = _wrap_int32((bias if bias is not None else 0) + (-in_zp) * sums)
    bound = requant.accumulator_bound(folded, np.abs(filter_values.astype(np.int64)).sum(axis=1))
    plan = requant.channel_plan(folded, multipliers, shifts, out_zp, bound, with_rounding=True)
    name = f"op{op.index}"
    constants = [
        Constant(f"k_{name}_filter", "int8_t", _padded_filter(filter_values)),
        Constant(f"k_{name}_quant", "tx_conv_quant", plan.records),
    ]
    params = {
        **geometry,
        "input_zero_point": in_zp,
        "output_offset": out_zp,
        "act_min": act_range[0],
        "act_max": act_range[1],
        "fast_requant": int(plan.fast),
        "filter": f"k_{name}_filter",
        "quant": f"k_{name}_quant",
    }
    assert len(plan.records) == out_c
    return Layer(
        op.index,
        op.opcode,
        kernel,
        "tx_conv_params",
        params,
        constants,
        [source.index],
        output.index,
        macs,
        exact_reason=plan.reason,
    )


def _padded_filter(values: np.ndarray) -> np.ndarray:
    flat = values.astype(np.int8).reshape(-1)
    return np.concatenate([flat, np.zeros(FILTER_PADDING, np.int8)])


def _depthwise_conv2d(graph: Graph, op: Operator) -> Layer:
    _check_dilation(op)
    source = _activation_input(graph, op, 0)
    weights = _constant_input(graph, op, 1, "INT8")
    output = graph.tensors[op.outputs[0]]
    if weights is None or len(weights.shape) != 4 or len(source.shape) != 4:
        raise UnsupportedModelError(f"{op.describe()}: expects 4-D input and weights")
    _, in_h, in_w, channels = source.shape
    _, k_h, k_w, filter_c = weights.shape
    _, out_h, out_w, out_c = output.shape
    multiplier = int(op.options.depthMultiplier)
    if filter_c != channels or out_c != channels or multiplier not in (0, 1):
        raise UnsupportedModelError(
            f"{op.describe()}: depth multiplier {multiplier} (in {channels} -> out {out_c}"
            " channels) is not supported; only multiplier 1"
        )
    stride_h, stride_w = int(op.options.strideH), int(op.options.strideW)
    pad_top = _padding(op, in_h, k_h, stride_h, out_h)
    pad_left = _padding(op, in_w, k_w, stride_w, out_w)
    activation = _fused_activation(op)
    in_scale, in_zp = _qparams(source)
    out_scale, out_zp = _qparams(output)
    scales = _filter_scales(op, weights, channels, 3)
    multipliers, shifts = quantization.per_channel_multipliers(in_scale, scales, out_scale)
    _check_shifts(op, shifts)
    act_min, act_max = quantization.activation_range(activation, out_scale, out_zp)
    bias = _bias(graph, op, channels, "dw")
    name = f"op{op.index}"
    filter_values = weights.data.astype(np.int8)
    taps = filter_values.reshape(-1, channels).astype(np.int64)
    folded = _wrap_int32((bias if bias is not None else 0) + (-in_zp) * taps.sum(axis=0))
    bound = requant.accumulator_bound(folded, np.abs(taps).sum(axis=0))
    plan = requant.channel_plan(folded, multipliers, shifts, out_zp, bound)
    constants = [
        Constant(f"k_{name}_filter", "int8_t", _padded_filter(filter_values)),
        Constant(f"k_{name}_quant", "tx_channel_quant", plan.records),
    ]
    params = {
        "in_h": in_h,
        "in_w": in_w,
        "channels": channels,
        "out_h": out_h,
        "out_w": out_w,
        "k_h": k_h,
        "k_w": k_w,
        "stride_h": stride_h,
        "stride_w": stride_w,
        "pad_top": pad_top,
        "pad_left": pad_left,
        "input_zero_point": in_zp,
        "output_offset": out_zp,
        "act_min": act_min,
        "act_max": act_max,
        "fast_requant": int(plan.fast),
        "filter": f"k_{name}_filter",
        "quant": f"k_{name}_quant",
    }
    three_by_three = (
        (k_h, k_w) == (3, 3)
        and stride_h == stride_w
        and stride_h in (1, 2)
        and pad_top in (0, 1)
        and pad_left in (0, 1)
    )
    macs = out_h * out_w * channels * k_h * k_w
    return Layer(
        op.index,
        op.opcode,
        "depthwise_conv2d_3x3" if three_by_three else "depthwise_conv2d",
        "tx_depthwise_params",
        params,
        constants,
        [source.index],
        output.index,
        macs,
        exact_reason=plan.reason,
    )


def _add(graph: Graph, op: Operator) -> Layer:
    first = _activation_input(graph, op, 0)
    second = _activation_input(graph, op, 1)
    output = graph.tensors[op.outputs[0]]
    if first.shape != second.shape or first.shape != output.shape:
        raise UnsupportedModelError(
            f"{op.describe()}: broadcasting ADD ({list(first.shape)} + {list(second.shape)})"
            " is not supported"
        )
    activation = _fused_activation(op)
    # ADD commutes: the input with the larger scale goes second, where the fast kernel
    # expects the one whose rescaling is an exact shift.
    if np.float32(first.scale[0]) > np.float32(second.scale[0]):
        first, second = second, first
    scale1, zp1 = _qparams(first)
    scale2, zp2 = _qparams(second)
    out_scale, out_zp = _qparams(output)
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    try:
        mult1, shift1 = quantization.quantize_multiplier_smaller_than_one(scale1 / twice_max)
        mult2, shift2 = quantization.quantize_multiplier_smaller_than_one(scale2 / twice_max)
        out_mult, out_shift = quantization.quantize_multiplier_smaller_than_one(
            twice_max / ((1 << left_shift) * out_scale)
        )
    except ValueError as error:
        raise UnsupportedModelError(
            f"{op.describe()}: ADD of scales {scale1!r} and {scale2!r} into {out_scale!r}"
            f" needs a rescaling outside (0, 1), which TFLM's int8 ADD refuses too: {error}"
        ) from error
    act_min, act_max = quantization.activation_range(activation, out_scale, out_zp)
    params = {
        "count": output.size,
        "left_shift": left_shift,
        "input1_offset": -zp1,
        "input1_multiplier": mult1,
        "input1_shift": shift1,
        "input2_offset": -zp2,
        "input2_multiplier": mult2,
        "input2_shift": shift2,
        "output_offset": out_zp,
        "output_multiplier": out_mult,
        "output_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }
    fast = requant.add_fast_fields(params)
    params.update(
        {
            key: fast.get(key, 0)
            for key in (
                "fast",
                "fast_input1_offset",
                "fast_input1_rounding",
                "fast_input2_offset",
                "fast_output_rounding",
            )
        }
    )
    # The buffer of the input TFLM lists first may be reused in place, wherever the swap
    # put it (each element is read before it is written).
    in_place = op.inputs[0]
    return Layer(
        op.index,
        op.opcode,
        "add",
        "tx_add_params",
        params,
        [],
        [first.index, second.index],
        output.index,
        0,
        in_place_input=in_place,
        exact_reason="" if params["fast"] else "not proven for the fast form",
    )


def _mean(graph: Graph, op: Operator) -> Layer:
    source = _activation_input(graph, op, 0)
    axis = _constant_input(graph, op, 1, "INT32")
    output = graph.tensors[op.outputs[0]]
    if len(source.shape) != 4 or axis is None:
        raise UnsupportedModelError(f"{op.describe()}: MEAN needs a 4-D input and const axes")
    axes = sorted(int(a) % 4 for a in axis.data.reshape(-1))
    if axes != [1, 2]:
        raise UnsupportedModelError(
            f"{op.describe()}: MEAN over axes {axes} is not supported (only H,W = [1, 2])"
        )
    _, in_h, in_w, channels = source.shape
    if output.size != channels:
        raise UnsupportedModelError(f"{op.describe()}: unexpected MEAN output shape")
    in_scale, in_zp = _qparams(source)
    out_scale, out_zp = _qparams(output)
    multiplier, shift = quantization.mean_multiplier(in_scale, out_scale, in_h * in_w)
    _check_shifts(op, [shift])
    rounding = requant.mean_fast_rounding(in_h * in_w, in_zp, multiplier, shift, out_zp)
    params = {
        "in_h": in_h,
        "in_w": in_w,
        "channels": channels,
        "input_zero_point": in_zp,
        "multiplier": multiplier,
        "shift": shift,
        "output_zero_point": out_zp,
        "fast": int(rounding is not None),
        "fast_rounding": rounding or 0,
    }
    return Layer(
        op.index,
        op.opcode,
        "mean",
        "tx_mean_params",
        params,
        [],
        [source.index],
        output.index,
        0,
        exact_reason="" if rounding is not None else "not proven for the fast form",
    )


def _fully_connected(graph: Graph, op: Operator) -> Layer:
    source = _activation_input(graph, op, 0)
    weights = _constant_input(graph, op, 1, "INT8")
    output = graph.tensors[op.outputs[0]]
    if weights is None or len(weights.shape) != 2:
        raise UnsupportedModelError(f"{op.describe()}: expects 2-D int8 weights")
    if int(op.options.weightsFormat) != schema.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise UnsupportedModelError(f"{op.describe()}: shuffled weights are not supported")
    if getattr(op.options, "asymmetricQuantizeInputs", False):
        raise UnsupportedModelError(f"{op.describe()}: hybrid quantisation is not supported")
    out_features, in_features = weights.shape
    if source.size != in_features or output.size != out_features:
        raise UnsupportedModelError(
            f"{op.describe()}: {source.size} inputs for {in_features}x{out_features} weights"
            " (only one row is supported)"
        )
    activation = _fused_activation(op)
    in_scale, in_zp = _qparams(source)
    out_scale, out_zp = _qparams(output)
    scales = _filter_scales(op, weights, out_features, 0)
    multipliers, shifts = quantization.per_channel_multipliers(in_scale, scales, out_scale)
    _check_shifts(op, shifts)
    act_min, act_max = quantization.activation_range(activation, out_scale, out_zp)
    bias = _bias(graph, op, out_features, "fc")
    # One row of features is a 1x1 convolution of a 1x1 image (weights are symmetric, so
    # TFLM's filter offset is zero): the same kernels and requantisation.
    return _convolution_layer(
        op,
        source,
        output,
        weights.data.astype(np.int8).reshape(out_features, in_features),
        bias,
        multipliers,
        shifts,
        in_zp,
        out_zp,
        (act_min, act_max),
        geometry={
            "in_h": 1,
            "in_w": 1,
            "in_c": in_features,
            "out_h": 1,
            "out_w": 1,
            "out_c": out_features,
            "k_h": 1,
            "k_w": 1,
            "stride_h": 1,
            "stride_w": 1,
            "pad_top": 0,
            "pad_left": 0,
        },
        kernel="conv2d_1x1",
        macs=in_features * out_features,
    )


def _softmax(graph: Graph, op: Operator) -> Layer:
    source = _activation_input(graph, op, 0)
    output = graph.tensors[op.outputs[0]]
    out_scale, out_zp = _qparams(output)
    if np.float32(out_scale) != np.float32(1.0 / 256.0) or out_zp != -128:
        raise UnsupportedModelError(
            f"{op.describe()}: int8 SOFTMAX output must have scale 1/256 and zero point -128"
            f" (got {out_scale!r}, {out_zp})"
        )
    in_scale, _ = _qparams(source)
    beta = float(op.options.beta)
    try:
        multiplier, left_shift, diff_min = quantization.softmax_parameters(beta, in_scale)
    except ValueError as error:
        raise UnsupportedModelError(
            f"{op.describe()}: SOFTMAX beta {beta} x input scale {in_scale} is too small for"
            f" the int8 fixed-point softmax (TFLM rejects it too): {error}"
        ) from error
    depth = source.shape[-1] if source.shape else 1
    params = {
        "rows": source.size // depth,
        "depth": depth,
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "diff_min": diff_min,
    }
    return Layer(
        op.index,
        op.opcode,
        "softmax",
        "tx_softmax_params",
        params,
        [],
        [source.index],
        output.index,
        0,
    )


def _reshape(graph: Graph, op: Operator) -> Layer:
    source = _activation_input(graph, op, 0)
    output = graph.tensors[op.outputs[0]]
    if source.size != output.size:
        raise UnsupportedModelError(f"{op.describe()}: RESHAPE changes the element count")
    if _qparams(source) != _qparams(output):
        raise UnsupportedModelError(f"{op.describe()}: RESHAPE changes the quantisation")
    return Layer(op.index, op.opcode, "alias", "", {}, [], [source.index], output.index, 0)


def _pad(graph: Graph, op: Operator) -> Layer:
    source = _activation_input(graph, op, 0)
    paddings = _constant_input(graph, op, 1, "INT32")
    output = graph.tensors[op.outputs[0]]
    if paddings is None or len(source.shape) != 4 or paddings.data.shape != (4, 2):
        raise UnsupportedModelError(f"{op.describe()}: PAD needs a 4-D input and const paddings")
    pads = paddings.data.astype(int)
    if pads[0].any() or pads[3].any() or (pads < 0).any():
        raise UnsupportedModelError(
            f"{op.describe()}: PAD of batch or channels is not supported (only H and W)"
        )
    if _qparams(source) != _qparams(output):
        raise UnsupportedModelError(f"{op.describe()}: PAD changes the quantisation")
    _, in_h, in_w, channels = source.shape
    params = {
        "in_h": in_h,
        "in_w": in_w,
        "channels": channels,
        "pad_top": int(pads[1, 0]),
        "pad_bottom": int(pads[1, 1]),
        "pad_left": int(pads[2, 0]),
        "pad_right": int(pads[2, 1]),
        "pad_value": _qparams(output)[1],
    }
    return Layer(
        op.index, op.opcode, "pad", "tx_pad_params", params, [], [source.index], output.index, 0
    )


def _quantize(graph: Graph, op: Operator) -> Layer:
    """QUANTIZE int8 -> int8 (requantisation); float or other dtypes are refused."""
    source = graph.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    if source is None or source.dtype != "INT8":
        dtype = source.dtype if source is not None else "none"
        raise UnsupportedModelError(
            f"{op.describe()}: QUANTIZE from {dtype} is not supported (only INT8 -> INT8)"
        )
    source = _activation_input(graph, op, 0)
    output = graph.tensors[op.outputs[0]]
    in_scale, in_zp = _qparams(source)
    out_scale, out_zp = _qparams(output)
    multiplier, shift = quantization.quantize_multiplier(in_scale / out_scale)
    _check_shifts(op, [shift])
    params = {
        "count": output.size,
        "input_zero_point": in_zp,
        "multiplier": multiplier,
        "shift": shift,
        "output_zero_point": out_zp,
    }
    return Layer(
        op.index,
        op.opcode,
        "requantize",
        "tx_requantize_params",
        params,
        [],
        [source.index],
        output.index,
        0,
    )


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    return ((values + (1 << 31)) % (1 << 32)) - (1 << 31)


_LOWERINGS = {
    "CONV_2D": _conv2d,
    "DEPTHWISE_CONV_2D": _depthwise_conv2d,
    "ADD": _add,
    "MEAN": _mean,
    "FULLY_CONNECTED": _fully_connected,
    "SOFTMAX": _softmax,
    "RESHAPE": _reshape,
    "PAD": _pad,
    "QUANTIZE": _quantize,
}
