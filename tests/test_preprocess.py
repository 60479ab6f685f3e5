"""Preprocessing spec v1: exact arrays for each step, decoding of every image mode, bad files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinyxray import preprocess

# The 3-tap sigma-1 kernel [e^-0.5, 1, e^-0.5] / sum, by hand.
EDGE = np.exp(-0.5) / (1 + 2 * np.exp(-0.5))
CENTRE = 1 / (1 + 2 * np.exp(-0.5))


def gray(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


# Step 2: pad to square.


def test_pad_wide_image_reflects_rows_half_before() -> None:
    padded = preprocess.pad_to_square(gray([[1, 2, 3, 4], [5, 6, 7, 8]]))
    expected = gray([[5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8], [1, 2, 3, 4]])
    np.testing.assert_array_equal(padded, expected)


def test_pad_tall_image_puts_the_smaller_half_before() -> None:
    # Width 2 to 5: pad 3 = 1 before + 2 after; numpy "reflect" repeats the reflection.
    padded = preprocess.pad_to_square(np.tile(gray([[10, 20]]), (5, 1)))
    np.testing.assert_array_equal(padded[0], [20, 10, 20, 10, 20])


def test_pad_single_column_repeats_it() -> None:
    padded = preprocess.pad_to_square(gray([[1], [2], [3]]))
    np.testing.assert_array_equal(padded, gray([[1, 1, 1], [2, 2, 2], [3, 3, 3]]))


def test_pad_square_is_identity() -> None:
    image = gray([[1, 2], [3, 4]])
    np.testing.assert_array_equal(preprocess.pad_to_square(image), image)


# Step 3: exact area average.


def test_resize_halving_is_block_mean_rounded_half_up() -> None:
    image = gray([[0, 1, 1, 1], [0, 0, 1, 0], [4, 4, 9, 9], [4, 5, 9, 10]])
    # Block sums 1, 3, 17, 37 over 4: 0.25 -> 0, 0.75 -> 1, 4.25 -> 4, 9.25 -> 9.
    np.testing.assert_array_equal(preprocess.resize_area(image, 2), gray([[0, 1], [4, 9]]))
    # 0.5 and 2.5 round up.
    np.testing.assert_array_equal(preprocess.resize_area(gray([[1, 1], [0, 0]]), 1), gray([[1]]))
    np.testing.assert_array_equal(preprocess.resize_area(gray([[3, 3], [2, 2]]), 1), gray([[3]]))


def test_resize_three_to_two_uses_fractional_weights() -> None:
    # Weights per axis: [2/3, 1/3, 0] and [0, 1/3, 2/3].
    # out[0,0] = 4/9*9 + 1/9*45, out[0,1] = 1/9*45, out[1,1] = 1/9*45 + 4/9*90.
    image = gray([[9, 0, 0], [0, 45, 0], [0, 0, 90]])
    np.testing.assert_array_equal(preprocess.resize_area(image, 2), gray([[9, 5], [5, 45]]))
    np.testing.assert_array_equal(preprocess.area_weights(3, 2), np.array([[2, 1, 0], [0, 1, 2]]))


def test_resize_upscaling_two_to_three() -> None:
    image = gray([[0, 100], [100, 200]])
    expected = gray([[0, 50, 100], [50, 100, 150], [100, 150, 200]])
    np.testing.assert_array_equal(preprocess.resize_area(image, 3), expected)


def test_resize_same_size_is_identity() -> None:
    image = np.arange(96 * 96, dtype=np.uint32).reshape(96, 96).astype(np.uint8)
    np.testing.assert_array_equal(preprocess.resize_area(image, 96), image)


@pytest.mark.parametrize(("length", "size"), [(37, 96), (97, 96), (200, 96), (150, 32), (7, 3)])
def test_resize_matches_the_real_valued_definition(length: int, size: int) -> None:
    rng = np.random.default_rng(length * size)
    image = rng.integers(0, 256, (length, length), dtype=np.uint8)
    weights = preprocess.area_weights(length, size)
    np.testing.assert_array_equal(weights.sum(axis=1), length)  # Area weights sum to 1.
    # Integer matrix products (no BLAS, no rounding): numerators over length^2.
    numerators = weights @ image.astype(np.int64) @ weights.T
    denominator = length * length
    expected = (2 * numerators + denominator) // (2 * denominator)  # floor(x + 1/2)
    np.testing.assert_array_equal(preprocess.resize_area(image, size), expected)
    real = weights / length @ image.astype(np.float64) @ (weights / length).T
    assert np.abs(preprocess.resize_area(image, size) - real).max() <= 0.5 + 1e-9


def test_resize_rejects_non_square() -> None:
    with pytest.raises(ValueError, match="square"):
        preprocess.resize_area(np.zeros((3, 4), dtype=np.uint8), 2)


# Step 4: Gaussian blur.


def test_gaussian_kernel_by_hand() -> None:
    np.testing.assert_allclose(preprocess.gaussian_kernel(3, 1.0), [EDGE, CENTRE, EDGE])


def test_blur_impulse_in_the_middle() -> None:
    image = np.zeros((5, 5), dtype=np.uint8)
    image[2, 2] = 255
    blurred = preprocess.gaussian_blur(image, 3, 1.0)
    # 255*E*E = 19.15, 255*E*C = 31.58, 255*C*C = 52.07.
    expected = np.zeros((5, 5), dtype=np.uint8)
    expected[1:4, 1:4] = [[19, 32, 19], [32, 52, 32], [19, 32, 19]]
    np.testing.assert_array_equal(blurred, expected)


def test_blur_border_is_reflect_101() -> None:
    image = np.zeros((3, 3), dtype=np.uint8)
    image[0, 0] = 255
    # Index -1 mirrors to 1 (not 0), so the corner keeps 255*C*C and nothing doubles.
    expected = gray([[52, 32, 0], [32, 19, 0], [0, 0, 0]])
    np.testing.assert_array_equal(preprocess.gaussian_blur(image, 3, 1.0), expected)


def test_blur_keeps_flat_images_and_is_off_for_kernel_0() -> None:
    flat = np.full((9, 9), 173, dtype=np.uint8)
    np.testing.assert_array_equal(preprocess.gaussian_blur(flat, 5, 2.0), flat)
    image = np.random.default_rng(1).integers(0, 256, (8, 8), dtype=np.uint8)
    np.testing.assert_array_equal(preprocess.gaussian_blur(image, 0, 1.0), image)


# Step 5: int8.


def test_to_int8_default_is_pixel_minus_128() -> None:
    frame = gray([[0, 127, 128, 255]])
    np.testing.assert_array_equal(preprocess.to_int8(frame), [[-128, -1, 0, 127]])


def test_to_int8_rounds_half_up_and_clamps() -> None:
    frame = gray([[3, 4, 255]])
    # 1.5 -> 2, 2 -> 2, 127.5 -> 128; plus -7.
    np.testing.assert_array_equal(preprocess.to_int8(frame, 2.0, -7), [[-5, -5, 121]])
    np.testing.assert_array_equal(preprocess.to_int8(gray([[100, 0]]), 0.5, 0), [[127, 0]])
    with pytest.raises(ValueError, match="uint8"):
        preprocess.to_int8(np.zeros((2, 2), dtype=np.int16))


# Full pipeline and configuration.


def test_preprocess_array_is_steps_2_to_4() -> None:
    image = np.random.default_rng(2).integers(0, 256, (120, 200), dtype=np.uint8)
    config = preprocess.PreprocessConfig(size=64, blur_kernel=5, blur_sigma=1.5)
    expected = preprocess.gaussian_blur(
        preprocess.resize_area(preprocess.pad_to_square(image), 64), 5, 1.5
    )
    result = preprocess.preprocess_array(image, config)
    assert result.shape == (64, 64) and result.dtype == np.uint8
    np.testing.assert_array_equal(result, expected)


def test_stretch_limits_and_table_by_hand() -> None:
    # 200 pixels: 1 % is 2, so two 0s below and two 250s above are ignored.
    frame = np.array([[10] * 100 + [200] * 100], dtype=np.uint8)
    frame[0, :2] = 0
    frame[0, -2:] = 250
    assert preprocess.stretch_limits(frame) == (10, 200)
    table = preprocess.stretch_table(10, 200)
    assert (table[0], table[10], table[200], table[250]) == (0, 0, 255, 255)
    # 105 -> (105 - 10) * 255 / 190 = 127.5 -> 128 (half up); 100 -> 120.79 -> 121.
    assert (table[105], table[100]) == (128, 121)
    stretched = preprocess.normalise_intensity(frame, "stretch")
    assert stretched.min() == 0 and stretched.max() == 255
    np.testing.assert_array_equal(stretched, table[frame])


def test_stretch_leaves_flat_frames_and_none_changes_nothing() -> None:
    flat = np.full((9, 9), 77, dtype=np.uint8)
    np.testing.assert_array_equal(preprocess.normalise_intensity(flat, "stretch"), flat)
    image = np.random.default_rng(3).integers(0, 256, (20, 20), dtype=np.uint8)
    np.testing.assert_array_equal(preprocess.normalise_intensity(image, "none"), image)
    with pytest.raises(ValueError, match="intensity"):
        preprocess.normalise_intensity(image, "clahe")


def test_stretch_undoes_a_change_of_window() -> None:
    # The same radiograph windowed two ways gives (nearly) the same stretched frame.
    base = np.random.default_rng(4).integers(0, 256, (96, 96), dtype=np.uint8)
    darker = (40 + base.astype(np.int64) * 150 // 255).astype(np.uint8)
    one = preprocess.normalise_intensity(base, "stretch").astype(int)
    two = preprocess.normalise_intensity(darker, "stretch").astype(int)
    assert np.abs(one - two).max() <= 2


def test_pipeline_with_stretch_is_steps_2_3_3b_4(tmp_path: Path) -> None:
    image = np.random.default_rng(5).integers(30, 90, (70, 50), dtype=np.uint8)
    config = preprocess.PreprocessConfig(intensity="stretch")
    expected = preprocess.gaussian_blur(
        preprocess.normalise_intensity(preprocess.pad_resize(image, 96), "stretch"), 3, 1.0
    )
    np.testing.assert_array_equal(preprocess.preprocess_array(image, config), expected)
    assert config.key() != preprocess.PreprocessConfig().key()
    assert config.steps_1_to_3() == preprocess.PreprocessConfig(blur_kernel=0)
    # The frame cache finishes cached frames with the same step 3b.
    from tinyxray import frame_cache

    path = tmp_path / "x.png"
    Image.fromarray(image).save(path)
    cache = frame_cache.FrameCache(tmp_path / "cache")
    np.testing.assert_array_equal(cache.frame(path, config), expected)
    with pytest.raises(ValueError, match="intensity"):
        preprocess.PreprocessConfig(intensity="equalise")


def test_config_validation_and_card_record() -> None:
    with pytest.raises(ValueError, match="odd"):
        preprocess.PreprocessConfig(blur_kernel=4)
    with pytest.raises(ValueError, match="reflect"):
        preprocess.PreprocessConfig(pad="zero")
    config = preprocess.PreprocessConfig.from_dict(
        {"size": 96, "blur_kernel": 3, "blur_sigma": 1.0, "pad": "reflect", "other": 1}
    )
    assert config == preprocess.PreprocessConfig()
    assert config.key() != preprocess.PreprocessConfig(blur_kernel=0).key()


def test_preprocess_array_rejects_non_gray() -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        preprocess.preprocess_array(np.zeros((4, 4, 3), dtype=np.uint8))


def test_golden_vectors_are_deterministic_and_consistent() -> None:
    first, second = preprocess.golden_vectors(), preprocess.golden_vectors()
    assert [v.name for v in first] == [v.name for v in second]
    for one, two in zip(first, second, strict=True):
        np.testing.assert_array_equal(one.source, two.source)
        np.testing.assert_array_equal(one.model_input, two.model_input)
        config = preprocess.PreprocessConfig(
            size=one.size, blur_kernel=one.blur_kernel, blur_sigma=one.blur_sigma
        )
        np.testing.assert_array_equal(preprocess.preprocess_array(one.source, config), one.blurred)
    header = preprocess.golden_header(first)
    assert header.count("static const uint8_t kGolden") == 3 * len(first)
    assert f"kNumGoldenVectors = {len(first)}" in header


# Step 1: decoding every mode, and bad files.


def save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def test_decode_gray_png_is_lossless(tmp_path: Path) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (40, 50), dtype=np.uint8)
    path = save(Image.fromarray(pixels), tmp_path / "gray.png")
    np.testing.assert_array_equal(preprocess.load_grayscale(path), pixels)


def test_decode_rgb_uses_pil_luma(tmp_path: Path) -> None:
    rgb = np.zeros((40, 40, 3), dtype=np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:] = (0, 0, 255)
    result = preprocess.load_grayscale(save(Image.fromarray(rgb), tmp_path / "rgb.png"))
    # ITU-R 601-2: 255 * 0.299 = 76.2 and 255 * 0.114 = 29.1.
    assert result.shape == (40, 40)
    assert set(np.unique(result[:, :20])) == {76} and set(np.unique(result[:, 20:])) == {29}


def test_decode_rgba_and_la_composite_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:, :20, 3] = 128
    rgba[:, 20:, 3] = 0
    result = preprocess.load_grayscale(save(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert set(np.unique(result[:, :20])) == {128} and set(np.unique(result[:, 20:])) == {0}
    la = Image.fromarray(rgba[..., [0, 3]], mode="LA")
    result = preprocess.load_grayscale(save(la, tmp_path / "la.png"))
    assert set(np.unique(result[:, :20])) == {128}


def test_decode_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    result = preprocess.load_grayscale(save(palette, tmp_path / "p.png"))
    assert set(np.unique(result)) == {255}
    result = preprocess.load_grayscale(save(palette, tmp_path / "pt.png", transparency=1))
    assert set(np.unique(result)) == {0}


def test_decode_cmyk_and_16_bit_and_1_bit(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (40, 40), (0, 0, 0, 0))  # No ink: white.
    result = preprocess.load_grayscale(save(cmyk, tmp_path / "cmyk.tif"))
    assert set(np.unique(result)) == {255}
    wide = Image.fromarray(np.full((40, 40), 0x12F0, dtype=np.uint16))
    result = preprocess.load_grayscale(save(wide, tmp_path / "wide.png"))
    assert set(np.unique(result)) == {0x12}
    bits = Image.new("1", (40, 40), 1)
    assert set(np.unique(preprocess.load_grayscale(save(bits, tmp_path / "b.png")))) == {255}


def test_decode_applies_exif_orientation(tmp_path: Path) -> None:
    pixels = np.zeros((40, 60), dtype=np.uint8)
    pixels[:, :10] = 255  # A bright left edge.
    exif = Image.Exif()
    exif[0x0112] = 6  # Rotate 90 degrees clockwise for display.
    path = save(Image.fromarray(pixels), tmp_path / "rotated.png", exif=exif)
    result = preprocess.load_grayscale(path)
    assert result.shape == (60, 40)
    assert result[:10].mean() > 250 and result[10:].mean() < 5  # The left edge is now on top.


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    pixels = np.random.default_rng(4).integers(0, 256, (200, 200), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty file"),
        ("text.jpg", b"hello, not an image\n" * 10, "not an image"),
        ("random.png", bytes(range(256)) * 4, "not an image"),
        ("truncated.jpg", truncated_jpeg(), "truncated"),
        ("bomb.png", png_header_only(8000, 7000), "too large"),
        ("huge_bomb.png", png_header_only(30000, 30000), "too large"),
        ("tiny.png", png_header_only(16, 400), "too small"),
    ],
)
def test_bad_files_raise_image_error_with_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(preprocess.ImageError) as raised:
        preprocess.load_grayscale(path)
    assert reason in raised.value.reason
    assert str(path) in str(raised.value)


def test_missing_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(preprocess.ImageError, match="cannot read"):
        preprocess.load_grayscale(tmp_path / "absent.png")


# Throughput (pytest --benchmark-enable -k bench).


def test_bench_preprocess_array_512(benchmark) -> None:
    """Steps 2-4 on a decoded 512x512 frame (the NIH images' size)."""
    image = np.random.default_rng(5).integers(0, 256, (512, 512), dtype=np.uint8)
    frame = benchmark(preprocess.preprocess_array, image)
    assert frame.shape == (96, 96)


def test_bench_preprocess_file_512_jpeg(benchmark, tmp_path: Path) -> None:
    """Steps 1-4 on a 512x512 8-bit JPEG file (decode included)."""
    rows, cols = np.mgrid[0:512, 0:512]
    pixels = (127 + 100 * np.sin(rows / 17) * np.cos(cols / 23)).astype(np.uint8)
    path = save(Image.fromarray(pixels), tmp_path / "frame.jpg", quality=95)
    frame = benchmark(preprocess.preprocess_file, path)
    assert frame.shape == (96, 96)
