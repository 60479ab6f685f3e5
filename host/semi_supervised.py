"""Self-training on unlabelled X-rays with confidence-thresholded pseudo-labels.

The method (docs/training.md, "Learning from unlabelled images"):

1. the teacher is trained on the labelled images with the normal recipe;
2. it predicts every unlabelled image on the clean frame (the "weak" view): calibrated
   softmax(logits / T), averaged with the left-right flipped frame when the preset flips.
   A pseudo-label is kept when its top probability >= `preset.ssl_threshold`, most
   confident first, at most ceil(share_c x confident images) per class c, where share_c is
   the class's share of the labelled images (Noisy Student's balancing; a class that falls
   short is made up by the class-balance weights, where Noisy Student duplicates images);
3. a fresh student is trained on labelled + kept images with the normal augmentation (the
   "strong" view); a pseudo-labelled image's target is the teacher's probabilities and its
   loss weight `preset.ssl_weight` times its class/source balance weight.

Unlabelled images pass the audit's copy tests first (`audit.copies_of`): a copy of a
held-out image (validation/test in train, the scored fold in crossval) would leak its label
into training, and a copy of a labelled training image adds nothing; both are dropped and
reported. Copies within the unlabelled images keep the first.

The selection is pure numpy (`select_pseudo_labels`); `tinyxray.train` and
`tinyxray.crossval` train the models and call the rest.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import audit, data, frame_cache, metrics, preprocess, user_errors

LABELS = data.LABELS
PSEUDO_FILE = "pseudo_labels.npz"


@dataclasses.dataclass(frozen=True)
class UnlabelledImage:
    """One image trained on without its label."""

    path: Path
    source: str
    # The true label of a hidden image (label-hiding experiments): only for the pseudo-label
    # precision in the report, never trained on. None for an unlabelled folder's image.
    hidden_label: str | None = None


@dataclasses.dataclass
class UnlabelledSet:
    """Unlabelled images, their frames and fingerprints; what was skipped or dropped, why."""

    images: list[UnlabelledImage]
    frames: np.ndarray  # (n, size, size, 1) uint8
    fingerprints: audit.Fingerprints
    skipped: list[tuple[Path, str]] = dataclasses.field(default_factory=list)

    def take(self, indices: Sequence[int]) -> UnlabelledSet:
        chosen = [int(i) for i in indices]
        return UnlabelledSet(
            [self.images[i] for i in chosen],
            self.frames[chosen],
            self.fingerprints.subset(chosen),
            list(self.skipped),
        )

    def __add__(self, other: UnlabelledSet) -> UnlabelledSet:
        both = audit.Fingerprints(
            [*self.fingerprints.file_sha256, *other.fingerprints.file_sha256],
            [*self.fingerprints.pixel_sha256, *other.fingerprints.pixel_sha256],
            np.concatenate([self.fingerprints.hashes, other.fingerprints.hashes]),
        )
        return UnlabelledSet(
            [*self.images, *other.images],
            np.concatenate([self.frames, other.frames]),
            both,
            [*self.skipped, *other.skipped],
        )

    def hidden_labels(self) -> np.ndarray:
        """The hidden true label of each image as an index, -1 where there is none."""
        return np.array(
            [-1 if i.hidden_label is None else LABELS.index(i.hidden_label) for i in self.images],
            np.int64,
        )


def empty_set(size: int) -> UnlabelledSet:
    return UnlabelledSet(
        [],
        np.zeros((0, size, size, 1), np.uint8),
        audit.Fingerprints([], [], np.zeros((0, audit.HASH_BITS), bool)),
    )


def load_unlabelled(
    folders: Sequence[str],
    config: preprocess.PreprocessConfig,
    cache: frame_cache.FrameCache | None = None,
) -> UnlabelledSet:
    """Every image below the folders (no label read), each source named by its folder.

    Unusable files are skipped with their reasons, as for labelled images; a folder with no
    usable image at all is a user error.
    """
    cache = cache or frame_cache.FrameCache(size=config.size)
    images: list[UnlabelledImage] = []
    skipped: list[tuple[Path, str]] = []
    for folder in folders:
        source = Path(folder).resolve().name
        found = []
        for path in data.files_below(Path(folder)):
            reason = data.check_image_header(path)
            if reason is None:
                found.append(UnlabelledImage(path, source))
            else:
                skipped.append((path, reason))
        if not found:
            raise user_errors.UserError(
                f"--unlabelled {folder}: no usable image"
                + (f" ({len(skipped)} file(s) skipped so far)" if skipped else "")
            )
        images += found
    loaded = frame_cache.load_frames(images, config, cache)
    skipped += loaded.skipped
    if not loaded.records:
        raise user_errors.UserError(
            f"--unlabelled {', '.join(folders)}: no image could be decoded "
            f"(first {skipped[0][0]}: {skipped[0][1]})"
        )
    return UnlabelledSet(
        list(loaded.records),
        loaded.frames[..., None],
        audit.Fingerprints.of_entries(loaded.entries),
        skipped,
    )


def drop_copies(
    unlabelled: UnlabelledSet,
    reference: audit.Fingerprints,
    names: Sequence[str],
    roles: Sequence[str],
    leaking: Callable[[str], bool],
) -> tuple[UnlabelledSet, list[dict[str, Any]]]:
    """Unlabelled images without the copies of reference (labelled) images or of each other.

    `names` and `roles` describe each reference image ("test", "scored fold", "training",
    ...); `leaking(role)` says whether a copy of that role's image would leak a held-out
    label. Returns the kept set and one row per dropped image.
    """
    dropped: list[dict[str, Any]] = []
    kept: list[int] = []
    outside = audit.copies_of(unlabelled.fingerprints, reference)
    inside = audit.copies_of(unlabelled.fingerprints)
    for number, image in enumerate(unlabelled.images):
        link, within = outside[number], inside[number]
        if link is not None:
            role = roles[link.second]
            dropped.append(
                {
                    "file": str(image.path),
                    "copy_of": names[link.second],
                    "role": role,
                    "kind": link.kind,
                    "distance": link.distance,
                    "leak": bool(leaking(role)),
                }
            )
        elif within is not None:
            dropped.append(
                {
                    "file": str(image.path),
                    "copy_of": str(unlabelled.images[within.second].path),
                    "role": "unlabelled",
                    "kind": within.kind,
                    "distance": within.distance,
                    "leak": False,
                }
            )
        else:
            kept.append(number)
    return unlabelled.take(kept), dropped


def teacher_probabilities(
    keras_model, frames: np.ndarray, temperature: float, flip: bool
) -> np.ndarray:
    """The teacher's calibrated probabilities on clean frames (and their mirror images)."""
    from tinyxray import train

    probs = train.softmax(train.logits_and_probs(keras_model, frames)[0], temperature)
    if flip:
        mirrored = np.ascontiguousarray(frames[:, :, ::-1])
        mirrored_logits = train.logits_and_probs(keras_model, mirrored)[0]
        probs = 0.5 * (probs + train.softmax(mirrored_logits, temperature))
    return probs


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which unlabelled images get a pseudo-label, and how the classes fared."""

    kept: np.ndarray  # indices into the unlabelled images, ascending
    labels: np.ndarray  # the pseudo-label (argmax) of each kept image
    confident: np.ndarray  # per class: images at or above the threshold
    cap: np.ndarray  # per class: most kept
    threshold: float

    @property
    def kept_per_class(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.cap))


def class_caps(labelled_labels: np.ndarray, confident_total: int, classes: int) -> np.ndarray:
    """Per class, ceil(labelled share x confident images): pseudo-labels keep the labelled
    class balance (a class with no labelled image gets none)."""
    counts = np.bincount(np.asarray(labelled_labels, np.int64), minlength=classes)
    if counts.sum() == 0:
        raise ValueError("no labelled image to take the class balance from")
    share = counts / counts.sum()
    # The small epsilon keeps ceil(1/3 * 30) at 10 despite rounding.
    return np.ceil(share * confident_total - 1e-9).astype(np.int64)


def select_pseudo_labels(
    probs: np.ndarray, threshold: float, labelled_labels: np.ndarray
) -> Selection:
    """Keep the images the teacher is at least `threshold` sure of, capped per class.

    Within a class the most confident are kept first (ties: the earlier image).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"ssl_threshold must be in [0, 1], got {threshold}")
    probs = np.asarray(probs, np.float64)
    classes = probs.shape[1]
    confidence = probs.max(1) if len(probs) else np.zeros(0)
    predicted = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
    confident_mask = confidence >= threshold
    confident = np.bincount(predicted[confident_mask], minlength=classes)
    cap = class_caps(labelled_labels, int(confident_mask.sum()), classes)
    kept: list[int] = []
    for cls in range(classes):
        candidates = np.flatnonzero(confident_mask & (predicted == cls))
        order = candidates[np.lexsort((candidates, -confidence[candidates]))]
        kept += order[: cap[cls]].tolist()
    chosen = np.array(sorted(kept), np.int64)
    return Selection(chosen, predicted[chosen].astype(np.int64), confident, cap, threshold)


