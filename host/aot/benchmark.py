"""Benchmark a compiled model on the emulated Cortex-M4 and write its AOT report.

    python -m tinyxray.aot.benchmark models/default/model_int8.tflite --out models/default
    python -m tinyxray.aot.benchmark --preset recommended --out models/alpha035_random

Steps: compile the model (or, with --preset, build that architecture with random weights
and convert it); build a private copy of the firmware tree (the repository is not touched)
with the generated model and golden frames for it; run the qemu_m4 `test_kernels` firmware
test in its model-only mode (QEMU -icount shift=3: SysTick via the board's CostNow counts
instructions) twice, with the Cortex-M4 DSP kernels (the default build) and with the
portable kernels (-DTX_KERNELS_PORTABLE=1), checking the outputs against tflite-micro and
profiling every layer; build the real qemu_m4 firmware for its flash/RAM; write
aot_report.{json,md}. This is a measurement, not a timed test. Instructions are not
cycles: see docs/aot.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray.aot import compiler, report

REPO = Path(__file__).resolve().parents[2]

# TensorFlow Lite Micro on the same emulator, measured outside this repository (TFLM and
# CMSIS-NN are in no registry; see README and docs/aot.md): the default model (issue 11,
# backend_tflm against upstream TFLM) and the standard alpha-0.35 96x96 model (issue 4).
TFLM_REFERENCE = {
    "default": {
        "reference_kernels_instructions": 680.0e6,
        "reference_kernels_per_mac": 76.9,
        "cmsis_nn_instructions": 39.84e6,
        "cmsis_nn_per_mac": 4.51,
        "arena_bytes": 139780,
    },
    "standard": {
        "reference_kernels_instructions": 779.3e6,
        "reference_kernels_per_mac": 77.7,
        "cmsis_nn_instructions": 45.2e6,
        "cmsis_nn_per_mac": 4.50,
        "arena_bytes": 205076,
    },
}
PORTABLE_FLAGS = "-DTX_KERNELS_PORTABLE=1"
# The private copy's env for test_kernels with any compiled model: qemu_m4 without the
# inference backend, whose build checks model_aot.h against the default model's metadata
# (the kernels, the model and the board support are all the test links).
MODEL_TEST_ENV = """
[env:qemu_m4_model]
extends = env:qemu_m4
lib_deps =
lib_ignore = backend_aot, backend_tflm
"""


@dataclasses.dataclass
class QemuRun:
    """One build of a model into qemu_m4's test_kernels, run under -icount shift=3."""

    kernels: str  # "dsp" or "portable", as the firmware reports it
    instructions: int  # per inference, mean over the golden frames
    identical: int  # golden frames byte-identical with tflite-micro
    frames: int
    layers: dict[int, int]  # layer position -> instructions on the first frame
    build_flags: str


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


def private_project(work: Path) -> Path:
    """A copy of the firmware tree (platforms linked) to build other models in."""
    project = work / "project"
    project.mkdir()
    shutil.copy2(REPO / "platformio.ini", project / "platformio.ini")
    with (project / "platformio.ini").open("a") as ini:
        ini.write(MODEL_TEST_ENV)
    shutil.copytree(
        REPO / "firmware",
        project / "firmware",
        ignore=shutil.ignore_patterns(".pio", "platforms", "__pycache__"),
    )
    (project / "firmware" / "platforms").symlink_to(REPO / "firmware" / "platforms")
    if (REPO / ".pio-core").is_dir():
        shutil.copytree(REPO / ".pio-core", project / ".pio-core", symlinks=True)
    return project


