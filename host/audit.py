"""Duplicate and leak audit, and the leak-free split (docs/preprocessing.md, "Audit").

Duplicates are found three ways, each an edge of a union-find over all images:

- exact file copies: SHA-256 of the file bytes;
- exact pixel copies: SHA-256 of the decoded grayscale pixels (same picture, other encoding);
- near copies: a 256-bit DCT perceptual hash of the preprocessed frame (steps 1-3, 96x96),
  Hamming distance <= `NEAR_THRESHOLD`.

Images of the same patient (same source and patient id) are joined as well. A connected
component ("group") is never split across train/validation/test by `leak_free_split`.

Run: ``python -m tinyxray.audit ROOT [ROOT...] --out DIR`` (JSON + Markdown + split CSV).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyxray import data, frame_cache, preprocess, sources

# Perceptual hash: the frame is area-resized to 64x64, transformed by an orthonormal 2-D
# DCT-II, and the 16x16 lowest frequencies are compared with their median (256 bits, half
# of them set). On the two shared datasets (794 images, 314,821 pairs) every pair at distance
# <= 24 is the same radiograph (checked by eye: re-encodings, other windowing, resized
# copies), the next distance is 54 (different radiographs, at most the same patient). The
# threshold sits in that gap; `python -m tinyxray.audit` reports the distances seen.
HASH_DCT_SIZE = 64
HASH_LOW = 16
HASH_BITS = HASH_LOW * HASH_LOW
NEAR_THRESHOLD = 38
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)


def _dct_matrix(size: int) -> np.ndarray:
    index = np.arange(size)
    matrix = np.cos(np.pi * (2 * index[None, :] + 1) * index[:, None] / (2 * size))
    matrix[0] /= np.sqrt(2.0)
    return matrix * np.sqrt(2.0 / size)


_DCT = _dct_matrix(HASH_DCT_SIZE)


def perceptual_hash(frame: np.ndarray) -> np.ndarray:
    """256-bit DCT hash (bool array) of a preprocessed uint8 frame."""
    small = preprocess.resize_area(frame, HASH_DCT_SIZE).astype(np.float64)
    low = (_DCT @ small @ _DCT.T)[:HASH_LOW, :HASH_LOW].ravel()
    return low > np.median(low)


def hamming_matrix(hashes: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Hamming distances between (N, bits) and (M, bits) bool arrays (default: all pairs of
    `hashes`), as int32 (N, M)."""
    bits = hashes.astype(np.float32)
    other_bits = bits if others is None else others.astype(np.float32)
    return np.rint(bits @ (1.0 - other_bits).T + (1.0 - bits) @ other_bits.T).astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    """What the audit compares images by: file and pixel SHA-256 and the perceptual hash."""

    file_sha256: list[str]
    pixel_sha256: list[str]
    hashes: np.ndarray  # (N, HASH_BITS) bool

    @classmethod
    def of_entries(cls, entries: Sequence[frame_cache.CachedImage]) -> Fingerprints:
        hashes = np.array([perceptual_hash(entry.resized) for entry in entries], dtype=bool)
        return cls(
            [entry.file_sha256 for entry in entries],
            [entry.pixel_sha256 for entry in entries],
            hashes.reshape(len(entries), HASH_BITS),
        )

    def subset(self, indices: Sequence[int]) -> Fingerprints:
        chosen = [int(i) for i in indices]
        return Fingerprints(
            [self.file_sha256[i] for i in chosen],
            [self.pixel_sha256[i] for i in chosen],
            self.hashes[chosen].reshape(len(chosen), HASH_BITS),
        )


