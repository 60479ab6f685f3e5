"""Benchmark a compiled model on the emulated Cortex-M4 and write its AOT report.

    python -m tinyxray.aot.benchmark models/default/model_int8.tflite --out models/default

Steps: compile the model; build a private copy of the firmware tree (the repository is not
touched) with the generated model and golden frames for it; run the qemu_m4 `test_kernels`
firmware test (QEMU -icount shift=3: SysTick via the board's CostNow counts instructions),
which checks the outputs against tflite-micro and prints the instructions per inference;
build the real qemu_m4 firmware for its flash/RAM; write aot_report.{json,md}.
This is a measurement, not a timed test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tinyxray.aot import compiler, report

REPO = Path(__file__).resolve().parents[2]

# Reference points quoted in issue 4 for the standard alpha-0.35 96x96 model with TFLM built
# for a Cortex-M4F (not measured here).
TFLM_REFERENCE = {
    "reference_kernels_instructions": 779.3e6,
    "reference_kernels_per_mac": 77.7,
    "cmsis_nn_instructions": 45.2e6,
    "cmsis_nn_per_mac": 4.50,
    "macs": 10.03e6,
    "arena_bytes": 205076,
    "flash_bytes": 799e3,
}


def _pio(project: Path, *args: str, build_flags: str = "") -> subprocess.CompletedProcess[str]:
    from tinyxray import virtual_board

    environment = virtual_board.pio_environment(project)
    if build_flags:
        environment["PLATFORMIO_BUILD_FLAGS"] = build_flags
    return subprocess.run(
        [sys.executable, "-m", "platformio", *args],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def _private_project(work: Path) -> Path:
    project = work / "project"
    project.mkdir()
    shutil.copy2(REPO / "platformio.ini", project / "platformio.ini")
    shutil.copytree(
        REPO / "firmware",
        project / "firmware",
        ignore=shutil.ignore_patterns(".pio", "platforms", "__pycache__"),
    )
    (project / "firmware" / "platforms").symlink_to(REPO / "firmware" / "platforms")
    if (REPO / ".pio-core").is_dir():
        shutil.copytree(REPO / ".pio-core", project / ".pio-core", symlinks=True)
    return project


def _golden_writer():
    path = REPO / "firmware" / "test" / "test_kernels" / "make_golden_frames.py"
    spec = importlib.util.spec_from_file_location("make_golden_frames", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.write_golden_frames


def _elf_sizes(elf: Path) -> dict[str, int] | None:
    size = shutil.which("arm-none-eabi-size")
    if size is None or not elf.is_file():
        return None
    fields = subprocess.run([size, str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in fields.stdout.splitlines()[1].split()[:3])
    return {"flash_bytes": text + data, "ram_bytes": data + bss}


def run_benchmark(model: Path, frames: int = 0, build_flags: str = "") -> dict[str, Any]:
    compiled = compiler.compile_model(model)
    summary = compiled.report()
    with tempfile.TemporaryDirectory(prefix="tinyxray-aot-bench-") as tmp:
        project = _private_project(Path(tmp))
        model_dir = project / "firmware" / "lib" / "model"
        compiler.write_model(compiled, model_dir)
        summary["arm_flash"] = report.measure_arm_flash(model_dir)
        golden = project / "firmware" / "test" / "test_kernels" / "golden_frames.h"
        summary["golden_frames_source"] = _golden_writer()(model, golden, frames)
        # MODEL_AOT_DEBUG adds the per-layer runner for the layer profile; -v shows its lines.
        profile_flags = f"{build_flags} -DMODEL_AOT_DEBUG".strip()
        test = _pio(
            project, "test", "-e", "qemu_m4", "-f", "test_kernels", "-v", build_flags=profile_flags
        )
        bench = re.search(r"aot_bench: .*cost_per_inference=(\d+)", test.stdout)
        identical = re.search(r"aot_golden: (\d+)/(\d+)", test.stdout)
        if test.returncode != 0 or bench is None or identical is None:
            raise RuntimeError(f"qemu_m4 test_kernels failed:\n{test.stdout[-3000:]}")
        instructions = int(bench.group(1))
        for position, cost in re.findall(r"aot_layer: (\d+) (\d+)", test.stdout):
            summary["layers"][int(position)]["instructions"] = int(cost)
        summary["qemu_m4"] = {
            "instructions_per_inference": instructions,
            "instructions_per_mac": instructions / compiled.macs,
            "golden_frames_identical": int(identical.group(1)),
            "golden_frames": int(identical.group(2)),
            "command": "pio test -e qemu_m4 -f test_kernels (QEMU -icount shift=3)",
            "extra_build_flags": build_flags,
        }
        build = _pio(project, "run", "-e", "qemu_m4", build_flags=build_flags)
        if build.returncode == 0:
            summary["qemu_m4_firmware"] = _elf_sizes(
                project / ".pio" / "build" / "qemu_m4" / "firmware.elf"
            )
    summary["tflm_reference"] = TFLM_REFERENCE
    return summary


def to_markdown(summary: dict[str, Any]) -> str:
    qemu = summary["qemu_m4"]
    flash = summary.get("arm_flash") or {}
    firmware = summary.get("qemu_m4_firmware") or {}
    ref = summary["tflm_reference"]
    lines = [
        f"# AOT engine benchmark: {summary['model']}",
        "",
        "Written by `python -m tinyxray.aot.benchmark <model> --out <dir>`.",
        "Emulated Cortex-M4 (qemu-system-arm -M mps2-an386 -icount shift=3; SysTick counts",
        "instructions), kernels built with arm-none-eabi-gcc -O2"
        + (
            f" and {summary['qemu_m4']['extra_build_flags']}."
            if summary["qemu_m4"].get("extra_build_flags")
            else " (portable C)."
        ),
        "",
        "| figure | AOT (this model) | TFLM reference points (standard a0.35 model) |",
        "|---|---:|---:|",
        f"| instructions / inference | {qemu['instructions_per_inference']:,} |"
        f" ref kernels {ref['reference_kernels_instructions'] / 1e6:.1f} M,"
        f" CMSIS-NN {ref['cmsis_nn_instructions'] / 1e6:.1f} M |",
        f"| instructions / MAC | {qemu['instructions_per_mac']:.2f} |"
        f" ref {ref['reference_kernels_per_mac']}, CMSIS-NN {ref['cmsis_nn_per_mac']} |",
        f"| MACs | {summary['macs']:,} | {ref['macs'] / 1e6:.2f} M |",
        f"| arena (all activation RAM) | {summary['arena_bytes']:,} B | {ref['arena_bytes']:,} B |",
        f"| model + kernels flash (code + const) | {flash.get('total_bytes', 'n/a'):,} B |"
        f" ~{ref['flash_bytes'] / 1e3:.0f} KB (whole firmware) |",
    ]
    if firmware:
        lines.append(f"| whole qemu_m4 firmware (text+data) | {firmware['flash_bytes']:,} B | |")
    lines += [
        "",
        f"- outputs byte-identical with tflite-micro on qemu_m4:"
        f" {qemu['golden_frames_identical']}/{qemu['golden_frames']} golden frames"
        f" ({summary.get('golden_frames_source', '')})",
        f"- arena peak: {summary['peak_live_bytes']:,} B live at layer"
        f" {summary['peak_layer']['position']} ({summary['peak_layer']['op']});"
        " no other persistent RAM (constants, multipliers and shifts are const, in flash)",
        f"- constants: {summary['const_bytes']:,} B; kernel + invoke code:"
        f" {flash.get('code_bytes', 'n/a'):,} B",
        "",
        "## Layers",
        "",
    ]
    lines += [
        "Instructions per layer on the first frame (a -DMODEL_AOT_DEBUG build runs the layers",
        "one by one; the sum is the inference minus the input/output copies).",
        "",
        "| # | op | output | MACs | instructions | per MAC | offset | live B |",
        "|---|----|--------|-----:|-------------:|--------:|-------:|-------:|",
    ]
    for layer in summary["layers"]:
        cost = layer.get("instructions")
        per_mac = f"{cost / layer['macs']:.2f}" if cost and layer["macs"] else ""
        mark = " (in place)" if layer["in_place"] else ""
        lines.append(
            f"| {layer['position']} | {layer['op']}{mark} | {layer['output']} |"
            f" {layer['macs']:,} | {'n/a' if cost is None else f'{cost:,}'} | {per_mac} |"
            f" {layer['output_offset']} | {layer['live_bytes']:,} |"
        )
    by_op: dict[str, list[int]] = {}
    for layer in summary["layers"]:
        totals = by_op.setdefault(layer["op"], [0, 0])
        totals[0] += layer.get("instructions") or 0
        totals[1] += layer["macs"]
    lines += ["", "| op | instructions | MACs |", "|----|-------------:|-----:|"]
    for op, (cost, macs) in sorted(by_op.items(), key=lambda item: -item[1][0]):
        lines.append(f"| {op} | {cost:,} | {macs:,} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyxray.aot.benchmark", description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="directory for aot_report.*")
    parser.add_argument(
        "--frames", type=int, default=0, help="golden frames to run (0: the whole test split)"
    )
    parser.add_argument(
        "--build-flags",
        default="",
        help="extra firmware build flags, e.g. -DTX_KERNELS_DSP=1 for the DSP kernel variants",
    )
    args = parser.parse_args(argv)
    summary = run_benchmark(args.model, args.frames, args.build_flags)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "aot_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "aot_report.md").write_text(to_markdown(summary))
    qemu = summary["qemu_m4"]
    print(
        f"{qemu['instructions_per_inference']:,} instructions/inference,"
        f" {qemu['instructions_per_mac']:.2f}/MAC, arena {summary['arena_bytes']:,} B,"
        f" model+kernels flash {(summary.get('arm_flash') or {}).get('total_bytes')} B"
    )
    print(f"wrote {args.out / 'aot_report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