def golden_frames_module():
    """firmware/test/test_kernels/make_golden_frames.py (not a package)."""
    path = REPO / "firmware" / "test" / "test_kernels" / "make_golden_frames.py"
    spec = importlib.util.spec_from_file_location("make_golden_frames", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def install_model(
    project: Path, compiled: compiler.CompiledModel, write_golden: Callable[[Path], str]
) -> str:
    """The compiled model and its golden frames into the private project."""
    compiler.write_model(compiled, project / "firmware" / "lib" / "model")
    return write_golden(project / "firmware" / "test" / "test_kernels" / "golden_frames.h")


def run_on_qemu(project: Path, build_flags: str = "") -> QemuRun:
    """pio test -e qemu_m4 -f test_kernels, model only, with the layer profile."""
    flags = f"-DMODEL_AOT_DEBUG -DTX_TEST_MODEL_ONLY {build_flags}".strip()
    test = _pio(
        project, "test", "-e", "qemu_m4_model", "-f", "test_kernels", "-v", build_flags=flags
    )
    bench = re.search(r"aot_bench: .*kernels=(\w+) cost_per_inference=(\d+)", test.stdout)
    identical = re.search(r"aot_golden: (\d+)/(\d+)", test.stdout)
    if bench is None or identical is None:
        raise RuntimeError(
            f"qemu_m4 test_kernels failed:\n{test.stdout[-3000:]}\n{test.stderr[-3000:]}"
        )
    layers = {int(a): int(b) for a, b in re.findall(r"aot_layer: (\d+) (\d+)", test.stdout)}
    return QemuRun(
        kernels=bench.group(1),
        instructions=int(bench.group(2)),
        identical=int(identical.group(1)),
        frames=int(identical.group(2)),
        layers=layers,
        build_flags=build_flags,
    )


def _elf_sizes(elf: Path) -> dict[str, int] | None:
    size = shutil.which("arm-none-eabi-size")
    if size is None or not elf.is_file():
        return None
    fields = subprocess.run([size, str(elf)], capture_output=True, text=True, check=True)
    text, data, bss = (int(v) for v in fields.stdout.splitlines()[1].split()[:3])
    return {"flash_bytes": text + data, "ram_bytes": data + bss}


def _qemu_summary(run: QemuRun, macs: int) -> dict[str, Any]:
    return {
        "kernels": run.kernels,
        "instructions_per_inference": run.instructions,
        "instructions_per_mac": run.instructions / macs,
        "golden_frames_identical": run.identical,
        "golden_frames": run.frames,
        "command": "pio test -e qemu_m4 -f test_kernels (QEMU -icount shift=3)",
        "extra_build_flags": run.build_flags,
    }


def run_benchmark(
    model: Path, frames: int = 0, build_flags: str = "", reference: str = "default"
) -> dict[str, Any]:
    compiled = compiler.compile_model(model)
    summary = compiled.report()
    with tempfile.TemporaryDirectory(prefix="tinyxray-aot-bench-") as tmp:
        project = private_project(Path(tmp))
        model_dir = project / "firmware" / "lib" / "model"
        golden = golden_frames_module()
        summary["golden_frames_source"] = install_model(
            project, compiled, lambda path: golden.write_golden_frames(model, path, frames)
        )
        summary["arm_flash"] = report.measure_arm_flash(model_dir)
        dsp = run_on_qemu(project, build_flags)
        portable = run_on_qemu(project, f"{PORTABLE_FLAGS} {build_flags}".strip())
        for layer in summary["layers"]:
            layer["instructions"] = dsp.layers.get(layer["position"])
            layer["instructions_portable"] = portable.layers.get(layer["position"])
        summary["qemu_m4"] = _qemu_summary(dsp, compiled.macs)
        summary["qemu_m4_portable"] = _qemu_summary(portable, compiled.macs)
        build = _pio(project, "run", "-e", "qemu_m4", build_flags=build_flags)
        if build.returncode == 0:
            summary["qemu_m4_firmware"] = _elf_sizes(
                project / ".pio" / "build" / "qemu_m4" / "firmware.elf"
            )
    summary["tflm_reference"] = TFLM_REFERENCE[reference]
    summary["tflm_reference_model"] = reference
    return summary


def random_weights_model(preset_name: str, seed: int = 0) -> bytes:
    """The preset's architecture with random weights, converted to int8 (for cost only).

    BatchNorm statistics and the head are randomised too, so activations keep a spread
    (an untrained network otherwise ends in constant logits, which TFLM's softmax
    refuses); calibration uses smooth random frames.
    """
    import keras

    from tinyxray import convert
    from tinyxray import model as models

    keras.utils.set_random_seed(seed)
    network = models.build_model(models.get_preset(preset_name))
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype("float32"),
                    rng.normal(0.0, 0.5, n).astype("float32"),
                    rng.normal(0.0, 0.5, n).astype("float32"),
                    rng.uniform(0.5, 2.0, n).astype("float32"),
                ]
            )
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0.0, 1.0, kernel.shape).astype("float32"), bias])
    frames = np.stack(
        [np.kron(rng.integers(0, 256, (12, 12)), np.ones((8, 8))) for _ in range(32)]
    ).astype(np.uint8)[..., None]
    return convert.convert_int8(network, frames)