def copies_of(
    candidates: Fingerprints,
    reference: Fingerprints | None = None,
    threshold: int = NEAR_THRESHOLD,
) -> list[Link | None]:
    """For each candidate, the reference image it copies (file, pixels or near), or None.

    The same three tests as `audit_records`. Without `reference`, each candidate is checked
    against the candidates before it (the first of a group of copies keeps None). Links
    read (candidate, reference index, kind, distance); the closest copy is named.
    """
    within = reference is None
    other = candidates if reference is None else reference
    if len(candidates.file_sha256) == 0 or len(other.file_sha256) == 0:
        return [None] * len(candidates.file_sha256)
    distances = hamming_matrix(candidates.hashes, other.hashes)
    files = np.array(candidates.file_sha256, dtype=object)[:, None] == np.array(
        other.file_sha256, dtype=object
    )
    pixels = np.array(candidates.pixel_sha256, dtype=object)[:, None] == np.array(
        other.pixel_sha256, dtype=object
    )
    found: list[Link | None] = []
    for row in range(len(candidates.file_sha256)):
        columns = slice(0, row) if within else slice(None)
        for kind, hits in (("file", files[row, columns]), ("pixels", pixels[row, columns])):
            if hits.any():
                found.append(Link(row, int(np.flatnonzero(hits)[0]), kind, 0))
                break
        else:
            near = distances[row, columns]
            closest = int(np.argmin(near)) if near.size else -1
            found.append(
                Link(row, closest, "near", int(near[closest]))
                if closest >= 0 and near[closest] <= threshold
                else None
            )
    return found


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving."""

    def __init__(self, count: int) -> None:
        self.parent = list(range(count))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, first: int, second: int) -> None:
        root_first, root_second = self.find(first), self.find(second)
        if root_first != root_second:
            self.parent[max(root_first, root_second)] = min(root_first, root_second)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = defaultdict(list)
        for item in range(len(self.parent)):
            members[self.find(item)].append(item)
        return sorted(members.values(), key=lambda group: group[0])


@dataclasses.dataclass(frozen=True)
class Link:
    """Why two images belong together."""

    first: int
    second: int
    kind: str  # "file", "pixels", "near" or "patient"
    distance: int | None = None


@dataclasses.dataclass
class Audit:
    """The audit of a list of records (indices refer to `records`)."""

    records: list[data.ImageRecord]
    file_sha256: list[str]
    pixel_sha256: list[str]
    hashes: np.ndarray  # (N, 256) bool
    links: list[Link]
    duplicate_groups: list[list[int]]  # size > 1, by file/pixel/near links only
    components: list[list[int]]  # all images, duplicate and patient links
    skipped: list[tuple[Path, str]]
    threshold: int
    distance_histogram: dict[int, int]  # pair distance -> count, for distances <= 64

    def fingerprints(self) -> Fingerprints:
        return Fingerprints(self.file_sha256, self.pixel_sha256, self.hashes)

    def component_index(self) -> list[int]:
        index = [0] * len(self.records)
        for number, members in enumerate(self.components):
            for member in members:
                index[member] = number
        return index


def audit_records(
    records: Sequence[data.ImageRecord],
    cache: frame_cache.FrameCache | None = None,
    threshold: int = NEAR_THRESHOLD,
    progress: bool = False,
) -> Audit:
    """Hashes every record (via the frame cache) and groups duplicates and patients."""
    cache = cache or frame_cache.FrameCache()
    loaded = frame_cache.load_frames(
        records, preprocess.PreprocessConfig(size=cache.size), cache, progress
    )
    kept = loaded.records
    fingerprints = Fingerprints.of_entries(loaded.entries)
    files, pixels, hashes = fingerprints.file_sha256, fingerprints.pixel_sha256, fingerprints.hashes
    distances = hamming_matrix(hashes)

    links: list[Link] = []
    for kind, keys in (("file", files), ("pixels", pixels)):
        first_seen: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in first_seen:
                links.append(Link(first_seen[key], index, kind, 0))
            else:
                first_seen[key] = index
    upper = np.triu_indices(len(kept), 1)
    pair_distances = distances[upper]
    for position in np.flatnonzero(pair_distances <= threshold):
        first, second = int(upper[0][position]), int(upper[1][position])
        if pixels[first] != pixels[second]:  # Identical pixels are linked above.
            links.append(Link(first, second, "near", int(pair_distances[position])))
    duplicates = UnionFind(len(kept))
    for link in links:
        duplicates.union(link.first, link.second)
    duplicate_groups = [group for group in duplicates.groups() if len(group) > 1]

    patients: dict[tuple[str, str], int] = {}
    for index, record in enumerate(kept):
        if record.patient_id is None:
            continue
        key = (record.source, record.patient_id)
        if key in patients:
            links.append(Link(patients[key], index, "patient"))
        else:
            patients[key] = index
    components = UnionFind(len(kept))
    for link in links:
        components.union(link.first, link.second)
    histogram = Counter(int(d) for d in pair_distances[pair_distances <= 64])
    return Audit(
        records=list(kept),
        file_sha256=files,
        pixel_sha256=pixels,
        hashes=hashes,
        links=links,
        duplicate_groups=duplicate_groups,
        components=components.groups(),
        skipped=list(loaded.skipped),
        threshold=threshold,
        distance_histogram=dict(sorted(histogram.items())),
    )


@dataclasses.dataclass
class SplitResult:
    """split[i] in train/validation/test/excluded for audit.records[i]; moves with reasons."""

    split: list[str]
    moves: list[tuple[int, str, str, str]]  # (record index, from, to, reason)
    seed: int
    fractions: tuple[float, float, float]

    def indices(self, name: str) -> list[int]:
        return [index for index, split in enumerate(self.split) if split == name]


EXCLUDED = "excluded"


def majority_label(records: Sequence[data.ImageRecord], members: Sequence[int]) -> str:
    """A group's most common label (ties: the first in name order), for stratifying."""
    labels = Counter(records[m].label for m in members)
    return sorted(labels.items(), key=lambda item: (-item[1], item[0]))[0][0]


