"""The one image -> model-input implementation (preprocessing spec v1, docs/preprocessing.md).

Steps: 1. decode to 8-bit grayscale (`load_grayscale`); 2. reflect-pad to square; 3. exact
area-average resize to S x S; 3b. optional intensity normalisation (`normalise_intensity`,
the card's ``intensity``: "none" or "stretch", an integer percentile contrast stretch);
4. separable Gaussian blur (reflect-101 border); 5. int8 model input (`to_int8`). Training,
evaluation, sample export and the bench all call this module; firmware/lib/core/preprocess.cc
ports steps 2-5 and is checked against golden vectors made from this module.

Step 3 is computed in exact integer arithmetic (each output pixel is a rational number with
denominator L*L, L = the padded side), so the result is the mathematically exact area average
rounded half up: no floating-point tie can differ between Python and C.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Version of the preprocessing spec implemented here; part of every frame-cache key.
SPEC_VERSION = 1

# Decompression-bomb limit: more decoded pixels than this are refused before decoding.
# The largest image of the seed set is 4200x4095 (17.2 Mpx); 50 Mpx leaves room for
# 7000x7000 radiographs while keeping one decoded 8-bit frame below 50 MB.
MAX_PIXELS = 50_000_000
# Images with a side below this cannot carry a radiograph at 96x96 resolution.
MIN_SIDE = 32

# PIL's own guard is set deliberately to the same limit (it warns above it and raises above
# twice it); `load_grayscale` checks the header size first so the error names the reason.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def too_large_reason(
    error: Exception | None = None, pixels: int | None = None, size: tuple[int, int] | None = None
) -> str:
    """The skip reason for an image above MAX_PIXELS, naming the one limit.

    PIL's own decompression-bomb messages quote twice its limit above that; ours always
    says MAX_PIXELS (with the image's pixel count, read from PIL's message if needed).
    """
    if pixels is None and error is not None:
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(found.group(1)) if found else None
    dimensions = f"{size[0]}x{size[1]} = " if size else ""
    count = f"{dimensions}{pixels:,} pixels" if pixels is not None else "more pixels"
    return f"too large: {count} > {MAX_PIXELS:,} (the decompression-bomb limit)"


class ImageError(ValueError):
    """A file cannot be used as an image; `reason` is a short human-readable cause."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing parameters (the model card's "preprocess" record)."""

    size: int = 96
    blur_kernel: int = 3
    blur_sigma: float = 1.0
    pad: str = "reflect"
    intensity: str = "none"  # step 3b: "none" or "stretch" (`normalise_intensity`)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")
        if self.blur_kernel < 0 or (self.blur_kernel > 1 and self.blur_kernel % 2 == 0):
            raise ValueError(f"blur_kernel must be 0, 1 or odd, got {self.blur_kernel}")
        if self.blur_kernel > 1 and not self.blur_sigma > 0:
            raise ValueError(f"blur_sigma must be > 0, got {self.blur_sigma}")
        if self.pad != "reflect":
            raise ValueError(f"only pad='reflect' is implemented, got {self.pad!r}")
        if self.intensity not in INTENSITY_METHODS:
            raise ValueError(
                f"intensity must be one of {INTENSITY_METHODS}, got {self.intensity!r}"
            )

    def key(self) -> str:
        """A short stable identifier of this configuration (for caches)."""
        text = f"v{SPEC_VERSION}-{self.size}-{self.blur_kernel}-{self.blur_sigma!r}-{self.pad}"
        if self.intensity != "none":
            text += f"-{self.intensity}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def steps_1_to_3(self) -> PreprocessConfig:
        """This configuration without steps 3b and 4: what the bench sends and samples hold."""
        return dataclasses.replace(self, blur_kernel=0, intensity="none")

    @classmethod
    def from_dict(cls, record: dict) -> PreprocessConfig:
        """Builds a config from a model card's "preprocess" record."""
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in record.items() if name in fields})


# Step 1: decode.