def _per_mac(cost: int | None, macs: int) -> str:
    return f"{cost / macs:.2f}" if cost and macs else ""


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def to_markdown(summary: dict[str, Any]) -> str:
    dsp = summary["qemu_m4"]
    portable = summary.get("qemu_m4_portable") or {}
    flash = summary.get("arm_flash") or {}
    firmware = summary.get("qemu_m4_firmware") or {}
    ref = summary["tflm_reference"]
    macs = summary["macs"]
    source = f"\nModel: {summary['model_source']}.\n" if summary.get("model_source") else ""
    lines = [
        f"# AOT engine benchmark: {summary['model']}",
        source,
        "Written by `python -m tinyxray.aot.benchmark` (see docs/aot.md). Emulated Cortex-M4",
        "(qemu-system-arm -M mps2-an386 -icount shift=3; SysTick counts instructions), built by",
        "PlatformIO's qemu_m4 env (arm-none-eabi-gcc -O2). DSP: the Armv7E-M kernels, the default",
        "on every Cortex-M4 build; portable: the same build with -DTX_KERNELS_PORTABLE=1.",
        "Instructions are not cycles: on silicon loads, taken branches and flash wait states",
        "cost more (docs/aot.md says how to measure microseconds on the Nano 33 BLE).",
        "",
        f"| figure | AOT, DSP kernels | AOT, portable | TFLM ({summary['tflm_reference_model']}"
        " model, measured outside this repo) |",
        "|---|---:|---:|---:|",
        f"| instructions / inference | {dsp['instructions_per_inference']:,} |"
        f" {_count(portable.get('instructions_per_inference'))} |"
        f" reference kernels {ref['reference_kernels_instructions'] / 1e6:.1f} M,"
        f" CMSIS-NN {ref['cmsis_nn_instructions'] / 1e6:.2f} M |",
        f"| instructions / MAC | {dsp['instructions_per_mac']:.2f} |"
        f" {portable.get('instructions_per_mac', 0):.2f} |"
        f" {ref['reference_kernels_per_mac']}, CMSIS-NN {ref['cmsis_nn_per_mac']} |",
        f"| MACs | {macs:,} | {macs:,} | |",
        f"| arena (all activation RAM) | {summary['arena_bytes']:,} B |"
        f" {summary['arena_bytes']:,} B | {ref['arena_bytes']:,} B |",
        f"| model + kernels flash (code + const, both kernel sets) |"
        f" {_count(flash.get('total_bytes'))} B | | |",
    ]
    if firmware:
        lines.append(f"| whole qemu_m4 firmware (text+data) | {firmware['flash_bytes']:,} B | | |")
    lines += [
        "",
        f"- outputs byte-identical with tflite-micro on qemu_m4: DSP"
        f" {dsp['golden_frames_identical']}/{dsp['golden_frames']}, portable"
        f" {portable.get('golden_frames_identical', 'n/a')}/{portable.get('golden_frames', 'n/a')}"
        f" golden frames ({summary.get('golden_frames_source', '')})",
        f"- arena peak: {summary['peak_live_bytes']:,} B live at layer"
        f" {summary['peak_layer']['position']} ({summary['peak_layer']['op']});"
        " no other persistent RAM (constants are const, in flash); the DSP kernels use up to"
        " 4.7 KB of stack (docs/aot.md)",
        f"- constants: {summary['const_bytes']:,} B; kernel + invoke code:"
        f" {_count(flash.get('code_bytes'))} B",
        "",
        "## Layers",
        "",
        "Instructions per layer on the first frame (a -DMODEL_AOT_DEBUG build runs the layers",
        "one by one; the sum is the inference minus the input/output copies). Kernel: the",
        "table entry the compiler chose; requant: `fast` where it proved the single-multiply",
        "form for every channel, else `exact` (host/aot/requant.py).",
        "",
        "| # | op | output | MACs | kernel | requant | portable | per MAC | DSP | per MAC |",
        "|---|----|--------|-----:|--------|---------|---------:|--------:|----:|--------:|",
    ]
    for layer in summary["layers"]:
        mark = " (in place)" if layer["in_place"] else ""
        lines.append(
            f"| {layer['position']} | {layer['op']}{mark} | {layer['output']} |"
            f" {layer['macs']:,} | {layer.get('kernel', '')} | {layer.get('requant', '')} |"
            f" {_count(layer.get('instructions_portable'))} |"
            f" {_per_mac(layer.get('instructions_portable'), layer['macs'])} |"
            f" {_count(layer.get('instructions'))} |"
            f" {_per_mac(layer.get('instructions'), layer['macs'])} |"
        )
    lines += [
        "",
        "## By op type",
        "",
        "| op | MACs | portable | per MAC | DSP | per MAC |",
        "|----|-----:|---------:|--------:|----:|--------:|",
    ]
    for op, totals in op_totals(summary).items():
        lines.append(
            f"| {op} | {totals['macs']:,} | {totals['portable']:,} |"
            f" {_per_mac(totals['portable'], totals['macs'])} | {totals['dsp']:,} |"
            f" {_per_mac(totals['dsp'], totals['macs'])} |"
        )
    return "\n".join(lines) + "\n"