def leak_free_split(
    records: Sequence[data.ImageRecord],
    components: Sequence[Sequence[int]],
    seed: int = 0,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    duplicate_groups: Sequence[Sequence[int]] = (),
) -> SplitResult:
    """Assigns whole components to train/validation/test, deterministically for a seed.

    - A component with an image in an original test split goes to test: its original test
      images stay there, other images of the same patient join them, and copies of a test
      image (members of one of `duplicate_groups`) are excluded, so no copy of a test image
      trains the model and none is counted twice. Likewise for an original validation split.
    - Other components of sources with splits (their train part) are divided into train and
      validation in the ratio fractions[0]:fractions[1].
    - Components of sources without splits are divided train/validation/test by `fractions`.
    Division is stratified by source and the component's majority label, balances image
    counts, and draws each (source, label) stratum with its own generator, so adding a
    dataset does not move the others' images. Finally each duplicate group keeps one image
    in validation and in test (the others are excluded); copies within train stay. No
    component is in more than one of the 3 splits.
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1: {fractions}")
    split = [""] * len(records)
    reasons: dict[int, str] = {}
    group_of = {member: number for number, group in enumerate(duplicate_groups) for member in group}
    pools: dict[tuple[str, str, str], list[Sequence[int]]] = defaultdict(list)
    for members in components:
        original = {records[m].original_split for m in members}
        fixed = "test" if "test" in original else "validation" if "validation" in original else ""
        if fixed:
            anchors = [m for m in members if records[m].original_split == fixed]
            anchor_groups = {group_of[m] for m in anchors if m in group_of}
            names = ", ".join(_name(records[m]) for m in anchors)
            for member in members:
                if member in anchors:
                    split[member] = fixed
                elif group_of.get(member, -1) in anchor_groups:
                    split[member] = EXCLUDED
                    reasons[member] = f"copy of a {fixed} image ({names}): kept out of train"
                else:
                    split[member] = fixed
                    reasons[member] = f"same patient as {fixed} image(s) {names}"
            continue
        pool = "train_only" if "train" in original else "unsplit"
        pools[(pool, records[members[0]].source, majority_label(records, members))].append(members)

    for (pool, source, label), groups in sorted(pools.items()):
        # One generator per (pool, source, class): adding a dataset leaves the split of
        # the others as it was.
        rng = np.random.default_rng([seed, zlib.crc32(f"{pool}/{source}/{label}".encode())])
        if pool == "train_only":
            total = fractions[0] + fractions[1]
            targets = (fractions[0] / total, fractions[1] / total, 0.0) if total else (1, 0, 0)
        else:
            targets = fractions
        ordered = sorted(groups, key=lambda members: min(str(records[m].path) for m in members))
        total_images = sum(len(members) for members in ordered)
        assigned = [0.0, 0.0, 0.0]
        for position in rng.permutation(len(ordered)):
            members = ordered[position]
            deficits = [targets[k] * total_images - assigned[k] for k in range(3)]
            choice = int(np.argmax(deficits))
            assigned[choice] += len(members)
            for member in members:
                split[member] = data.SPLITS[choice]
                if pool == "train_only" and choice == 1:
                    reasons[member] = f"validation drawn from train by group (seed {seed})"

    for group in duplicate_groups:
        for name in ("validation", "test"):
            inside = [m for m in group if split[m] == name]
            inside.sort(key=lambda m: (records[m].original_split != name, str(records[m].path)))
            for member in inside[1:]:
                split[member] = EXCLUDED
                reasons[member] = f"duplicate of {_name(records[inside[0]])} within {name}"

    moves = []
    for index, record in enumerate(records):
        if split[index] == EXCLUDED or (
            record.original_split and record.original_split != split[index]
        ):
            before = record.original_split or "-"
            moves.append((index, before, split[index], reasons.get(index, "")))
    return SplitResult(split=split, moves=moves, seed=seed, fractions=tuple(fractions))


def group_folds(
    records: Sequence[data.ImageRecord],
    components: Sequence[Sequence[int]],
    pool: Sequence[int],
    folds: int,
    seed: int = 0,
) -> list[int]:
    """Divides the `pool` images into `folds` cross-validation folds by whole component.

    Returns the fold (0..folds-1) of every record, -1 for records outside the pool. A
    component (duplicate group + patient) never spans two folds, so no fold is tested on a
    copy or a patient it trained on. Stratified by source and majority label, balancing
    image counts; deterministic for a seed.
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    in_pool = set(int(i) for i in pool)
    strata: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for members in components:
        inside = sorted(m for m in members if m in in_pool)
        if not inside:
            continue
        strata[(records[inside[0]].source, majority_label(records, inside))].append(inside)
    if sum(len(groups) for groups in strata.values()) < folds:
        raise ValueError(f"{len(in_pool)} images in too few groups for {folds} folds")
    fold = [-1] * len(records)
    rng = np.random.default_rng(seed)
    assigned = np.zeros(folds)  # images per fold, over all strata (keeps folds even)
    for _key, groups in sorted(strata.items()):
        ordered = sorted(groups, key=lambda members: str(records[members[0]].path))
        in_stratum = np.zeros(folds)
        for position in rng.permutation(len(ordered)):
            members = ordered[position]
            # Fewest of this stratum first, then fewest overall, then the lowest fold.
            choice = int(np.lexsort((np.arange(folds), assigned, in_stratum))[0])
            in_stratum[choice] += len(members)
            assigned[choice] += len(members)
            for member in members:
                fold[member] = choice
    return fold