@dataclasses.dataclass
class TrainingSet:
    """What a model trains on: frames, hard labels (for balance), sources, soft targets and
    a loss scale per image (1 for labelled images, ssl_weight for pseudo-labelled ones)."""

    frames: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    targets: np.ndarray
    scale: np.ndarray

    @classmethod
    def labelled(cls, frames: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> TrainingSet:
        return cls(
            frames,
            labels,
            sources,
            np.eye(len(LABELS), dtype=np.float32)[labels],
            np.ones(len(labels), np.float32),
        )

    def __add__(self, other: TrainingSet) -> TrainingSet:
        return TrainingSet(
            *(
                np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in dataclasses.fields(self)
            )
        )


def student_set(
    labelled: TrainingSet,
    unlabelled: UnlabelledSet,
    probs: np.ndarray,
    selection: Selection,
    weight: float,
) -> TrainingSet:
    """Labelled images plus the kept pseudo-labelled ones (targets: teacher probabilities)."""
    if weight < 0:
        raise ValueError(f"ssl_weight must be >= 0, got {weight}")
    kept = selection.kept
    pseudo = TrainingSet(
        unlabelled.frames[kept],
        selection.labels,
        np.array([unlabelled.images[i].source for i in kept], dtype=object),
        probs[kept].astype(np.float32),
        np.full(len(kept), weight, np.float32),
    )
    return labelled + pseudo


def cached_probabilities(
    path: Path, unlabelled: UnlabelledSet, resume: bool, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """The teacher's probabilities, saved beside the run so --resume skips the teacher."""
    files = np.array([str(image.path) for image in unlabelled.images])
    if resume and path.is_file():
        with np.load(path) as stored:
            if np.array_equal(stored["files"], files):
                return stored["probs"]
    probs = compute()
    frame_cache.atomic_write(path, lambda handle: np.savez(handle, files=files, probs=probs))
    return probs


def record(
    unlabelled: UnlabelledSet,
    probs: np.ndarray,
    selection: Selection,
    dropped: list[dict[str, Any]],
    weight: float,
) -> dict[str, Any]:
    """What the run's summary says about the unlabelled images (JSON-able)."""
    hidden = unlabelled.hidden_labels()
    kept_hidden = hidden[selection.kept]
    known = kept_hidden >= 0
    entry: dict[str, Any] = {
        "method": "self-training, confidence-thresholded pseudo-labels",
        "threshold": selection.threshold,
        "weight": weight,
        "unlabelled_images": len(unlabelled.images) + len(dropped),
        "skipped": [[str(path), reason] for path, reason in unlabelled.skipped],
        "dropped_copies": dropped,
        "dropped_leaking": sum(1 for row in dropped if row["leak"]),
        "candidates": len(unlabelled.images),
        "confident_per_class": dict(zip(LABELS, selection.confident.tolist(), strict=True)),
        "cap_per_class": dict(zip(LABELS, selection.cap.tolist(), strict=True)),
        "kept_per_class": dict(zip(LABELS, selection.kept_per_class.tolist(), strict=True)),
        "kept": len(selection.kept),
        "mean_kept_confidence": float(probs[selection.kept].max(1).mean())
        if len(selection.kept)
        else None,
    }
    if known.any():
        # Label-hiding experiments: how often the kept pseudo-labels are right, and how the
        # teacher does on every hidden image (what thresholding buys).
        right = selection.labels[known] == kept_hidden[known]
        entry["pseudo_label_precision"] = metrics.accuracy_with_interval(right)
        entry["pseudo_label_precision_by_class"] = {
            name: metrics.accuracy_with_interval(right[selection.labels[known] == cls])
            for cls, name in enumerate(LABELS)
            if np.any(selection.labels[known] == cls)
        }
        every = hidden >= 0
        entry["teacher_accuracy_on_hidden"] = metrics.accuracy_with_interval(
            probs[every].argmax(1) == hidden[every]
        )
    return entry


def markdown_lines(entry: dict[str, Any], title: str = "Unlabelled images") -> list[str]:
    """The report's paragraph on the unlabelled images (from `record`)."""
    kept = ", ".join(f"{name} {count}" for name, count in entry["kept_per_class"].items())
    confident = ", ".join(f"{n} {c}" for n, c in entry["confident_per_class"].items())
    lines = [
        f"- {title}: {entry['unlabelled_images']} ({len(entry['skipped'])} unusable files"
        f" skipped); {len(entry['dropped_copies'])} dropped as copies of labelled or other"
        f" unlabelled images, {entry['dropped_leaking']} of them copies of held-out images"
        f" (leakage); {entry['candidates']} predicted by the teacher.",
        f"- Pseudo-labels (top probability >= {entry['threshold']}, weight {entry['weight']}):"
        f" confident {confident}; kept {entry['kept']} ({kept}).",
    ]
    if "pseudo_label_precision" in entry:
        lines.append(
            f"- Pseudo-label precision against the hidden labels:"
            f" {metrics.accuracy_text(entry['pseudo_label_precision'])}; teacher accuracy on"
            f" every hidden image {metrics.accuracy_text(entry['teacher_accuracy_on_hidden'])}."
        )
    leaking = [row for row in entry["dropped_copies"] if row["leak"]]
    lines += [
        f"  - dropped (leakage): {row['file']}: {row['kind']} copy of {row['role']} image"
        f" {row['copy_of']}"
        for row in leaking
    ]
    return lines


def write_csv(
    path: Path, unlabelled: UnlabelledSet, probs: np.ndarray, selection: Selection
) -> None:
    """file, source, teacher probabilities, pseudo-label, kept; plus the hidden label."""
    kept = set(selection.kept.tolist())
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        probabilities = [f"p_{name}" for name in LABELS]
        writer.writerow(["file", "source", *probabilities, "pseudo_label", "kept", "hidden_label"])
        for number, image in enumerate(unlabelled.images):
            writer.writerow(
                [
                    str(image.path),
                    image.source,
                    *(f"{p:.6f}" for p in probs[number]),
                    LABELS[int(np.argmax(probs[number]))],
                    int(number in kept),
                    image.hidden_label or "",
                ]
            )
