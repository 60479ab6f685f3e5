"""Quantisation-aware fine-tuning: teach the float model the int8 graph's rounding.

Why: post-training int8 conversion of the lean network changes 2-4 % of the top-1
decisions (float vs int8). The int8 graph rounds every weight per output channel and every
activation tensor to 256 levels; ReLU6 outputs always use the fixed range [0, 6] (step
6/255), so small activations lose most of their precision. A few epochs of training through
a simulation of that rounding let the weights adapt to it.

How (after `fit` and the BatchNorm choice, before conversion):
1. `fold_batchnorm`: a copy of the network with each BatchNorm folded into the convolution
   before it (as the converter folds it), so weight rounding is simulated on the weights the
   int8 graph will hold.
2. `quantisation_twin`: the same graph with weights rounded per output channel, symmetric to
   ±127 (`QuantConv2D`, `QuantDepthwiseConv2D`, `QuantDense`), and a `FakeQuant` after every
   tensor the int8 graph stores: ReLU6 outputs on [0, 6], linear projections, residual sums,
   the pooled features and the logits on ranges calibrated on the conversion's
   representative frames, recalibrated every epoch. Gradients pass straight through.
3. Fine-tune at a small learning rate, then copy the weights back into the folded float
   model, which the converter quantises as usual (with the same per-channel grids).

The shipped float model is the folded one: same function as the BatchNorm model it came
from, without BatchNorm layers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
from keras import ops

WEIGHT_LEVELS = 127  # int8 weights are symmetric: [-127, 127]
FAKE_QUANT_SUFFIX = "_fq"


def _round_ste(values):
    """round() with the identity as its gradient (straight-through estimator)."""
    return values + ops.stop_gradient(ops.round(values) - values)


def fake_quant_weights(kernel, reduce_axes: tuple[int, ...]):
    """Round a kernel to the int8 grid of each output channel (scale = max|w| / 127)."""
    scale = ops.max(ops.abs(kernel), axis=reduce_axes, keepdims=True) / WEIGHT_LEVELS
    scale = ops.maximum(scale, 1e-12)
    return _round_ste(kernel / scale) * scale


def fake_quant_activation(values, low, high):
    """Per-tensor asymmetric int8 rounding of `values` on [low, high] (0 kept exact)."""
    low = ops.minimum(low, 0.0)
    high = ops.maximum(high, low + 1e-6)
    scale = (high - low) / 255.0
    zero_point = ops.round(-128.0 - low / scale)
    quantised = ops.clip(_round_ste(values / scale) + zero_point, -128.0, 127.0)
    return (quantised - zero_point) * scale


@keras.saving.register_keras_serializable("tinyxray")
class FakeQuant(keras.layers.Layer):
    """One int8 activation tensor: fixed range (ReLU6) or calibrated by `calibrate`."""

    def __init__(self, fixed_range: tuple[float, float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixed_range = None if fixed_range is None else tuple(fixed_range)

    def build(self, input_shape) -> None:
        low, high = self.fixed_range or (0.0, 1.0)
        self.low = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(low), trainable=False, name="low"
        )
        self.high = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(high), trainable=False, name="high"
        )

    def call(self, inputs):
        return fake_quant_activation(inputs, self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fixed_range": self.fixed_range}


@keras.saving.register_keras_serializable("tinyxray")
class QuantConv2D(keras.layers.Conv2D):
    """Conv2D whose kernel is rounded per output channel, as CONV_2D int8 weights are."""

    def call(self, inputs):
        outputs = self.convolution_op(inputs, fake_quant_weights(self.kernel, (0, 1, 2)))
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable("tinyxray")
class QuantDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """DepthwiseConv2D rounded per channel (the int8 graph's per-channel axis)."""

    def call(self, inputs):
        outputs = ops.depthwise_conv(
            inputs,
            fake_quant_weights(self.kernel, (0, 1)),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable("tinyxray")
class QuantDense(keras.layers.Dense):
    """Dense rounded per output unit (FULLY_CONNECTED int8 weights are per channel)."""

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, fake_quant_weights(self.kernel, (0,)))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs


_QUANT_CLASS = {
    keras.layers.Conv2D: QuantConv2D,
    keras.layers.DepthwiseConv2D: QuantDepthwiseConv2D,
    keras.layers.Dense: QuantDense,
}


def _history_names(node: Any) -> Iterable[str]:
    """Names of the layers a serialised inbound node reads from."""
    if isinstance(node, dict):
        if "keras_history" in node.get("config", {}):
            yield node["config"]["keras_history"][0]
        for value in node.values():
            yield from _history_names(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _history_names(value)


def _graph(model: keras.Model) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(producers, consumers) of every layer, by name."""
    producers: dict[str, list[str]] = {}
    consumers: dict[str, list[str]] = {layer.name: [] for layer in model.layers}
    for entry in model.get_config()["layers"]:
        name = entry["config"]["name"]
        producers[name] = list(dict.fromkeys(_history_names(entry.get("inbound_nodes", []))))
        for producer in producers[name]:
            consumers[producer].append(name)
    return producers, consumers


def _folded_pairs(model: keras.Model) -> dict[str, str]:
    """BatchNorm name -> the convolution it follows (and alone consumes)."""
    producers, consumers = _graph(model)
    pairs = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            (source,) = producers[layer.name]
            conv = model.get_layer(source)
            if not isinstance(conv, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
                raise ValueError(f"{layer.name} follows {source}, not a convolution")
            if consumers[source] != [layer.name]:
                raise ValueError(f"{source} feeds more than its BatchNorm: cannot fold")
            pairs[layer.name] = source
    return pairs


def _clone(model: keras.Model, quantised: bool) -> keras.Model:
    """The BatchNorm-free graph of `model`, plain or with the int8 simulation."""
    pairs = _folded_pairs(model)
    folded_convs = set(pairs.values())
    _, consumers = _graph(model)

    def clone_layer(layer):
        config = layer.get_config()
        if layer.name in folded_convs:
            config["use_bias"] = True
        kind = type(layer)
        if quantised and kind in _QUANT_CLASS:
            return _QUANT_CLASS[kind].from_config(config)
        return kind.from_config(config)

    def needs_fake_quant(layer) -> tuple[bool, tuple[float, float] | None]:
        """Whether the int8 graph stores this layer's output, and its fixed range if any."""
        if isinstance(layer, keras.layers.ReLU):
            if layer.max_value is None or float(layer.negative_slope) != 0.0:
                return True, None
            return True, (0.0, float(layer.max_value))
        kinds = (
            keras.layers.Conv2D,
            keras.layers.DepthwiseConv2D,
            keras.layers.Dense,
            keras.layers.Add,
            keras.layers.GlobalAveragePooling2D,
        )
        if not isinstance(layer, kinds):
            return False, None
        # A ReLU that follows is fused into the op: only its output is stored.
        followers = [model.get_layer(name) for name in consumers[layer.name]]
        fused = bool(followers) and all(isinstance(f, keras.layers.ReLU) for f in followers)
        return not fused, None

    def call_layer(layer, *args, **kwargs):
        if isinstance(layer, keras.layers.BatchNormalization):
            return args[0]  # folded into the convolution before it
        outputs = layer(*args, **kwargs)
        if not quantised:
            return outputs
        wanted, fixed_range = needs_fake_quant(layer)
        if wanted:
            return FakeQuant(fixed_range, name=layer.name + FAKE_QUANT_SUFFIX)(outputs)
        return outputs

    return keras.models.clone_model(model, clone_function=clone_layer, call_function=call_layer)


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A BatchNorm-free copy of `model` computing the same function (inference mode)."""
    folded = _clone(model, quantised=False)
    pairs = _folded_pairs(model)
    by_conv = {conv: bn for bn, conv in pairs.items()}
    for layer in folded.layers:
        if not layer.weights:
            continue
        source = model.get_layer(layer.name)
        weights = [np.array(w) for w in source.get_weights()]
        if layer.name in by_conv:
            bn = model.get_layer(by_conv[layer.name])
            gamma, beta, mean, variance = (np.array(w) for w in bn.get_weights())
            scale = gamma / np.sqrt(variance + bn.epsilon)
            kernel = weights[0]
            if isinstance(source, keras.layers.DepthwiseConv2D):
                kernel = kernel * scale.reshape(1, 1, -1, kernel.shape[-1])
            else:
                kernel = kernel * scale
            bias = beta - mean * scale
            if source.use_bias:
                bias = bias + weights[1] * scale
            weights = [kernel, bias]
        layer.set_weights(weights)
    return folded


def quantisation_twin(folded: keras.Model) -> keras.Model:
    """`folded` with its int8 rounding simulated; shares no variables with it."""
    twin = _clone(folded, quantised=True)
    for layer in twin.layers:
        if layer.weights and not isinstance(layer, FakeQuant):
            layer.set_weights(folded.get_layer(layer.name).get_weights())
    return twin


def calibrate(
    twin: keras.Model, folded: keras.Model, frames: np.ndarray, batch_size: int = 64
) -> dict[str, list[float]]:
    """Set each calibrated FakeQuant range to the min/max of its tensor over `frames`.

    Measured on the float path (the folded model, given the twin's current weights), as the
    converter calibrates: an uncalibrated range upstream must not clip what is measured.
    """
    export_weights(twin, folded)
    layers = [
        layer for layer in twin.layers if isinstance(layer, FakeQuant) and not layer.fixed_range
    ]
    if not layers:
        return {}
    sources = [folded.get_layer(layer.name.removesuffix(FAKE_QUANT_SUFFIX)) for layer in layers]
    probe = keras.Model(folded.input, [source.output for source in sources])
    lows = np.full(len(layers), np.inf)
    highs = np.full(len(layers), -np.inf)
    for start in range(0, len(frames), batch_size):
        outputs = probe(frames[start : start + batch_size].astype(np.float32), training=False)
        for position, values in enumerate(outputs):
            values = np.asarray(values)
            lows[position] = min(lows[position], float(values.min()))
            highs[position] = max(highs[position], float(values.max()))
    ranges = {
        layer.name: [float(low), float(high)]
        for layer, low, high in zip(layers, lows, highs, strict=True)
    }
    # The converter gives a convolution whose only consumer is an ADD the ADD's output
    # range (measured on its flatbuffers: each residual branch's projection shares it).
    _, consumers = _graph(folded)
    for layer in layers:
        source = layer.name.removesuffix(FAKE_QUANT_SUFFIX)
        followers = consumers[source]
        if len(followers) == 1 and isinstance(folded.get_layer(followers[0]), keras.layers.Add):
            ranges[layer.name] = ranges[followers[0] + FAKE_QUANT_SUFFIX]
    for layer in layers:
        layer.low.assign(ranges[layer.name][0])
        layer.high.assign(ranges[layer.name][1])
    return ranges


class Recalibrate(keras.callbacks.Callback):
    """Recalibrate the activation ranges at the start of every epoch (weights move)."""

    def __init__(self, folded: keras.Model, frames: np.ndarray) -> None:
        super().__init__()
        self.folded = folded
        self.frames = frames

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        calibrate(self.model, self.folded, self.frames)


def export_weights(twin: keras.Model, folded: keras.Model) -> None:
    """Copy the fine-tuned weights back into the plain folded model."""
    for layer in folded.layers:
        if layer.weights:
            layer.set_weights(twin.get_layer(layer.name).get_weights())
