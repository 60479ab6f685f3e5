"""The bench holds every backend that claims bit-exactness (INFO bit_exact) to identity."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tinyxray.bench import protocol, report


@dataclasses.dataclass
class _Model:
    labels: tuple[str, ...] = ("Covid", "Normal", "Pneumonia")
    name: str = "test"
    sha256: str = "ab" * 32
    card_path: Path = Path("model_card.json")
    uncertain_threshold: float = 0.6


LABELS = _Model.labels


def _record(frame: str, device: list[int], host: list[int]) -> dict[str, Any]:
    return {
        "frame": frame,
        "label": LABELS[0],
        "device_label": LABELS[device.index(max(device))],
        "host_label": LABELS[host.index(max(host))],
        "uncertain": False,
        "top_prob": (max(device) + 128) / 256,
        "device_scores": device,
        "host_scores": host,
        "scores_identical": device == host,
        "top1_agree": device.index(max(device)) == host.index(max(host)),
        "session": 1,
        "request_wire_bytes": 9267,
        "reply_wire_bytes": 30,
        "round_trip_s": 0.1,
        "pixel_bytes": 9216,
        "infer_cost": 100,
        "preprocess_cost": 10,
    }


def _agreement(fields: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    records = [
        _record("a.png", [100, -50, -100], [100, -50, -100]),
        _record("b.png", [90, -40, -100], [91, -40, -100]),  # same top-1, scores differ
    ]
    info = protocol.DeviceInfo(fields)
    built = report.build_report(
        records=records, sessions=[], frames_total=2, model=_Model(), info=info, run_dir=tmp_path
    )
    return built["agreement"]


@pytest.mark.parametrize(
    ("fields", "expected", "mismatched"),
    [
        ({"backend": "tflm", "bit_exact": "1"}, True, ["b.png"]),
        ({"backend": "tflm", "bit_exact": "0"}, False, []),
        ({"backend": "aot", "bit_exact": "0"}, False, []),  # the device's word counts
        ({"backend": "aot"}, True, ["b.png"]),  # firmware without the key
        ({"backend": "tflm"}, False, []),
    ],
)
def test_identity_expected_where_claimed(
    fields: dict[str, str], expected: bool, mismatched: list[str], tmp_path: Path
) -> None:
    agreement = _agreement(fields, tmp_path)
    assert agreement["bit_exact_expected"] is expected
    assert [m["frame"] for m in agreement["mismatches"]] == mismatched
    if mismatched:
        assert agreement["mismatches"][0]["device_scores"] == [90, -40, -100]
