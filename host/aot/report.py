"""Per-model report: arena (and where the peak is), flash for constants and code, MACs."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyxray.aot.compiler import CompiledModel

KERNELS_DIR = Path(__file__).resolve().parents[2] / "firmware" / "lib" / "kernels"
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2"]


def build_report(compiled: CompiledModel) -> dict[str, Any]:
    graph, plan = compiled.graph, compiled.plan
    layers = []
    for position, layer in enumerate(compiled.layers):
        out = graph.tensors[layer.output]
        layers.append(
            {
                "position": position,
                "op_index": layer.op_index,
                "op": layer.opcode,
                "kernel": layer.kernel,
                "requant": _requant_form(layer),
                "inputs": [list(graph.tensors[t].shape) for t in layer.inputs],
                "output": list(out.shape),
                "macs": layer.macs,
                "const_bytes": layer.const_bytes,
                "output_offset": plan.offset(layer.output),
                "live_bytes": plan.live_bytes[position],
                "in_place": position in plan.in_place,
            }
        )
    peak = compiled.layers[plan.peak_layer] if compiled.layers else None
    return {
        "model": graph.name,
        "sha256": graph.sha256,
        "arena_bytes": plan.arena_bytes,
        "peak_live_bytes": max(plan.live_bytes, default=0),
        "peak_layer": {
            "position": plan.peak_layer,
            "op_index": peak.op_index if peak else None,
            "op": peak.opcode if peak else None,
        },
        "const_bytes": compiled.const_bytes,
        "macs": compiled.macs,
        "layers": layers,
    }


def _requant_form(layer) -> str:
    """ "fast" where the compiler proved the single-multiply requantisation, else "exact"."""
    proven = layer.params.get("fast_requant", layer.params.get("fast"))
    if proven is None:
        return ""
    return "fast" if proven else "exact"


def measure_arm_flash(out_dir: Path) -> dict[str, int] | None:
    """Compile the generated model + kernels for Cortex-M4 and sum section sizes.

    Returns {"code_bytes", "const_bytes", "total_bytes"} or None without the toolchain.
    """
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if gcc is None or size is None:
        return None
    sources = [
        *sorted(KERNELS_DIR.glob("*.c")),
        *sorted(KERNELS_DIR.glob("*.S")),
        Path(out_dir) / "model_aot.c",
    ]
    code = const = 0
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            obj = Path(tmp) / (source.name + ".o")
            subprocess.run(
                [
                    gcc,
                    *ARM_FLAGS,
                    "-ffunction-sections",
                    "-fdata-sections",
                    f"-I{KERNELS_DIR}",
                    f"-I{out_dir}",
                    "-c",
                    str(source),
                    "-o",
                    str(obj),
                ],
                check=True,
            )
            sections = subprocess.run(
                [size, "-A", str(obj)], check=True, capture_output=True, text=True
            ).stdout
            for line in sections.splitlines():
                fields = line.split()
                if len(fields) < 2 or not fields[1].isdigit():
                    continue
                if fields[0].startswith(".text"):
                    code += int(fields[1])
                elif fields[0].startswith(".rodata"):
                    const += int(fields[1])
    return {"code_bytes": code, "const_bytes": const, "total_bytes": code + const}


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# AOT report: {report['model']}",
        "",
        f"- sha256: `{report['sha256']}`",
        f"- arena: **{report['arena_bytes']:,} B** (peak live {report['peak_live_bytes']:,} B at"
        f" layer {report['peak_layer']['position']}, op {report['peak_layer']['op_index']}"
        f" {report['peak_layer']['op']})",
        f"- constants (weights, biases, multipliers, shifts): {report['const_bytes']:,} B",
        f"- MACs per inference: {report['macs']:,}",
    ]
    flash = report.get("arm_flash")
    if flash:
        lines.append(
            f"- Cortex-M4 flash (arm-none-eabi-gcc -O2): code {flash['code_bytes']:,} B +"
            f" rodata {flash['const_bytes']:,} B = **{flash['total_bytes']:,} B**"
        )
    lines += [
        "",
        "| # | op | output | MACs | kernel | requant | const B | offset | live B |",
        "|---|----|--------|-----:|--------|---------|--------:|-------:|-------:|",
    ]
    for layer in report["layers"]:
        mark = " (in place)" if layer["in_place"] else ""
        lines.append(
            f"| {layer['position']} | {layer['op']}{mark} | {layer['output']} |"
            f" {layer['macs']:,} | {layer['kernel']} | {layer['requant']} |"
            f" {layer['const_bytes']:,} | {layer['output_offset']} | {layer['live_bytes']:,} |"
        )
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path, stem: str = "aot_report") -> list[Path]:
    json_path = out_dir / f"{stem}.json"
    md_path = out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(to_markdown(report))
    return [json_path, md_path]
