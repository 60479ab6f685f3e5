"""export_c: the C array decodes to the .tflite bytes; the headers compile and agree."""

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from model_fixtures import write_tiny_model_dir

from tinyxray import export_c, model_card

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    card_path = write_tiny_model_dir(folder / "tiny", temperature=1.5)
    out = folder / "generated"
    export_c.export(card_path, out)
    return model_card.load(card_path), out


def test_c_array_round_trip(exported):
    card, out = exported
    source = (out / "model_data.cc").read_text()
    assert export_c.parse_c_array(source) == card.tflite_path.read_bytes()
    assert f"g_model_data_len = {card.tflite_path.stat().st_size};" in source
    assert "alignas(16)" in (out / "model_data.h").read_text()


def test_parse_c_array_rejects_missing_array():
    with pytest.raises(ValueError):
        export_c.parse_c_array("int x = 1;")


def test_metadata_header_carries_the_card(exported):
    card, out = exported
    header = (out / "model_metadata.h").read_text()
    assert "constexpr float kInputScale = 1.0f;" in header
    assert "constexpr int kInputZeroPoint = -128;" in header
    assert f'kModelSha256 = "{card.sha256}"' in header
    assert f"kTflmArenaBytes = {card.tflm_arena_bytes};" in header
    assert "constexpr float kTemperature = 1.5f;" in header
    assert "constexpr int kIntensityMethod = 0;" in header  # no step 3b in this card
    adders = re.findall(r"X\((\w+)\)", header.split("#define TINYXRAY_MODEL_OPS(X)")[1])
    assert adders == [export_c.RESOLVER_ADDERS[op] for op in card.ops]


def test_metadata_header_carries_the_intensity_normalisation(exported):
    card, _ = exported
    stretched = dataclasses.replace(card, preprocess={**card.preprocess, "intensity": "stretch"})
    assert "constexpr int kIntensityMethod = 1;" in export_c.metadata_header(stretched, "test")
    unknown = dataclasses.replace(card, preprocess={**card.preprocess, "intensity": "clahe"})
    with pytest.raises(ValueError, match="no intensity normalisation 'clahe'"):
        export_c.metadata_header(unknown, "test")


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_generated_sources_compile_and_match(exported, tmp_path):
    card, out = exported
    program = tmp_path / "main.cc"
    program.write_text(
        '#include <cstdio>\n#include <cstdint>\n#include "model_data.h"\n'
        '#include "model_metadata.h"\n'
        "#define COUNT_OP(name) +1\n"
        "int main() {\n"
        "  unsigned sum = 0;\n"
        "  for (unsigned i = 0; i < g_model_data_len; ++i) sum = sum * 31u + g_model_data[i];\n"
        '  std::printf("%u %u %d %s %d %d\\n", g_model_data_len, sum,\n'
        "    (int)(reinterpret_cast<uintptr_t>(g_model_data) % 16), model_metadata::kLabels[2],\n"
        "    model_metadata::kInputZeroPoint, 0 TINYXRAY_MODEL_OPS(COUNT_OP));\n"
        "}\n"
    )
    binary = tmp_path / "main"
    subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-O0",
            "-Wall",
            "-Werror",
            f"-I{out}",
            str(program),
            str(out / "model_data.cc"),
            "-o",
            str(binary),
        ],
        check=True,
    )
    printed = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    data = card.tflite_path.read_bytes()
    expected_sum = 0
    for byte in data:
        expected_sum = (expected_sum * 31 + byte) % (1 << 32)
    assert printed.split() == [
        str(len(data)),
        str(expected_sum),
        "0",
        "Pneumonia",
        "-128",
        str(len(card.ops)),
    ]


def test_committed_firmware_model_matches_default_card():
    card_path = REPO / "models" / "default" / "model_card.json"
    generated = REPO / "firmware" / "lib" / "model"
    if not card_path.exists() or not (generated / "model_data.cc").exists():
        pytest.skip("no default model exported yet")
    card = model_card.load(card_path)
    assert export_c.parse_c_array((generated / "model_data.cc").read_text()) == (
        card.tflite_path.read_bytes()
    )
    assert card.sha256 in (generated / "model_metadata.h").read_text()


def test_record_aot_arena_updates_the_card(exported, tmp_path):
    card, _ = exported
    header = tmp_path / "model_aot.h"
    header.write_text("#define MODEL_AOT_ARENA_BYTES 73728\n")
    assert export_c.record_aot_arena(card.path, header) == 73728
    assert model_card.load(card.path).aot_arena_bytes == 73728
    header.write_text("/* nothing */\n")
    with pytest.raises(ValueError):
        export_c.record_aot_arena(card.path, header)