def op_totals(summary: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Instructions (DSP and portable) and MACs per op type, largest DSP cost first."""
    totals: dict[str, dict[str, int]] = {}
    for layer in summary["layers"]:
        entry = totals.setdefault(layer["op"], {"macs": 0, "dsp": 0, "portable": 0})
        entry["macs"] += layer["macs"]
        entry["dsp"] += layer.get("instructions") or 0
        entry["portable"] += layer.get("instructions_portable") or 0
    return dict(sorted(totals.items(), key=lambda item: -item[1]["dsp"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyxray.aot.benchmark", description=__doc__)
    parser.add_argument("model", type=Path, nargs="?", help="int8 .tflite (or use --preset)")
    parser.add_argument("--out", type=Path, required=True, help="directory for aot_report.*")
    parser.add_argument(
        "--preset",
        default=None,
        help="instead of a model: this training preset's architecture with random weights",
    )
    parser.add_argument("--seed", type=int, default=0, help="random weights' seed (--preset)")
    parser.add_argument(
        "--frames", type=int, default=0, help="golden frames to run (0: the whole test split)"
    )
    parser.add_argument("--build-flags", default="", help="extra firmware build flags")
    args = parser.parse_args(argv)
    if (args.model is None) == (args.preset is None):
        parser.error("give a model or --preset, not both")
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model
    if args.preset is not None:
        model = args.out / f"{args.preset}_random_seed{args.seed}.tflite"
        model.write_bytes(random_weights_model(args.preset, args.seed))
    elif not model.is_file():
        print(f"error: no model at {model}", file=sys.stderr)
        return 2
    reference = "default" if args.preset is None else "standard"
    summary = run_benchmark(model, args.frames, args.build_flags, reference)
    if args.preset is not None:
        summary["model_source"] = (
            f"`--preset {args.preset}` architecture with random weights (seed {args.seed});"
            " costs only, the outputs mean nothing"
        )
        model.unlink()
    (args.out / "aot_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "aot_report.md").write_text(to_markdown(summary))
    dsp, portable = summary["qemu_m4"], summary["qemu_m4_portable"]
    print(
        f"DSP {dsp['instructions_per_inference']:,} instructions/inference"
        f" ({dsp['instructions_per_mac']:.2f}/MAC), portable"
        f" {portable['instructions_per_inference']:,} ({portable['instructions_per_mac']:.2f}/MAC),"
        f" arena {summary['arena_bytes']:,} B,"
        f" model+kernels flash {(summary.get('arm_flash') or {}).get('total_bytes')} B"
    )
    print(f"wrote {args.out / 'aot_report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
