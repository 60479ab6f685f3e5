"""Dataset scanning: folders of class sub-folders -> labelled image records (no pixel maths).

Layouts found under a root (several roots can be combined with `scan_datasets`):

- ``ROOT/<class>/<image>``                      no split (original_split None)
- ``ROOT/<split>/<class>/<image>``              split in train / valid|val|validation / test
- ``ROOT[/<split>]/_classes.csv`` + images      Roboflow's one-hot CSV form
  (``filename,<class 1>,<class 2>,...`` with exactly one 1 per row)

Class names map to the canonical labels Covid / Normal / Pneumonia through `LABEL_ALIASES`
(`label_for_name`, the one label map, also used by the bench); an unknown class raises
`UnknownClassError` naming it, and a root with no usable layout `DatasetError`. Files are
checked cheaply here (header decode, size limits); anything unusable lands in
`DatasetScan.skipped` with a reason instead of raising. Full decoding happens later
(tinyxray.frame_cache), which reports failures too.

Each record keeps its source (the root's folder name unless named) and its patient id where
the root says (`tinyxray.sources`: patients.csv / metadata.csv tables, NIH file names). The
root's label-correction file (`tinyxray.label_corrections`) is applied unless
``corrections=False`` (the labels as published, for comparison with a study).
"""

from __future__ import annotations

import csv
import dataclasses
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from tinyxray import label_corrections, preprocess, sources

LABELS = ("Covid", "Normal", "Pneumonia")

# Normalised class-folder name (lower case, "_" and "-" as spaces) -> canonical label.
LABEL_ALIASES: dict[str, str] = {
    "covid": "Covid",
    "covid 19": "Covid",
    "covid19": "Covid",
    "coronavirus": "Covid",
    "sars cov 2": "Covid",
    "normal": "Normal",
    "no findings": "Normal",
    "no finding": "Normal",
    "healthy": "Normal",
    "pneumonia": "Pneumonia",
    "viral pneumonia": "Pneumonia",
    "bacterial pneumonia": "Pneumonia",
    "pneumonia viral": "Pneumonia",
    "pneumonia bacterial": "Pneumonia",
}

# Split folder names -> canonical split.
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "valid": "validation",
    "val": "validation",
    "validation": "validation",
    "test": "test",
    "testing": "test",
}
SPLITS = ("train", "validation", "test")

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)
CLASSES_CSV = "_classes.csv"


class DatasetError(ValueError):
    """A dataset root cannot be used as one: no class folders, no images, an unknown class."""


