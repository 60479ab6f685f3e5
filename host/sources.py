"""What a dataset root says about its images beyond the class folders: patients, sources.

Patient ids, in order of preference:

1. a table in the root, ``patients.csv`` or ``metadata.csv``, with a ``file`` column (the
   image's path inside the root, e.g. ``Pneumonia/170_wong-0000.jpg``) and a patient column
   (``patient_id``, ``patientid`` or ``patient``); an empty cell means "not known";
2. the NIH ChestX-ray8 naming scheme (``PATIENT_FOLLOWUP``, 8 digits for the patient).

Images without an id are grouped only by the duplicate audit. Ids are per source: the same
id in two sources is two patients (`tinyxray.audit` links same source and same id).
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PATIENT_TABLES = ("patients.csv", "metadata.csv")
FILE_COLUMN = "file"
PATIENT_COLUMNS = ("patient_id", "patientid", "patient")
# NIH ChestX-ray8 names: 8-digit patient id, "_", 3-digit follow-up number.
NIH_NAME = re.compile(r"^(\d{8})_\d{3}$")


def image_table(root: Path) -> dict[str, dict[str, str]]:
    """Every column a root's patient/metadata table gives per image ({file: row}), or {}.

    Column names are lower case; used for attribution (licence, source URL) of samples.
    """
    for name in PATIENT_TABLES:
        path = Path(root) / name
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [
                {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
                for row in csv.DictReader(handle)
            ]
        if rows and FILE_COLUMN in rows[0]:
            return {Path(row[FILE_COLUMN]).as_posix(): row for row in rows if row[FILE_COLUMN]}
    return {}


def patient_table(root: Path) -> tuple[Path | None, dict[str, str]]:
    """(table path, {file inside the root: patient id}) of the first table found, or (None, {})."""
    for name in PATIENT_TABLES:
        path = Path(root) / name
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [column.strip().lower() for column in reader.fieldnames or []]
            patient_column = next((c for c in PATIENT_COLUMNS if c in columns), None)
            if FILE_COLUMN not in columns or patient_column is None:
                continue  # Some other table (e.g. a licence list): not a patient table.
            names = {column.strip().lower(): column for column in reader.fieldnames or []}
            table = {}
            for row in reader:
                file = (row.get(names[FILE_COLUMN]) or "").strip()
                patient = (row.get(names[patient_column]) or "").strip()
                if file and patient:
                    table[Path(file).as_posix()] = patient
        return path, table
    return None, {}


def patient_id_from_name(path: Path) -> str | None:
    """The patient id encoded in a file name, where the naming scheme is known (NIH)."""
    match = NIH_NAME.match(Path(path).stem)
    return match.group(1) if match else None


def patient_id(path: Path, root: Path, table: dict[str, str]) -> str | None:
    """The image's patient id from the root's table, else from its name, else None."""
    try:
        inside = Path(path).relative_to(root).as_posix()
    except ValueError:
        inside = Path(path).name
    return table.get(inside) or patient_id_from_name(path)


def source_summary(records: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Per source: images per class, images with a patient id, patients, corrected labels."""
    per_source: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"images": 0, "classes": Counter(), "with_patient_id": 0, "patients": set()}
    )
    for record in records:
        entry = per_source[record.source]
        entry["images"] += 1
        entry["classes"][record.label] += 1
        if record.patient_id is not None:
            entry["with_patient_id"] += 1
            entry["patients"].add(record.patient_id)
    return {
        source: {
            "images": entry["images"],
            "classes": dict(sorted(entry["classes"].items())),
            "with_patient_id": entry["with_patient_id"],
            "patients": len(entry["patients"]),
        }
        for source, entry in sorted(per_source.items())
    }


def shared_classes(records: Sequence[Any]) -> dict[str, list[str]]:
    """Per source, the classes it holds that at least one other source also holds.

    Leave-one-source-out can only test a source on these: a class no other source holds
    cannot be learned once its only source is held out.
    """
    holders: dict[str, set[str]] = defaultdict(set)
    for record in records:
        holders[record.label].add(record.source)
    by_source: dict[str, set[str]] = defaultdict(set)
    for label, sources in holders.items():
        for source in sources:
            if len(sources) > 1:
                by_source[source].add(label)
    return {
        source: sorted(by_source.get(source, ()))
        for source in sorted({record.source for record in records})
    }
