"""The TFLM arena per target recorded in the model card (tinyxray.tflm_arena)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tinyxray import export_c, model_card, tflm_arena

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "models" / "default"


@pytest.fixture(scope="module")
def default_figures() -> dict[str, int]:
    card = model_card.load(DEFAULT)
    return tflm_arena.arena_by_target(card.tflite_path.read_bytes())


def test_32bit_bound_is_the_host_figure_less_pointer_savings(default_figures) -> None:
    card = model_card.load(DEFAULT)
    breakdown = tflm_arena.allocation_breakdown(
        card.tflite_path.read_bytes(), default_figures["x86_64"]
    )
    tensors = breakdown["TfLiteEvalTensor data"]["count"]
    nodes = breakdown["NodeAndRegistration struct"]["count"]
    saving = tensors * 12 + nodes * 32
    assert default_figures["x86_64"] == card.tflm_arena_bytes
    assert 0 <= default_figures["cortex_m4"] - (default_figures["x86_64"] - saving) < 16
    assert default_figures["cortex_m4"] % 16 == 0
    # Measured with the pinned Arduino TFLM (CMSIS-NN) on the emulated Cortex-M4: 140,500 B.
    assert default_figures["cortex_m4"] >= 140_500


def test_committed_card_and_metadata_carry_the_figures(default_figures) -> None:
    card = model_card.load(DEFAULT)
    assert card.tflm_arena_bytes_by_target == default_figures
    header = (REPO / "firmware" / "lib" / "model" / "model_metadata.h").read_text()
    assert f"kTflmArenaBytesCortexM4 = {default_figures['cortex_m4']};" in header
    assert f"kTflmArenaBytesCortexM4 = {default_figures['cortex_m4']};" in (
        export_c.metadata_header(card, "test")
    )


def test_record_writes_the_card(tmp_path: Path, default_figures) -> None:
    for name in ("model_card.json", "model_int8.tflite"):
        shutil.copy(DEFAULT / name, tmp_path / name)
    card = model_card.load(tmp_path)
    card.tflm_arena_bytes_by_target = {}
    model_card.save(card, card.path)
    assert tflm_arena.main([str(tmp_path), "--record"]) == 0
    assert model_card.load(tmp_path).tflm_arena_bytes_by_target == default_figures


def test_unknown_struct_sizes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    card = model_card.load(DEFAULT)
    monkeypatch.setitem(tflm_arena.POINTER_STRUCTS, "TfLiteEvalTensor data", (32, 16))
    with pytest.raises(RuntimeError, match="structs differ"):
        tflm_arena.arena_by_target(card.tflite_path.read_bytes())


def test_missing_card_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tflm_arena.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: no model card")
