"""Static memory plan: every activation tensor gets an offset in one arena.

Tensors that share storage form one buffer: a RESHAPE output aliases its input, and an
ADD writes over its first input when that input dies at the ADD (element-wise, each
element is read before it is written). A buffer lives from the layer that writes it to
the last layer that reads it (the model input from the start, the output to the end).
Buffers are placed largest first at the lowest aligned offset that does not overlap
any already-placed buffer whose lifetime intersects (the greedy-by-size scheme TFLM's
planner also uses).
"""

from __future__ import annotations

import dataclasses

from tinyxray.aot.graph import Graph
from tinyxray.aot.lowering import Layer

ALIGNMENT = 16


@dataclasses.dataclass
class Buffer:
    tensors: list[int]
    size: int
    first: int  # first layer position it is live at (-1: before the first layer)
    last: int  # last layer position it is live at
    offset: int = 0


@dataclasses.dataclass
class MemoryPlan:
    arena_bytes: int
    offsets: dict[int, int]  # tensor index -> arena offset
    buffers: list[Buffer]
    live_bytes: list[int]  # bytes live at each layer position
    peak_layer: int  # position with the most live bytes
    in_place: list[int]  # layer positions computed in place

    def offset(self, tensor: int) -> int:
        return self.offsets[tensor]


def plan_memory(graph: Graph, layers: list[Layer]) -> MemoryPlan:
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    end = len(layers)

    def new_buffer(tensor: int, position: int) -> Buffer:
        buffer = Buffer([tensor], graph.tensors[tensor].nbytes, position, position)
        buffers.append(buffer)
        buffer_of[tensor] = buffer
        return buffer

    last_use: dict[int, int] = {}
    for position, layer in enumerate(layers):
        for tensor in layer.inputs:
            last_use[tensor] = position
    for tensor in graph.outputs:
        last_use[tensor] = end

    for tensor in graph.inputs:
        new_buffer(tensor, -1)
    in_place = []
    for position, layer in enumerate(layers):
        for tensor in layer.inputs:
            if tensor not in buffer_of:
                raise ValueError(f"tensor {tensor} is read before it is written")
        reuse = None
        if layer.kernel == "alias":
            reuse = buffer_of[layer.inputs[0]]
        elif layer.in_place_input is not None:
            candidate = buffer_of[layer.in_place_input]
            # Reuse only when every tensor of that buffer dies here and it is no model input.
            if all(last_use.get(t, -1) <= position for t in candidate.tensors) and not any(
                t in graph.inputs for t in candidate.tensors
            ):
                reuse = candidate
                in_place.append(position)
        if reuse is not None:
            reuse.tensors.append(layer.output)
            reuse.size = max(reuse.size, graph.tensors[layer.output].nbytes)
            buffer_of[layer.output] = reuse
        else:
            new_buffer(layer.output, position)
    for buffer in buffers:
        buffer.last = max([buffer.first] + [last_use.get(t, buffer.first) for t in buffer.tensors])

    placed: list[Buffer] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first)):
        offset = 0
        for other in sorted(placed, key=lambda b: b.offset):
            if other.last < buffer.first or buffer.last < other.first:
                continue
            if offset + buffer.size <= other.offset:
                continue
            offset = max(offset, _align(other.offset + other.size))
        # A second pass is not needed: `placed` is scanned in offset order, so every gap
        # before `offset` was too small or conflicting.
        buffer.offset = offset
        placed.append(buffer)
    arena = _align(max((b.offset + b.size for b in buffers), default=0))
    live = [
        sum(b.size for b in buffers if b.first <= position <= b.last)
        for position in range(len(layers))
    ]
    peak = max(range(len(layers)), key=lambda p: live[p]) if layers else 0
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    return MemoryPlan(arena, offsets, buffers, live, peak, in_place)


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