def load_grayscale(path: str | Path) -> np.ndarray:
    """Decodes an image file to a 2-D uint8 grayscale array (step 1), or raises ImageError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageError(path, f"cannot read file: {error.strerror or error}") from error
    return decode_grayscale(data, name=str(path))


def decode_grayscale(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decodes encoded image bytes to 2-D uint8 grayscale (step 1), or raises ImageError."""
    if not data:
        raise ImageError(name, "empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as error:
            raise ImageError(name, "not an image (format not recognised)") from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageError(name, too_large_reason(error)) from error
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(name, f"corrupt header: {error}") from error
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageError(name, too_large_reason(pixels=width * height, size=image.size))
        if min(width, height) < MIN_SIDE:
            raise ImageError(name, f"too small: {width}x{height}, minimum side {MIN_SIDE}")
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_gray_u8(image, name)
        except ImageError:
            raise
        except (OSError, SyntaxError, ValueError, IndexError, struct.error) as error:
            raise ImageError(name, f"corrupt or truncated image data: {error}") from error


def _to_gray_u8(image: Image.Image, name: str) -> np.ndarray:
    """Converts a loaded PIL image of any supported mode to uint8 grayscale."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("L", "1", "RGB", "CMYK", "YCbCr"):
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        # Alpha is composited on black: round_half_up(luma * alpha / 255), in integers.
        rgba = image.convert("RGBA")
        luma = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.uint32)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.uint32)
        return ((2 * luma * alpha + 255) // 510).astype(np.uint8)
    if mode.startswith("I;16") or mode == "I":
        # 16-bit grayscale: the high byte (values clipped to the 16-bit range first).
        wide = np.asarray(image, dtype=np.int64)
        return (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)
    raise ImageError(name, f"unsupported image mode {mode!r}")


# Steps 2-3: pad to square, exact area-average resize.


def pad_to_square(gray: np.ndarray) -> np.ndarray:
    """Step 2: reflect-pads the short axis (before = total // 2) to a square."""
    _check_gray(gray)
    height, width = gray.shape
    total = abs(height - width)
    before, after = total // 2, total - total // 2
    # The short axis gets the padding: rows when the image is wide, columns when tall.
    widths = ((before, after), (0, 0)) if height < width else ((0, 0), (before, after))
    if total == 0:
        return gray
    return np.pad(gray, widths, mode="reflect")


def area_weights(length: int, size: int) -> np.ndarray:
    """Integer area weights (size x length) of resizing `length` pixels to `size`.

    Output i covers [i*L, (i+1)*L) and input r covers [r*S, (r+1)*S) on an axis scaled by
    S*L, so weight[i, r] is their integer overlap; weight / L is the area weight and each
    row of it sums to 1.
    """
    outputs = np.arange(size, dtype=np.int64)[:, None] * length
    inputs = np.arange(length, dtype=np.int64)[None, :] * size
    begin = np.maximum(outputs, inputs)
    end = np.minimum(outputs + length, inputs + size)
    return np.maximum(end - begin, 0)


def _area_sums(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Integer area sums along one axis: sum_r weight[i, r] * values[r] (`area_weights`).

    With b_i = floor(i*L/S) and rem_i = i*L mod S, output i is
    S * sum(values[b_i:b_(i+1)]) - rem_i * values[b_i] + rem_(i+1) * values[b_(i+1)].
    """
    length = values.shape[axis]
    index, remainder = np.divmod(np.arange(size + 1, dtype=np.int64) * length, size)
    starts = index[:-1]
    # Sums of up to 65535 uint8 values fit int32; later passes need int64.
    accumulator = np.int32 if values.dtype == np.uint8 else np.int64
    segments = np.add.reduceat(values, starts, axis=axis, dtype=accumulator).astype(np.int64)
    shape = [1] * values.ndim
    shape[axis] = size
    empty = (index[1:] == starts).reshape(shape)  # Upscaling: reduceat gives values[b_i].
    if empty.any():
        segments = np.where(empty, 0, segments)
    edges = np.take(values, np.minimum(index, length - 1), axis=axis).astype(np.int64)
    shape[axis] = size + 1
    weighted = remainder.reshape(shape) * edges  # The last remainder is 0.
    before = np.take(weighted, np.arange(size), axis=axis)
    after = np.take(weighted, np.arange(1, size + 1), axis=axis)
    return size * segments - before + after


def resize_area(square: np.ndarray, size: int) -> np.ndarray:
    """Step 3: exact area-average resize of a square uint8 image to size x size.

    out = round_half_up((W @ img @ W.T) / L^2) with the integer weights W of `area_weights`,
    computed with integer segment sums (no floating point, no BLAS threads).
    """
    _check_gray(square)
    length = square.shape[0]
    if square.shape[1] != length:
        raise ValueError(f"resize_area needs a square image, got {square.shape}")
    if length >= 65536:
        raise ValueError(f"side {length} too large for exact resizing")
    if length == size:
        return square.copy()
    columns = _area_sums(square, size, axis=1)  # (L, size), numerators over L
    numerators = _area_sums(columns, size, axis=0)  # (size, size), over L^2
    denominator = length * length
    quotient, remainder = np.divmod(numerators, denominator)
    rounded = quotient + (2 * remainder >= denominator)
    return np.clip(rounded, 0, 255).astype(np.uint8)


def pad_resize(gray: np.ndarray, size: int) -> np.ndarray:
    """Steps 2-3 (what the committed sample frames hold)."""
    return resize_area(pad_to_square(gray), size)


# Step 3b: intensity normalisation.

INTENSITY_METHODS = ("none", "stretch")
# The stretch maps the STRETCH_PERCENT-th and (100 - STRETCH_PERCENT)-th percentile grey
# levels of the frame to 0 and 255: a burnt-in label or a black border (under 1 % of the
# frame) does not set the range, and a film's exposure and windowing no longer do either.
STRETCH_PERCENT = 1


def stretch_limits(frame: np.ndarray) -> tuple[int, int]:
    """(lo, hi) of the percentile stretch, in integers over the 256-bin histogram.

    With N pixels and k = N * STRETCH_PERCENT // 100: lo is the smallest grey level with
    more than k pixels at or below it, hi the largest with more than k pixels at or above it.
    """
    _check_gray(frame)
    histogram = np.bincount(frame.ravel(), minlength=256).astype(np.int64)
    allowed = frame.size * STRETCH_PERCENT // 100
    at_or_below = np.cumsum(histogram)
    at_or_above = np.cumsum(histogram[::-1])[::-1]
    lo = int(np.flatnonzero(at_or_below > allowed)[0])
    hi = int(np.flatnonzero(at_or_above > allowed)[-1])
    return lo, hi


def stretch_table(lo: int, hi: int) -> np.ndarray:
    """The 256-entry lookup table of the stretch: round_half_up((v - lo) * 255 / (hi - lo)).

    Levels at or below lo map to 0, at or above hi to 255; hi <= lo (a flat frame) maps every
    level to itself. Integer arithmetic only, so the C port is bit-exact.
    """
    levels = np.arange(256, dtype=np.int64)
    if hi <= lo:
        return levels.astype(np.uint8)
    span = hi - lo
    inside = (2 * (levels - lo) * 255 + span) // (2 * span)
    return np.where(levels <= lo, 0, np.where(levels >= hi, 255, inside)).astype(np.uint8)


def normalise_intensity(frame: np.ndarray, method: str = "none") -> np.ndarray:
    """Step 3b on a resized uint8 frame: "none" (a copy) or "stretch" (percentile stretch)."""
    _check_gray(frame)
    if method == "none":
        return frame.copy()
    if method == "stretch":
        return stretch_table(*stretch_limits(frame))[frame]
    raise ValueError(f"intensity must be one of {INTENSITY_METHODS}, got {method!r}")


# Step 4: Gaussian blur.


def gaussian_kernel(kernel: int, sigma: float) -> np.ndarray:
    """The normalised 1-D kernel exp(-x^2 / (2 sigma^2)), x = -r..r, in float64."""
    radius = kernel // 2
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def gaussian_blur(frame: np.ndarray, kernel: int = 3, sigma: float = 1.0) -> np.ndarray:
    """Step 4: separable blur, reflect-101 border, rows then columns, round half up."""
    _check_gray(frame)
    if kernel <= 1:
        return frame.copy()
    weights = gaussian_kernel(kernel, sigma)
    radius = kernel // 2
    padded = np.pad(frame.astype(np.float64), radius, mode="reflect")
    height, width = frame.shape
    rows = np.zeros((height + 2 * radius, width), dtype=np.float64)
    for offset, weight in enumerate(weights):
        rows += weight * padded[:, offset : offset + width]
    both = np.zeros((height, width), dtype=np.float64)
    for offset, weight in enumerate(weights):
        both += weight * rows[offset : offset + height, :]
    return np.clip(np.floor(both + 0.5), 0, 255).astype(np.uint8)


# Step 5 and the full pipeline.


def to_int8(frame_u8: np.ndarray, scale: float = 1.0, zero_point: int = -128) -> np.ndarray:
    """Step 5: q = clamp(round_half_up(pixel / scale) + zero_point, -128, 127)."""
    if frame_u8.dtype != np.uint8:
        raise ValueError(f"to_int8 expects uint8, got {frame_u8.dtype}")
    if scale == 1.0:
        values = frame_u8.astype(np.int32) + int(zero_point)
    else:
        values = np.floor(frame_u8.astype(np.float64) / scale + 0.5).astype(np.int32)
        values += int(zero_point)
    return np.clip(values, -128, 127).astype(np.int8)


def finish_frame(resized: np.ndarray, config: PreprocessConfig | None = None) -> np.ndarray:
    """Steps 3b-4 on a steps 1-3 frame (a sample frame, a frame-cache entry)."""
    config = config or PreprocessConfig()
    normalised = normalise_intensity(resized, config.intensity)
    return gaussian_blur(normalised, config.blur_kernel, config.blur_sigma)


def preprocess_array(gray_u8: np.ndarray, config: PreprocessConfig | None = None) -> np.ndarray:
    """Steps 2-4 on a decoded grayscale array: a size x size uint8 frame."""
    config = config or PreprocessConfig()
    return finish_frame(pad_resize(gray_u8, config.size), config)


def preprocess_file(path: str | Path, config: PreprocessConfig | None = None) -> np.ndarray:
    """Steps 1-4 on an image file (raises ImageError for unusable files)."""
    return preprocess_array(load_grayscale(path), config)


def _check_gray(array: np.ndarray) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError("expected a 2-D uint8 grayscale array")
    if array.size == 0:
        raise ValueError("expected a non-empty image")


# Golden vectors for the C port (firmware/test/test_preprocess).


@dataclasses.dataclass(frozen=True)
class GoldenVector:
    """One deterministic input with the expected output of each of steps 2-5."""

    name: str
    source: np.ndarray  # height x width uint8
    size: int
    blur_kernel: int
    blur_sigma: float
    input_scale: float
    input_zero_point: int
    resized: np.ndarray  # steps 2-3
    blurred: np.ndarray  # step 4
    model_input: np.ndarray  # step 5 (int8)


def _golden_source(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth gradients + noise + a hard-edged bright block: exercises every weight."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    base = 127.5 + 90 * np.sin(rows / 7.0) * np.cos(cols / 11.0)
    noise = rng.normal(0.0, 25.0, size=(height, width))
    image = np.clip(base + noise, 0, 255)
    image[height // 3 : height // 2, width // 4 : width // 2] = 255
    image[0, :] = 0
    return np.floor(image).astype(np.uint8)


def golden_vectors() -> list[GoldenVector]:
    """Deterministic inputs of odd shapes with their expected outputs."""
    cases = [
        # name, height, width, size, kernel, sigma, scale, zero point
        ("wide_37x23_to_96", 23, 37, 96, 3, 1.0, 1.0, -128),
        ("square_96_identity", 96, 96, 96, 3, 1.0, 1.0, -128),
        ("wide_200x120_to_96", 120, 200, 96, 3, 1.0, 1.0, -128),
        ("tall_61x150_to_32_k5", 150, 61, 32, 5, 1.5, 1.0, -128),
        ("square_50_to_40_noblur_scaled", 50, 50, 40, 0, 1.0, 2.0, -7),
    ]
    vectors = []
    for seed, (name, height, width, size, kernel, sigma, scale, zero_point) in enumerate(cases):
        source = _golden_source(height, width, seed)
        resized = pad_resize(source, size)
        blurred = gaussian_blur(resized, kernel, sigma)
        vectors.append(
            GoldenVector(
                name=name,
                source=source,
                size=size,
                blur_kernel=kernel,
                blur_sigma=sigma,
                input_scale=scale,
                input_zero_point=zero_point,
                resized=resized,
                blurred=blurred,
                model_input=to_int8(blurred, scale, zero_point),
            )
        )
    return vectors


def _c_array(ctype: str, name: str, values: np.ndarray) -> str:
    flat = [str(int(value)) for value in values.reshape(-1)]
    lines = [", ".join(flat[start : start + 24]) for start in range(0, len(flat), 24)]
    body = ",\n  ".join(lines)
    return f"static const {ctype} {name}[{len(flat)}] = {{\n  {body}\n}};\n"


def golden_header(vectors: Sequence[GoldenVector] | None = None) -> str:
    """The golden vectors as a self-contained C/C++ header."""
    vectors = golden_vectors() if vectors is None else vectors
    parts = [
        "// Generated by `python -m tinyxray.preprocess golden OUT` (host/preprocess.py,\n"
        f"// preprocessing spec v{SPEC_VERSION}); do not edit. Expected outputs of steps 2-5.\n"
        "// The C port must match `resized` exactly and `blurred` within 1 LSB.\n"
        "#pragma once\n#include <stdint.h>\n\n"
        "struct GoldenVector {\n  const char* name;\n  int width;\n  int height;\n"
        "  const uint8_t* source;\n  int size;\n  int blur_kernel;\n  float blur_sigma;\n"
        "  float input_scale;\n  int input_zero_point;\n  const uint8_t* resized;\n"
        "  const uint8_t* blurred;\n  const int8_t* model_input;\n};\n\n"
    ]
    entries = []
    for index, vector in enumerate(vectors):
        prefix = f"kGolden{index}"
        parts.append(f"// {vector.name}\n")
        parts.append(_c_array("uint8_t", f"{prefix}Source", vector.source))
        parts.append(_c_array("uint8_t", f"{prefix}Resized", vector.resized))
        parts.append(_c_array("uint8_t", f"{prefix}Blurred", vector.blurred))
        parts.append(_c_array("int8_t", f"{prefix}ModelInput", vector.model_input) + "\n")
        height, width = vector.source.shape
        entries.append(
            f'  {{"{vector.name}", {width}, {height}, {prefix}Source, {vector.size}, '
            f"{vector.blur_kernel}, {vector.blur_sigma!r}f, {vector.input_scale!r}f, "
            f"{vector.input_zero_point}, {prefix}Resized, {prefix}Blurred, {prefix}ModelInput}},"
        )
    parts.append("static const GoldenVector kGoldenVectors[] = {\n" + "\n".join(entries) + "\n};\n")
    parts.append(f"static const int kNumGoldenVectors = {len(vectors)};\n")
    return "".join(parts)


def main(argv: Sequence[str] | None = None, prog: str = "python -m tinyxray.preprocess") -> int:
    from tinyxray import arguments, user_errors

    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    golden = commands.add_parser("golden", help="write the golden-vector C header")
    golden.add_argument(
        "out", type=Path, help="e.g. firmware/test/test_preprocess/golden_vectors.h"
    )
    frame = commands.add_parser("frame", help="preprocess one file and write a PNG")
    frame.add_argument("image", type=arguments.existing_file)
    frame.add_argument("out", type=Path, help="output image (.png; the suffix picks the format)")
    frame.add_argument("--size", type=arguments.positive_int, default=96)
    frame.add_argument("--no-blur", action="store_true", help="steps 1-3 only (sample frames)")
    args = parser.parse_args(argv)
    with user_errors.reporting_user_errors(f"{prog} {args.command}"):
        user_errors.check_writable_folder(args.out.parent.resolve(), "output folder")
        if args.command == "golden":
            args.out.write_text(golden_header())
        else:
            if args.out.suffix.lower() not in Image.registered_extensions():
                raise user_errors.UserError(
                    f"{args.out}: unknown image suffix {args.out.suffix or '(none)'!r}; use .png"
                )
            kernel = 0 if args.no_blur else 3
            config = PreprocessConfig(size=args.size, blur_kernel=kernel)
            try:
                frame_pixels = preprocess_file(args.image, config)
            except ImageError as error:
                # Raised by this module, which may run as __main__ (another ImageError class).
                raise user_errors.UserError(str(error)) from None
            Image.fromarray(frame_pixels).save(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
