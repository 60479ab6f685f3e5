"""Check a compiled model byte for byte against the tflite-micro interpreter on real frames.

    python -m tinyxray.aot.verify models/default/model_int8.tflite \
        --data ../shared/datasets/covid19-image-dataset [--split-file split.csv] \
        [--samples models/samples]

Frames: the test split of the datasets (the records a split.csv marks "test", or without one
the datasets' original test folders) and/or the sample PNGs, preprocessed by
tinyxray.preprocess exactly as the firmware's input is. Prints "N/N frames byte-identical".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyxray.aot import compiler, host_build


@dataclasses.dataclass
class Verification:
    frames: int
    identical: int
    mismatches: list[tuple[str, list[int], list[int]]]  # (name, aot, tflm)


def test_split_frames(
    roots: list[Path], split_file: Path | None = None, every_frame: bool = False
) -> tuple[list[str], list[np.ndarray]]:
    """Preprocessed uint8 frames (steps 1-4) of the test split (or all) and their names."""
    from tinyxray import data, frame_cache

    records = []
    for root in roots:
        records += data.scan_dataset(root).records
    if every_frame:
        pass
    elif split_file is not None:
        from tinyxray import train

        split_of = train.read_split_csv(split_file)
        records = [r for r in records if split_of.get(train.split_key(r.path, r.source)) == "test"]
    else:
        records = [r for r in records if r.original_split == "test"]
    frames = frame_cache.load_frames(records)
    return [str(r.path) for r in frames.records], list(frames.frames)


def sample_frames(directory: Path) -> tuple[list[str], list[np.ndarray]]:
    """The committed sample PNGs (steps 1-3 done) through the full pipeline (adds the blur)."""
    from tinyxray import preprocess

    paths = sorted(directory.glob("*.png"))
    return [str(p) for p in paths], [preprocess.preprocess_file(p) for p in paths]


def verify(
    tflite: Path,
    frames_u8: list[np.ndarray],
    names: list[str] | None = None,
    work_dir: Path | None = None,
) -> Verification:
    """Compile, build on the host, run every frame through both; count identical outputs."""
    from tinyxray import preprocess, tflm_oracle

    compiled = compiler.compile_model(tflite)
    graph = compiled.graph
    source, result = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    scale, zero_point = float(source.scale[0]), int(source.zero_point[0])
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        compiler.write_model(compiled, tmp)
        library = host_build.build_shared_library(tmp, Path(tmp) / "libmodel.so")
        host = host_build.HostModel(library, source.size, result.size)
        oracle = tflm_oracle.Int8Model(tflite)
        names = names or [f"frame{i}" for i in range(len(frames_u8))]
        mismatches = []
        for name, frame in zip(names, frames_u8, strict=True):
            frame_int8 = preprocess.to_int8(frame, scale, zero_point).reshape(source.shape[1:])
            expected = np.asarray(oracle.invoke(frame_int8)).astype(np.int8).reshape(-1)
            actual = host.invoke(frame_int8)
            if not np.array_equal(actual, expected):
                mismatches.append((name, actual.tolist(), expected.tolist()))
    return Verification(len(frames_u8), len(frames_u8) - len(mismatches), mismatches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyxray.aot.verify", description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, action="append", default=[], help="dataset root")
    parser.add_argument("--split-file", type=Path, default=None)
    parser.add_argument("--all-frames", action="store_true", help="every image, not the test")
    parser.add_argument("--samples", type=Path, default=None, help="folder of sample PNGs")
    args = parser.parse_args(argv)
    names: list[str] = []
    frames: list[np.ndarray] = []
    if args.data:
        more_names, more_frames = test_split_frames(args.data, args.split_file, args.all_frames)
        names += more_names
        frames += more_frames
    if args.samples:
        more_names, more_frames = sample_frames(args.samples)
        names += more_names
        frames += more_frames
    if not frames:
        print("error: no frames (give --data and/or --samples)", file=sys.stderr)
        return 2
    outcome = verify(args.model, frames, names)
    for name, aot, tflm in outcome.mismatches[:10]:
        print(f"MISMATCH {name}: aot {aot} tflm {tflm}")
    print(f"{outcome.identical}/{outcome.frames} frames byte-identical")
    return 0 if outcome.identical == outcome.frames else 1


if __name__ == "__main__":
    sys.exit(main())
