"""Export a small balanced set of sample frames from a run's leak-free test split.

    python -m tinyxray.samples --split-file runs/default/split.csv --out models/samples

Each frame is the output of preprocessing steps 1-3 (decode to grayscale, reflect-pad to a
square, area-resize to 96x96), saved as an 8-bit grayscale PNG and NOT blurred, so that
running the full pipeline on it gives exactly the frame the pipeline gives on the original.
Writes samples.csv (file,label,source,original) and ATTRIBUTION.md. Research use only.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from tinyxray import preprocess

ATTRIBUTION = """# Sample frames: attribution

96x96 grayscale frames (preprocessing steps 1-3: grayscale, reflect-pad to square, area
resize; not blurred) derived from images of the leak-free TEST split of the default model's
training run (none of them, nor any duplicate or same-patient image, was used for training
or validation). Selection: {per_group} random images per (source, class), seed {seed}, one
per radiograph and patient at most, among the images whose licence allows adapted copies
(below); fewer where a source's test split has fewer. Labels are the corrected ones
(docs/training.md, label corrections).

Sources:
- covid19-image-dataset: the public Kaggle "Covid-19 Image Dataset" (Pranav Raikokte), as
  re-hosted by public classification mirrors. The Covid images come from public case reports
  collected by the ieee8023 covid-chestxray-dataset project (per-image licences as listed by
  that project); the Normal and Viral Pneumonia images appear to be paediatric radiographs.
- nih-cxr8-adult-subset: NIH Clinical Center ChestX-ray8 (Wang et al., CVPR 2017), in the
  selection of the DarkCovidNet study (Ozturk et al. 2020). The NIH release may be used
  freely with acknowledgement of the NIH Clinical Center. Labels were mined by NLP from
  reports and are noisy.
- covid-cxnet-covid: the COVID-CXNet image collection, CC BY 4.0 (A. Haghanifar,
  M. Molahasani Majdabadi, S. Ko, "COVID-CXNet: Detecting COVID-19 in Frontal Chest X-ray
  Images using Deep Learning", https://github.com/armiro/COVID-CXNet, Multimedia Tools and
  Applications, doi:10.1007/s11042-022-12156-z; dataset doi:10.6084/m9.figshare.12580328).
  The collectors gathered them from third parties (journals, Radiopaedia, Eurorad, SIRM),
  whose own terms may apply; `source_url` gives the page where known.
- casereport-pneumonia: case-report radiographs from the ieee8023 COVID-19 image data
  collection (J. P. Cohen, P. Morrison, L. Dao, K. Roth, T. Q. Duong, M. Ghassemi,
  "COVID-19 Image Data Collection: Prospective Predictions Are the Future",
  arXiv:2006.11988, 2020), via the GeneralBlockchain lung bounding-box repository. Each
  frame's licence and original page are in samples.csv (`licence`, `source_url`); frames
  from CC BY-NC-SA cases are shared under CC BY-NC-SA with credit to the original authors.
  Images whose licence forbids adaptations (ND) or states none were not used as samples.

The `original` column of samples.csv is each frame's source file inside its dataset folder.

**Research use only. Not for diagnosis. tinyxray is a research tool, not a diagnostic device.**
"""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _relative_to_source(path: Path, source: str) -> str:
    """The original's path inside its dataset root (split/class/file or class/file)."""
    parts = path.parts
    if source in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index(source) + 1 :])
    return "/".join(parts[-3:])


def _source_root(path: Path, source: str) -> Path:
    """The dataset root a file lies in (the folder named after its source)."""
    parts = path.parts
    if source in parts:
        return Path(*parts[: len(parts) - parts[::-1].index(source)])
    return path.parents[2]


def _credit(path: Path, source: str, tables: dict[str, dict]) -> dict[str, str] | None:
    """Licence and source URL of an image from its root's table; None: not to be shared.

    An image is refused when its root's table has a licence column and the image's licence
    is empty or forbids adaptations (ND): a sample frame is an adapted copy.
    """
    from tinyxray import sources

    root = _source_root(path, source)
    if root not in tables:
        tables[root] = sources.image_table(root)
    row = tables[root].get(_relative_to_source(path, source), {})
    has_licence = any("license" in r or "licence" in r for r in list(tables[root].values())[:1])
    licence = row.get("license") or row.get("licence") or ""
    if has_licence and (not licence or "ND" in licence.upper().replace("-", " ").split()):
        return None
    return {"licence": licence, "source_url": row.get("source_url") or row.get("url") or ""}


def export_samples(split_file: Path, out: Path, per_group: int = 4, seed: int = 0) -> list[dict]:
    """Write PNG frames + samples.csv + ATTRIBUTION.md; returns the csv rows."""
    with Path(split_file).open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    if not rows:
        raise ValueError(f"{split_file} has no test rows")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    tables: dict[Path, dict] = {}
    seen_components: set[str] = set()
    for row in sorted(rows, key=lambda row: row["file"]):
        credit = _credit(Path(row["file"]), row["source"], tables)
        # One frame per component at most: no two samples of one radiograph or patient.
        if credit is None or row.get("component", "") in seen_components:
            continue
        if row.get("component"):
            seen_components.add(row["component"])
        groups[(row["source"], row["label"])].append({**row, **credit})
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    written = []
    for (source, label), members in sorted(groups.items()):
        members = sorted(members, key=lambda row: row["file"])
        chosen = rng.choice(len(members), size=min(per_group, len(members)), replace=False)
        for number, index in enumerate(sorted(chosen)):
            row = members[int(index)]
            frame = preprocess.pad_resize(preprocess.load_grayscale(row["file"]), 96)
            name = f"{_safe(label)}_{_safe(source)}_{number:02d}.png"
            Image.fromarray(frame, mode="L").save(out / name)
            written.append(
                {
                    "file": name,
                    "label": label,
                    "source": source,
                    "original": _relative_to_source(Path(row["file"]), source),
                    "licence": row["licence"],
                    "source_url": row["source_url"],
                }
            )
    with (out / "samples.csv").open("w", newline="") as handle:
        fields = ["file", "label", "source", "original", "licence", "source_url"]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(written)
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(per_group=per_group, seed=seed))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-file", required=True, type=Path)
    parser.add_argument("--out", default=Path("models/samples"), type=Path)
    parser.add_argument("--per-group", type=int, default=4, help="frames per (source, class)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = export_samples(args.split_file, args.out, args.per_group, args.seed)
    print(f"wrote {len(rows)} frames to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