class UnknownClassError(DatasetError):
    """A class folder or CSV column does not map to a canonical label."""


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One labelled image file."""

    path: Path
    label: str
    source: str
    original_split: str | None = None
    patient_id: str | None = None
    # The dataset's own label when a label correction changed it (None: unchanged).
    published_label: str | None = None

    @property
    def label_index(self) -> int:
        return LABELS.index(self.label)

    @property
    def study_label(self) -> str:
        """The label as the dataset publishes it (what a study trained and tested on)."""
        return self.published_label or self.label


@dataclasses.dataclass
class DatasetScan:
    """Records found under one or more roots, and files skipped with their reasons."""

    records: list[ImageRecord] = dataclasses.field(default_factory=list)
    skipped: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    corrections: list[label_corrections.Outcome] = dataclasses.field(default_factory=list)
    corrections_applied: bool = True  # False: the labels as published (--study-labels)

    def extend(self, other: DatasetScan) -> None:
        self.records.extend(other.records)
        self.skipped.extend(other.skipped)
        self.corrections.extend(other.corrections)
        self.corrections_applied = self.corrections_applied and other.corrections_applied

    def corrections_line(self) -> str:
        """What the reports say about label corrections."""
        if not self.corrections_applied:
            return "Label corrections: not applied (--study-labels: the labels as published)."
        return label_corrections.describe(self.corrections)

    def counts(self) -> dict[str, int]:
        """Image counts by "source/split/label" (split "-" when the source has none)."""
        counter = Counter(f"{r.source}/{r.original_split or '-'}/{r.label}" for r in self.records)
        return dict(sorted(counter.items()))


def _normalise(name: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", name.strip().lower()).split())


def label_for_name(name: str) -> str | None:
    """The canonical label a class name stands for ("Viral Pneumonia" -> Pneumonia), or None."""
    return LABEL_ALIASES.get(_normalise(name))


def canonical_label(name: str) -> str:
    """Maps a class name ("Viral Pneumonia", "COVID-19", "No_findings", ...) to a label."""
    label = label_for_name(name)
    if label is None:
        known = ", ".join(sorted({*LABEL_ALIASES, *(label.lower() for label in LABELS)}))
        raise UnknownClassError(
            f"unknown class {name!r}: expected one of the canonical labels {list(LABELS)} "
            f"or an alias ({known})"
        )
    return label


def canonical_split(name: str) -> str | None:
    """Maps a split folder name to train/validation/test, or None if it is not one."""
    return SPLIT_ALIASES.get(_normalise(name))


def has_image_suffix(path: Path) -> bool:
    """True for the file name endings the scanner and the bench treat as images."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def files_below(folder: Path) -> list[Path]:
    """Every file below `folder` in name order, without hidden files or hidden folders."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def patient_id_from_name(path: Path) -> str | None:
    """The patient id encoded in a file name, where the naming scheme is known (NIH)."""
    return sources.patient_id_from_name(path)


def check_image_header(path: Path) -> str | None:
    """Cheap validity check (format, size limits); returns a skip reason or None."""
    if not has_image_suffix(path):
        return f"not an image file (suffix {path.suffix or 'none'!r})"
    try:
        if path.stat().st_size == 0:
            return "empty file"
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except UnidentifiedImageError:
        return "not an image (format not recognised)"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return preprocess.too_large_reason(error)
    except (OSError, SyntaxError, ValueError) as error:
        return f"corrupt header: {error}"
    if width * height > preprocess.MAX_PIXELS:
        return preprocess.too_large_reason(pixels=width * height, size=(width, height))
    if min(width, height) < preprocess.MIN_SIDE:
        return f"too small: {width}x{height}, minimum side {preprocess.MIN_SIDE}"
    return None


def scan_dataset(
    root: str | Path, source: str | None = None, decode: bool = False, corrections: bool = True
) -> DatasetScan:
    """Scans one dataset root. `decode=True` also fully decodes every image (slow).

    Patient ids come from the root's patient table or the file names (`tinyxray.sources`);
    with `corrections` (default) the root's label-correction file is applied.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} is not a directory")
    folder_name = root.resolve().name
    source = source or folder_name
    scan = DatasetScan(corrections_applied=corrections)
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [p for p in subdirs if canonical_split(p.name)]
    if split_dirs:
        others = [p.name for p in subdirs if not canonical_split(p.name)]
        if others:
            raise DatasetError(
                f"{root}: mixes split folders {[p.name for p in split_dirs]} with other "
                f"folders {others}; expected only train/valid/test or only class folders"
            )
        for split_dir in split_dirs:
            scan.extend(_scan_labelled(split_dir, source, canonical_split(split_dir.name), decode))
    else:
        scan.extend(_scan_labelled(root, source, None, decode))
    if not scan.records and not scan.skipped:
        class_dirs = [p.name for p in subdirs if not canonical_split(p.name)] or [
            f"{p.name}/{c.name}" for p in split_dirs for c in sorted(p.iterdir()) if c.is_dir()
        ]
        if class_dirs:
            raise DatasetError(f"{root}: the class folders {', '.join(class_dirs)} hold no images")
        raise DatasetError(f"{root}: no class folders ({', '.join(LABELS)}) or {CLASSES_CSV} found")
    _, table = sources.patient_table(root)
    scan.records = [
        dataclasses.replace(record, patient_id=sources.patient_id(record.path, root, table))
        for record in scan.records
    ]
    correction_path = label_corrections.correction_file(root, folder_name)
    if corrections and correction_path is not None:
        try:
            table_of_corrections = label_corrections.read(correction_path)
        except label_corrections.CorrectionFileError as error:
            raise DatasetError(str(error)) from None
        kept, outcomes = label_corrections.apply(scan.records, root, source, table_of_corrections)
        kept_paths = {record.path for record in kept}
        scan.skipped += [
            (record.path, f"excluded by the label-correction file {correction_path.name}")
            for record in scan.records
            if record.path not in kept_paths
        ]
        scan.records = kept
        scan.corrections = outcomes
    return scan


