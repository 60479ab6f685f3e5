"""Class and within-class source balance: per-image weights, or a sampling multiset.

Every class gets the same total weight (N / C, N images, C classes present). Inside a class,
source s gets a share of that weight proportional to n_cs ** (1 - beta), where n_cs is its
image count and beta is the preset's `source_balance`:

- beta 0: shares proportional to size, i.e. plain class balance (every image of a class
  weighs the same; a large source dominates its class);
- beta 1: every source of a class weighs the same, however few images it has (the case-report
  pneumonia source's 27 images then weigh as much as the adult NIH source's ~190);
- in between, a tempered compromise.

Two ways to use the weights (the preset's `balance`):

- "weights": each image is seen once per epoch and its loss is multiplied by its weight;
- "sampling": the loss is unweighted and each epoch draws N images with probabilities
  proportional to the weights (`sampling_multiset`), so a small source's images recur, each
  time with fresh augmentation, instead of arriving once with a large weight. With
  beta near 1 and a source 7x smaller than its class's largest, weights make that source's
  gradient steps 7x larger and noisier; sampling keeps steps even.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BALANCES = ("weights", "sampling")


def balance_weights(
    labels: np.ndarray, sources: Sequence[str] | None, classes: int, source_balance: float = 0.0
) -> np.ndarray:
    """Per-image weights (mean 1) balancing the classes and, within each, the sources."""
    if not 0.0 <= source_balance <= 1.0:
        raise ValueError(f"source_balance must be in [0, 1], got {source_balance}")
    labels = np.asarray(labels, np.int64)
    if sources is None:
        sources = [""] * len(labels)
    source_array = np.asarray(list(sources), dtype=object)
    if len(source_array) != len(labels):
        raise ValueError(f"{len(source_array)} sources for {len(labels)} labels")
    weights = np.zeros(len(labels), np.float64)
    present = [cls for cls in range(classes) if np.any(labels == cls)]
    for cls in present:
        in_class = labels == cls
        names, counts = np.unique(source_array[in_class], return_counts=True)
        shares = counts.astype(np.float64) ** (1.0 - source_balance)
        shares /= shares.sum()
        class_total = len(labels) / len(present)
        for name, count, share in zip(names, counts, shares, strict=True):
            weights[in_class & (source_array == name)] = class_total * share / count
    return weights.astype(np.float32)


def sampling_multiset(weights: np.ndarray, resolution: int = 8) -> np.ndarray:
    """Image indices repeated in proportion to their weights, for shuffle-and-take sampling.

    Index i appears round(resolution * w_i / min w) times (at least once), so drawing N
    entries at random without replacement from the multiset (a shuffle each epoch, then the
    first N) picks image i with probability proportional to w_i, within 1 / (2 resolution)
    of the ratio. Deterministic; the randomness is in the per-epoch shuffle.
    """
    weights = np.asarray(weights, np.float64)
    if len(weights) == 0 or np.any(weights <= 0):
        raise ValueError("sampling needs positive weights for every image")
    copies = np.maximum(1, np.rint(resolution * weights / weights.min())).astype(np.int64)
    return np.repeat(np.arange(len(weights)), copies)


def describe(labels: np.ndarray, sources: Sequence[str], weights: np.ndarray, names) -> list[dict]:
    """Rows of (class, source, images, weight per image, share of the class) for reports."""
    labels = np.asarray(labels)
    source_array = np.asarray(list(sources), dtype=object)
    rows = []
    for cls, name in enumerate(names):
        in_class = labels == cls
        total = float(weights[in_class].sum())
        for source in sorted(set(source_array[in_class])):
            mask = in_class & (source_array == source)
            rows.append(
                {
                    "class": name,
                    "source": source,
                    "images": int(mask.sum()),
                    "weight_per_image": float(weights[mask][0]),
                    "share_of_class": float(weights[mask].sum() / total) if total else 0.0,
                }
            )
    return rows
