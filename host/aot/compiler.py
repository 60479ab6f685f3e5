"""compile_model(.tflite) -> CompiledModel (layers, memory plan, C sources, report)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tinyxray.aot import codegen, report
from tinyxray.aot.graph import Graph, UnsupportedModelError, read_tflite
from tinyxray.aot.lowering import Layer, lower_graph
from tinyxray.aot.memory_plan import MemoryPlan, plan_memory

__all__ = ["CompiledModel", "UnsupportedModelError", "compile_model", "read_tflite", "write_model"]


@dataclasses.dataclass
class CompiledModel:
    graph: Graph
    layers: list[Layer]
    plan: MemoryPlan
    header: str
    source: str

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    @property
    def const_bytes(self) -> int:
        return sum(layer.const_bytes for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def report(self) -> dict:
        return report.build_report(self)


def compile_model(source: str | Path | bytes) -> CompiledModel:
    """Read, validate, lower, plan and generate; raises UnsupportedModelError on bad input."""
    graph = read_tflite(source)
    layers = lower_graph(graph)
    plan = plan_memory(graph, layers)
    return CompiledModel(
        graph=graph,
        layers=layers,
        plan=plan,
        header=codegen.emit_header(graph, layers, plan),
        source=codegen.emit_source(graph, layers, plan),
    )


def write_model(compiled: CompiledModel, out_dir: str | Path) -> list[Path]:
    """Write model_aot.h and model_aot.c into out_dir; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = out / "model_aot.h"
    source = out / "model_aot.c"
    header.write_text(compiled.header)
    source.write_text(compiled.source)
    return [header, source]