def scan_datasets(
    roots: Iterable[str | Path],
    names: Sequence[str | None] | None = None,
    decode: bool = False,
    corrections: bool = True,
) -> DatasetScan:
    """Scans and combines any number of roots; each record keeps its source name."""
    roots = list(roots)
    names = list(names) if names is not None else [None] * len(roots)
    if len(names) != len(roots):
        raise ValueError("give one source name per root")
    combined = DatasetScan(corrections_applied=corrections)
    seen: dict[str, Path] = {}
    for root, name in zip(roots, names, strict=True):
        scan = scan_dataset(root, name, decode, corrections)
        for source in {record.source for record in scan.records}:
            if source in seen:
                raise DatasetError(
                    f"two roots have the source name {source!r} ({seen[source]}, {root}): "
                    "name them apart (--source) so their images keep their sources"
                )
            seen[source] = Path(root)
        combined.extend(scan)
    return combined


def _scan_labelled(folder: Path, source: str, split: str | None, decode: bool) -> DatasetScan:
    """Scans a folder holding class sub-folders or a Roboflow _classes.csv."""
    csv_path = folder / CLASSES_CSV
    if csv_path.is_file():
        return _scan_classes_csv(csv_path, source, split, decode)
    scan = DatasetScan()
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for class_dir in class_dirs:
        try:
            label = canonical_label(class_dir.name)
        except UnknownClassError as error:
            raise UnknownClassError(f"{class_dir}: {error}") from None
        for path in files_below(class_dir):
            _add_file(scan, path, label, source, split, decode)
    return scan


def _scan_classes_csv(csv_path: Path, source: str, split: str | None, decode: bool) -> DatasetScan:
    """Roboflow's one-hot form: filename,<class>,... with one 1 per row."""
    scan = DatasetScan()
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [cell.strip() for cell in next(reader)]
        except StopIteration:
            raise UnknownClassError(f"{csv_path}: empty file") from None
        if len(header) < 2:
            raise UnknownClassError(f"{csv_path}: expected filename and class columns")
        labels = [canonical_label(name) for name in header[1:]]
        for line, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            path = csv_path.parent / row[0].strip()
            try:
                hot = [int(float(cell)) for cell in row[1:]]
            except ValueError:
                scan.skipped.append((path, f"{csv_path.name} line {line}: non-numeric label"))
                continue
            chosen = {labels[i] for i, value in enumerate(hot) if i < len(labels) and value}
            if len(chosen) != 1:
                scan.skipped.append(
                    (path, f"{csv_path.name} line {line}: needs exactly one label, got {chosen}")
                )
                continue
            if not path.is_file():
                scan.skipped.append((path, "listed in _classes.csv but missing"))
                continue
            _add_file(scan, path, chosen.pop(), source, split, decode)
    return scan


def _add_file(
    scan: DatasetScan, path: Path, label: str, source: str, split: str | None, decode: bool
) -> None:
    if path.name.startswith("."):
        return  # Hidden files (.DS_Store, ._foo) are never data.
    reason = check_image_header(path)
    if reason is None and decode:
        try:
            preprocess.load_grayscale(path)
        except preprocess.ImageError as error:
            reason = error.reason
    if reason is not None:
        scan.skipped.append((path, reason))
        return
    scan.records.append(
        ImageRecord(
            path=path,
            label=label,
            source=source,
            original_split=split,
        )
    )
