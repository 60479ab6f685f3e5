"""The model card: one JSON record describing a deployed int8 model.

`models/<name>/model_card.json` is read by the Python side (settings, evaluation, bench)
and by export_c, which generates firmware/lib/model/model_metadata.h from it. Paths in the
card are relative to the card's folder. Schema: docs/model_card.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

CARD_FILE = "model_card.json"
DISCLAIMER = (
    "Research tool, not a diagnostic device. Trained on small public datasets; not validated "
    "for clinical use. Do not use it to diagnose, treat or triage anyone."
)
SCHEMA_VERSION = 1


class ModelCardError(ValueError):
    """The card is missing, malformed or inconsistent with its model file."""


@dataclasses.dataclass
class TensorSpec:
    shape: list[int]
    dtype: str
    scale: float
    zero_point: int


@dataclasses.dataclass
class ModelCard:
    name: str
    version: str
    created_by_command: str
    tflite: str
    sha256: str
    labels: list[str]
    input: TensorSpec
    output: TensorSpec
    preprocess: dict[str, Any]
    temperature: float
    uncertain_threshold: float
    tflm_arena_bytes: int
    aot_arena_bytes: int | None
    ops: list[str]
    # TFLM arena per target: {"x86_64": measured, "cortex_m4": 32-bit bound} (tflm_arena.py).
    tflm_arena_bytes_by_target: dict[str, int] = dataclasses.field(default_factory=dict)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    architecture: dict[str, Any] = dataclasses.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    path: Path | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def tflite_path(self) -> Path:
        """Absolute path of the .tflite (relative paths resolve against the card's folder)."""
        base = self.path.parent if self.path else Path.cwd()
        return (base / self.tflite).resolve()

    @property
    def input_height(self) -> int:
        return int(self.input.shape[1])

    @property
    def input_width(self) -> int:
        return int(self.input.shape[2])

    @property
    def input_channels(self) -> int:
        return int(self.input.shape[3])

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("path")
        return data

    def verify_file(self) -> None:
        """Raise ModelCardError unless the .tflite exists and matches the card's sha256."""
        path = self.tflite_path
        if not path.is_file():
            raise ModelCardError(f"model file {path} named by the card does not exist")
        digest = sha256_file(path)
        if digest != self.sha256:
            raise ModelCardError(f"{path} has sha256 {digest}, card says {self.sha256}")


_REQUIRED = (
    "name",
    "version",
    "created_by_command",
    "tflite",
    "sha256",
    "labels",
    "input",
    "output",
    "preprocess",
    "temperature",
    "uncertain_threshold",
    "tflm_arena_bytes",
    "aot_arena_bytes",
    "ops",
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def from_dict(data: dict[str, Any], path: Path | None = None) -> ModelCard:
    """Validate and build a ModelCard from parsed JSON."""
    if not isinstance(data, dict):
        raise ModelCardError("model card must be a JSON object")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ModelCardError(f"model card lacks {', '.join(missing)}")
    try:
        tensors = {}
        for key in ("input", "output"):
            spec = data[key]
            tensors[key] = TensorSpec(
                shape=[int(d) for d in spec["shape"]],
                dtype=str(spec["dtype"]),
                scale=float(spec["scale"]),
                zero_point=int(spec["zero_point"]),
            )
        known = {field.name for field in dataclasses.fields(ModelCard)} - {"path"}
        values = {key: value for key, value in data.items() if key in known}
        values.update(tensors)
        card = ModelCard(**values, path=path)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelCardError(f"malformed model card: {error}") from error
    if len(card.input.shape) != 4 or card.input.shape[0] != 1:
        raise ModelCardError(f"input shape must be [1,H,W,C], got {card.input.shape}")
    if card.output.shape != [1, len(card.labels)]:
        raise ModelCardError(f"output shape {card.output.shape} does not match the labels")
    if not 0.0 < card.uncertain_threshold <= 1.0:
        raise ModelCardError("uncertain_threshold must be in (0, 1]")
    if card.temperature <= 0:
        raise ModelCardError("temperature must be positive")
    if len(card.sha256) != 64:
        raise ModelCardError("sha256 must be 64 hex digits")
    return card


def load(path: str | Path) -> ModelCard:
    """Load a card from a JSON file, or from a folder holding model_card.json."""
    path = Path(path)
    if path.is_dir():
        path = path / CARD_FILE
    if not path.is_file():
        raise ModelCardError(f"no model card at {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelCardError(f"{path} is not valid JSON: {error}") from error
    return from_dict(data, path=path.resolve())


def save(card: ModelCard, path: str | Path) -> Path:
    """Write the card as JSON (indent 2, stable key order)."""
    path = Path(path)
    if path.is_dir():
        path = path / CARD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    card.path = path.resolve()
    return path
