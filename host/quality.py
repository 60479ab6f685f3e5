"""Optional "large interference" flagger: text, markers, devices and borders.

The study removed images with large interference by hand. This module measures three simple
things on the decoded grayscale image, area-resized (without padding) to 256x256:

- `border`: the widest run of near-uniform rows/columns at any edge (standard deviation
  below `BORDER_STD`, e.g. black or white frames, scanner margins), as a fraction of the side;
- `saturated`: the fraction of pixels at or above `SATURATED_LEVEL` (burnt-in labels,
  devices and large white patches);
- `margin_marks`: the fraction of the outer margin band (`MARGIN` of each side) made of small
  sharp bright structures (pixel >= `MARK_LEVEL` and at least `MARK_CONTRAST` above its
  9x9 neighbourhood mean): letters, "R"/"L" markers, rulers, electrodes near the edge.

An image is flagged when any measure exceeds its threshold (`QualityThresholds`). The
thresholds were set by looking at the highest-ranked images of the two shared datasets
(docs/preprocessing.md, "Quality flagger"); they flag, they do not decide. The filter is off
unless a caller asks for it (`python -m tinyxray.quality ROOT... --out DIR` reports).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyxray import data, preprocess

ANALYSIS_SIZE = 256
BORDER_STD = 3.0
SATURATED_LEVEL = 250
MARGIN = 0.12
MARK_LEVEL = 200
MARK_CONTRAST = 60


@dataclasses.dataclass(frozen=True)
class QualityThresholds:
    """An image is flagged when a measure is above its threshold."""

    border: float = 0.08
    saturated: float = 0.06
    margin_marks: float = 0.015


@dataclasses.dataclass(frozen=True)
class QualityMeasures:
    border: float
    saturated: float
    margin_marks: float

    def reasons(self, thresholds: QualityThresholds) -> list[str]:
        """Names of the measures above their thresholds (empty: not flagged)."""
        return [
            f"{field.name} {getattr(self, field.name):.3f} > {getattr(thresholds, field.name)}"
            for field in dataclasses.fields(self)
            if getattr(self, field.name) > getattr(thresholds, field.name)
        ]


def analysis_image(gray: np.ndarray) -> np.ndarray:
    """Area-resizes a grayscale image (any aspect) to ANALYSIS_SIZE^2, float64 0..255."""
    height, width = gray.shape
    rows = preprocess.area_weights(height, ANALYSIS_SIZE).astype(np.float64) / height
    cols = preprocess.area_weights(width, ANALYSIS_SIZE).astype(np.float64) / width
    return rows @ gray.astype(np.float64) @ cols.T


def _border_fraction(image: np.ndarray) -> float:
    """Widest near-uniform run of rows/columns starting at an edge, over the side."""
    size = image.shape[0]
    widest = 0
    for lines in (image, image[::-1], image.T, image.T[::-1]):
        uniform = lines.std(axis=1) < BORDER_STD
        run = size if uniform.all() else int(np.argmin(uniform))
        widest = max(widest, run)
    return widest / size


def _box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(image, radius, mode="reflect")
    prefix = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    prefix[1:, 1:] = padded.cumsum(0).cumsum(1)
    side = 2 * radius + 1
    total = (
        prefix[side:, side:]
        - prefix[:-side, side:]
        - prefix[side:, :-side]
        + prefix[:-side, :-side]
    )
    return total / (side * side)


def measure(gray: np.ndarray) -> QualityMeasures:
    """The three interference measures of a decoded grayscale image."""
    image = analysis_image(gray)
    size = image.shape[0]
    sharp = (image >= MARK_LEVEL) & (image - _box_mean(image, 4) >= MARK_CONTRAST)
    band = max(1, round(MARGIN * size))
    margin = np.ones_like(sharp)
    margin[band:-band, band:-band] = False
    return QualityMeasures(
        border=_border_fraction(image),
        saturated=float((image >= SATURATED_LEVEL).mean()),
        margin_marks=float(sharp[margin].mean()),
    )


def flag_records(
    records: Sequence[data.ImageRecord], thresholds: QualityThresholds | None = None
) -> list[dict]:
    """Measures every record; rows with file, label, measures, reasons (unreadable too)."""
    thresholds = thresholds or QualityThresholds()
    rows = []
    for record in records:
        row: dict = {"file": str(record.path), "label": record.label, "source": record.source}
        try:
            measures = measure(preprocess.load_grayscale(record.path))
        except preprocess.ImageError as error:
            row["reasons"] = [f"unreadable: {error.reason}"]
        else:
            row.update(dataclasses.asdict(measures))
            row["reasons"] = measures.reasons(thresholds)
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyxray.quality", description=__doc__)
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    scan = data.scan_datasets(args.roots)
    rows = flag_records(scan.records)
    flagged = [row for row in rows if row["reasons"]]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "thresholds": dataclasses.asdict(QualityThresholds()),
        "images": len(rows),
        "flagged": len(flagged),
        "flagged_by_source_label": _count(flagged),
        "rows": rows,
    }
    (args.out / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Interference flags",
        "",
        f"{len(flagged)} of {len(rows)} images flagged; thresholds "
        f"{dataclasses.asdict(QualityThresholds())}.",
        "",
        *(f"- {key}: {value}" for key, value in report["flagged_by_source_label"].items()),
        "",
        "| file | reasons |",
        "|------|---------|",
        *(f"| {row['file']} | {'; '.join(row['reasons'])} |" for row in flagged),
    ]
    (args.out / "quality.md").write_text("\n".join(lines) + "\n")
    print(f"{len(flagged)} of {len(rows)} images flagged; wrote {args.out / 'quality.md'}")
    return 0


def _count(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        key = f"{row['source']}/{row['label']}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    raise SystemExit(main())
