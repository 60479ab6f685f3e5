"""Cross-validation folds over the training + validation pool (the test split is never in one).

Two constructions, both of whole components (duplicate groups and patients,
`tinyxray.audit`), so no fold is scored on a copy or a patient it trained on:

- `group_kfold`: K folds stratified by source and class (`audit.group_folds`): the
  in-source estimate, every source seen in training;
- `leave_one_source_out`: one fold per source that holds a class some other source holds
  (`sources.shared_classes`); it trains on every other source and scores that source alone:
  the estimate for "a hospital we have never seen".

`make_folds(prepared, ...)` builds either from `train.PreparedData`. Anything that needs the
same folds (cross-validation here; label-hiding experiments that take part of a fold's
training patients as unlabelled) should take them from here: `hide_labels` divides a fold's
training side into labelled and hidden components and leaves its scored images alone.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from tinyxray import audit, sources


@dataclasses.dataclass(frozen=True)
class Fold:
    """One cross-validation fold: record indices to train on and to score."""

    number: int
    name: str  # "fold 1 of 3", or the held-out source
    trained: np.ndarray
    scored: np.ndarray
    held_out_source: str | None = None


def pool_indices(index: dict[str, np.ndarray]) -> np.ndarray:
    """The training + validation images of a split (never the test split)."""
    return np.sort(np.concatenate([index["train"], index["validation"]]))


def group_kfold(
    records: Sequence, components: Sequence[Sequence[int]], pool: np.ndarray, folds: int, seed: int
) -> list[Fold]:
    """K folds of whole components, stratified by source and class, even in size."""
    fold_of = np.array(audit.group_folds(records, components, pool, folds, seed), np.int64)
    return [
        Fold(
            number=number,
            name=f"fold {number + 1} of {folds}",
            trained=np.flatnonzero((fold_of >= 0) & (fold_of != number)),
            scored=np.flatnonzero(fold_of == number),
        )
        for number in range(folds)
    ]


def leave_one_source_out(
    records: Sequence, components: Sequence[Sequence[int]], pool: np.ndarray
) -> list[Fold]:
    """One fold per testable source: train on the other sources' pool, score this one's.

    A training image whose component reaches into the held-out source (a copy or patient
    shared across sources) is left out of that fold's training. Raises ValueError when no
    source can be held out (a single source, or sources with no class in common).
    """
    pool = np.asarray(pool, np.int64)
    in_pool = [records[i] for i in pool]
    testable = {name: classes for name, classes in sources.shared_classes(in_pool).items()}
    names = [name for name, classes in testable.items() if classes]
    if not names:
        raise ValueError(
            "leave-one-source-out needs at least two sources that share a class; "
            f"the pool has {sorted(testable) or 'none'}"
        )
    component_of = np.zeros(len(records), np.int64)
    for number, members in enumerate(components):
        component_of[list(members)] = number
    source_of = np.array([records[i].source for i in range(len(records))], dtype=object)
    built = []
    for number, name in enumerate(names):
        scored = pool[source_of[pool] == name]
        touching = set(component_of[scored].tolist())
        others = pool[source_of[pool] != name]
        trained = np.array([i for i in others if component_of[i] not in touching], np.int64)
        if len(trained) == 0:
            raise ValueError(
                f"holding out {name} leaves nothing to train on: every other image is a "
                "copy or a patient of one of its images"
            )
        built.append(Fold(number, name, trained, scored, held_out_source=name))
    return built


def make_folds(prepared, by_source: bool, folds: int, seed: int) -> list[Fold]:
    """The folds of a `train.PreparedData` (K-fold, or leave-one-source-out)."""
    pool = pool_indices(prepared.index)
    if by_source:
        return leave_one_source_out(prepared.records, prepared.components, pool)
    return group_kfold(prepared.records, prepared.components, pool, folds, seed)


def fold_numbers(folds: Sequence[Fold], count: int) -> np.ndarray:
    """The fold scoring each record (-1: scored by none)."""
    numbers = np.full(count, -1, np.int64)
    for fold in folds:
        numbers[fold.scored] = fold.number
    return numbers


def hide_labels(
    records: Sequence, components: Sequence[Sequence[int]], fold: Fold, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, hidden) record indices of a fold's training side, by whole component.

    Each (source, majority label) stratum of the training components keeps the labels of
    round(fraction x its components), at least one, drawn by its own generator (seed, fold,
    stratum); the rest are hidden. A patient or duplicate group is never on both sides, and
    `fold.scored` is not touched. Deterministic for a seed; fraction 1 hides nothing.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the label fraction must be in (0, 1], got {fraction}")
    trained = set(fold.trained.tolist())
    strata: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for members in components:
        inside = sorted(m for m in members if m in trained)
        if inside:
            key = (records[inside[0]].source, audit.majority_label(records, inside))
            strata[key].append(inside)
    labelled: list[int] = []
    for (source, label), groups in sorted(strata.items()):
        rng = np.random.default_rng([seed, fold.number, zlib.crc32(f"{source}/{label}".encode())])
        ordered = sorted(groups, key=lambda members: str(records[members[0]].path))
        keep = max(1, int(np.floor(fraction * len(ordered) + 0.5)))
        for position in rng.permutation(len(ordered))[:keep]:
            labelled += ordered[position]
    labelled_array = np.array(sorted(labelled), np.int64)
    return labelled_array, np.setdiff1d(fold.trained, labelled_array).astype(np.int64)
