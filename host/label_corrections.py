"""Per-dataset label corrections, applied by default when a dataset root is scanned.

A correction file is a CSV (lines starting with ``#`` are comments) with the columns

    file,sha256,published_label,label,reason

- ``file``: the image's path inside the dataset root, as scanned (``train/Covid/040.jpeg``);
- ``sha256``: of the file's bytes (may be empty); a row whose file now holds other bytes is
  not applied, because the correction was made for that picture, not for that name;
- ``published_label``: the class the dataset gives the image (checked: a row that no longer
  matches is not applied);
- ``label``: the corrected class, ``exclude`` to leave the image out, or the published class
  to record a label that was reviewed and kept;
- ``reason``: the evidence (the finding in the collection the image came from).

Where the file is found: ``<root>/label_corrections.csv`` if the dataset carries one, else
the file bundled with tinyxray for the dataset's folder name
(``host/label_corrections/<folder>.csv``). ``covid19-image-dataset.csv`` lists the 21 images
in that set's Covid folders whose sources say they are not COVID-19 (its PROVENANCE.md).

Every row is reported (`Outcome`): relabelled, excluded, kept, or not applied and why. The
published label stays on the record (`data.ImageRecord.published_label`), so a model can
still be scored against the labels a study used.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

ROOT_FILE = "label_corrections.csv"
BUNDLED = Path(__file__).resolve().parent / "label_corrections"
EXCLUDE = "exclude"
COLUMNS = ("file", "sha256", "published_label", "label", "reason")


class CorrectionFileError(ValueError):
    """A correction file is malformed (the message names the file and line)."""


@dataclasses.dataclass(frozen=True)
class Correction:
    """One row of a correction file."""

    file: str
    sha256: str
    published_label: str
    label: str  # a canonical label or EXCLUDE
    reason: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one correction when a root was scanned."""

    source: str
    file: str
    published_label: str
    label: str
    reason: str
    status: str  # "relabelled", "excluded", "kept" or "not applied: <why>"

    @property
    def applied(self) -> bool:
        return self.status in ("relabelled", "excluded")


def correction_file(root: Path, folder_name: str | None = None) -> Path | None:
    """The correction file for a dataset root, or None (see the module docstring)."""
    own = Path(root) / ROOT_FILE
    if own.is_file():
        return own
    bundled = BUNDLED / f"{folder_name or Path(root).resolve().name}.csv"
    return bundled if bundled.is_file() else None


def read(path: Path) -> list[Correction]:
    """Parses a correction file; raises CorrectionFileError naming the line."""
    from tinyxray import data

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as error:
        raise CorrectionFileError(f"{path}: cannot read: {error.strerror or error}") from error
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    numbered = [(number, line) for number, line in numbered if not line.lstrip().startswith("#")]
    if not numbered:
        raise CorrectionFileError(f"{path}: no header line")
    rows = list(csv.reader(line for _, line in numbered))
    header = [cell.strip() for cell in rows[0]]
    if tuple(header) != COLUMNS:
        raise CorrectionFileError(f"{path}: expected the columns {','.join(COLUMNS)}")
    corrections = []
    seen: set[str] = set()
    for (number, _), row in zip(numbered[1:], rows[1:], strict=True):
        if len(row) != len(COLUMNS):
            raise CorrectionFileError(f"{path} line {number}: expected {len(COLUMNS)} fields")
        file, sha256, published, label, reason = (cell.strip() for cell in row)
        try:
            published = data.canonical_label(published)
            label = EXCLUDE if label.lower() == EXCLUDE else data.canonical_label(label)
        except data.UnknownClassError as error:
            raise CorrectionFileError(f"{path} line {number}: {error}") from None
        if sha256 and len(sha256) != 64:
            raise CorrectionFileError(f"{path} line {number}: sha256 must be 64 hex digits")
        if file in seen:
            raise CorrectionFileError(f"{path} line {number}: {file} is listed twice")
        seen.add(file)
        corrections.append(Correction(file, sha256.lower(), published, label, reason))
    return corrections


def apply(
    records: Sequence, root: Path, source: str, corrections: Sequence[Correction]
) -> tuple[list, list[Outcome]]:
    """Applies corrections to one root's records; returns (records kept, outcomes).

    A relabelled record keeps the dataset's label in `published_label`; an excluded one is
    left out of the returned records (its outcome says why).
    """
    root = Path(root)
    by_file = {relative_path(record.path, root): number for number, record in enumerate(records)}
    replaced: dict[int, object] = {}
    outcomes = []
    for correction in corrections:
        number = by_file.get(correction.file)
        status = _check(correction, records[number] if number is not None else None)
        if status is None:
            record = records[number]
            if correction.label == EXCLUDE:
                replaced[number] = None
                status = "excluded"
            elif correction.label == correction.published_label:
                status = "kept"
            else:
                replaced[number] = dataclasses.replace(
                    record, label=correction.label, published_label=record.label
                )
                status = "relabelled"
        outcomes.append(
            Outcome(
                source,
                correction.file,
                correction.published_label,
                correction.label,
                correction.reason,
                status,
            )
        )
    kept = []
    for number, record in enumerate(records):
        record = replaced.get(number, record)
        if record is not None:
            kept.append(record)
    return kept, outcomes


def _check(correction: Correction, record) -> str | None:
    """None when the correction applies to the record, else 'not applied: why'."""
    if record is None:
        return "not applied: no such image in the dataset"
    if record.label != correction.published_label:
        return (
            f"not applied: the dataset labels it {record.label}, not {correction.published_label}"
        )
    if correction.sha256 and _sha256(record.path) != correction.sha256:
        return "not applied: the file's content differs from the one corrected (sha256)"
    return None


def relative_path(path: Path, root: Path) -> str:
    """A record's path inside its dataset root, as correction files name it."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def summary(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """Counts by status and by change ("Covid->Pneumonia": 16, "excluded": 0, ...)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.status == "relabelled":
            key = f"{outcome.published_label}->{outcome.label}"
        elif outcome.status.startswith("not applied"):
            key = "not applied"
        else:
            key = outcome.status
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def describe(outcomes: Sequence[Outcome]) -> str:
    """One line for reports: which corrections were applied, per source."""
    if not outcomes:
        return "Label corrections: none on file for these datasets."
    parts = []
    for source in sorted({outcome.source for outcome in outcomes}):
        mine = [outcome for outcome in outcomes if outcome.source == source]
        counts = summary(mine)
        changes = ", ".join(f"{key} {value}" for key, value in counts.items())
        parts.append(f"{source}: {sum(o.applied for o in mine)} applied ({changes})")
    return "Label corrections applied (use --study-labels for the labels as published): " + (
        "; ".join(parts)
    )