def split_audit(
    audit: Audit, seed: int = 0, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> SplitResult:
    """`leak_free_split` of an audit's records, components and duplicate groups."""
    return leak_free_split(audit.records, audit.components, seed, fractions, audit.duplicate_groups)


def _several_images_one_patient(records: Sequence[data.ImageRecord], members: list[int]) -> bool:
    counter = Counter((records[m].source, records[m].patient_id) for m in members)
    return any(key[1] is not None and count > 1 for key, count in counter.items())


def _name(record: data.ImageRecord) -> str:
    """source/split/class-folder/file, for reports."""
    parts = [record.source, record.original_split or "-", record.path.parent.name, record.path.name]
    return "/".join(parts)


# Reports.


def report_dict(audit: Audit, result: SplitResult, scan: data.DatasetScan | None = None) -> dict:
    """Everything the Markdown report shows, as JSON-able data.

    With the `scan` the records came from, the report also lists its label corrections.
    """
    records = audit.records
    component_of = audit.component_index()
    groups = []
    for number, members in enumerate(audit.duplicate_groups):
        member_set = set(members)
        inside = [
            link
            for link in audit.links
            if link.first in member_set and link.second in member_set and link.kind != "patient"
        ]
        distances = [link.distance for link in inside if link.kind == "near"]
        groups.append(
            {
                "group": number,
                "files": [_name(records[m]) for m in members],
                "labels": sorted({records[m].label for m in members}),
                "original_splits": sorted({records[m].original_split or "-" for m in members}),
                "sources": sorted({records[m].source for m in members}),
                "kinds": sorted({link.kind for link in inside}),
                "max_near_distance": max(distances, default=0),
                "leak_free_split": sorted({result.split[m] for m in members} - {EXCLUDED}),
                "excluded": sum(1 for m in members if result.split[m] == EXCLUDED),
                "component": component_of[members[0]],
            }
        )
    patient_labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        if record.patient_id is not None:
            patient_labels[(record.source, record.patient_id)].add(record.label)

    def counts(split_of: Sequence[str]) -> dict[str, int]:
        counter = Counter(
            f"{split_of[i]}/{records[i].source}/{records[i].label}" for i in range(len(records))
        )
        return dict(sorted(counter.items()))

    def cross(key: str) -> int:
        return sum(1 for group in groups if len(group[key]) > 1)

    original = [record.original_split or "-" for record in records]
    return {
        "images": len(records),
        "skipped": [{"file": str(path), "reason": reason} for path, reason in audit.skipped],
        "hash": {
            "kind": f"DCT pHash, {HASH_BITS} bits ({HASH_LOW}x{HASH_LOW} of a "
            f"{HASH_DCT_SIZE}x{HASH_DCT_SIZE} DCT of the steps 1-3 frame)",
            "near_threshold": audit.threshold,
            "pair_distance_histogram": {str(k): v for k, v in audit.distance_histogram.items()},
        },
        "duplicate_groups": groups,
        "summary": {
            "duplicate_groups": len(groups),
            "images_in_duplicate_groups": sum(len(group["files"]) for group in groups),
            "groups_crossing_original_splits": cross("original_splits"),
            "groups_crossing_sources": cross("sources"),
            "groups_with_conflicting_labels": cross("labels"),
            "groups_crossing_leak_free_splits": cross("leak_free_split"),
            "components": len(audit.components),
            "patients": len(patient_labels),
            "patients_with_several_images": sum(
                1 for members in audit.components if _several_images_one_patient(records, members)
            ),
            "patients_with_several_labels": sum(
                1 for labels in patient_labels.values() if len(labels) > 1
            ),
            "moved_to_test": sum(1 for move in result.moves if move[2] == "test"),
            "moved_to_validation": sum(1 for move in result.moves if move[2] == "validation"),
            "excluded": sum(1 for move in result.moves if move[2] == EXCLUDED),
        },
        "split": {"seed": result.seed, "fractions": list(result.fractions)},
        "counts_original": counts(original),
        "counts_leak_free": counts(result.split),
        "moves": [
            {"file": _name(records[i]), "from": old, "to": new, "reason": reason}
            for i, old, new, reason in result.moves
        ],
        "sources": sources.source_summary(records),
        "label_corrections": _corrections(scan),
    }


def _corrections(scan: data.DatasetScan | None) -> dict | None:
    if scan is None:
        return None
    return {
        "applied": scan.corrections_applied,
        "line": scan.corrections_line(),
        "rows": [dataclasses.asdict(outcome) for outcome in scan.corrections],
    }


def report_markdown(report: dict) -> str:
    """A readable rendering of `report_dict`."""
    summary = report["summary"]
    lines = [
        "# Dataset audit",
        "",
        f"{report['images']} images, {len(report['skipped'])} skipped. "
        f"Near duplicates: {report['hash']['kind']}, Hamming distance <= "
        f"{report['hash']['near_threshold']}.",
        "",
        "## Summary",
        "",
        *(f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()),
        "",
        "## Pair distances seen (distance: pairs, up to 64)",
        "",
        ", ".join(f"{k}: {v}" for k, v in report["hash"]["pair_distance_histogram"].items()),
        "",
        "## Duplicate groups",
        "",
        "| # | files | labels | original splits | kinds | max near distance | leak-free split "
        "| excluded |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group in report["duplicate_groups"]:
        lines.append(
            f"| {group['group']} | {'<br>'.join(group['files'])} | {', '.join(group['labels'])} "
            f"| {', '.join(group['original_splits'])} | {', '.join(group['kinds'])} "
            f"| {group['max_near_distance']} | {', '.join(group['leak_free_split'])} "
            f"| {group['excluded']} |"
        )
    lines += ["", "## Counts (split/source/label)", "", "| key | original | leak-free |"]
    lines.append("|-----|----------|-----------|")
    keys = sorted({*report["counts_original"], *report["counts_leak_free"]})
    for key in keys:
        lines.append(
            f"| {key} | {report['counts_original'].get(key, '')} "
            f"| {report['counts_leak_free'].get(key, '')} |"
        )
    lines += ["", "## Sources", "", "| source | images | per class | with patient id | patients |"]
    lines.append("|---|---|---|---|---|")
    for name, entry in report.get("sources", {}).items():
        classes = ", ".join(f"{label} {count}" for label, count in entry["classes"].items())
        lines.append(
            f"| {name} | {entry['images']} | {classes} | {entry['with_patient_id']} "
            f"| {entry['patients']} |"
        )
    corrections = report.get("label_corrections")
    if corrections:
        lines += ["", "## Label corrections", "", corrections["line"], ""]
        if corrections["applied"] and corrections["rows"]:
            lines += ["| source | file | published | corrected | status | reason |"]
            lines.append("|---|---|---|---|---|---|")
            lines += [
                f"| {row['source']} | {row['file']} | {row['published_label']} | {row['label']} "
                f"| {row['status']} | {row['reason']} |"
                for row in corrections["rows"]
            ]
    lines += ["", "## Moved images", ""]
    lines += [f"- {m['file']}: {m['from']} -> {m['to']} ({m['reason']})" for m in report["moves"]]
    if report["skipped"]:
        lines += ["", "## Skipped files", ""]
        lines += [f"- {item['file']}: {item['reason']}" for item in report["skipped"]]
    return "\n".join(lines) + "\n"


def write_split_csv(path: Path, audit: Audit, result: SplitResult) -> None:
    """file,label,source,original_split,patient_id,split,component,published_label."""
    component_of = audit.component_index()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "file",
                "label",
                "source",
                "original_split",
                "patient_id",
                "split",
                "component",
                "published_label",
            ]
        )
        for index, record in enumerate(audit.records):
            writer.writerow(
                [
                    str(record.path),
                    record.label,
                    record.source,
                    record.original_split or "",
                    record.patient_id or "",
                    result.split[index],
                    component_of[index],
                    record.published_label or "",
                ]
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinyxray.audit", description=__doc__)
    parser.add_argument("roots", nargs="+", type=Path, help="dataset roots")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--source", action="append", help="source name per root (default: folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=int, default=NEAR_THRESHOLD)
    parser.add_argument("--cache", type=Path, help="frame cache directory")
    parser.add_argument(
        "--study-labels",
        action="store_true",
        help="do not apply the datasets' label-correction files (the labels as published)",
    )
    args = parser.parse_args(argv)

    scan = data.scan_datasets(args.roots, args.source, corrections=not args.study_labels)
    audit = audit_records(scan.records, frame_cache.FrameCache(args.cache), args.threshold, True)
    audit.skipped = scan.skipped + audit.skipped
    result = split_audit(audit, args.seed)
    report = report_dict(audit, result, scan)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audit.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "audit.md").write_text(report_markdown(report))
    write_split_csv(args.out / "split.csv", audit, result)
    summary = report["summary"]
    print(
        f"{report['images']} images, {len(report['skipped'])} skipped; "
        f"{summary['duplicate_groups']} duplicate groups "
        f"({summary['groups_crossing_original_splits']} across original splits, "
        f"{summary['groups_crossing_sources']} across sources); "
        f"{summary['excluded']} excluded, {summary['moved_to_validation']} train->validation; "
        f"{summary['groups_crossing_leak_free_splits']} groups cross the leak-free split"
    )
    print(f"wrote {args.out / 'audit.json'}, audit.md, split.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
