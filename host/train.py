"""Train a preset on one or more dataset roots, then convert to int8 and package the model.

    python -m tinyxray.train --preset recommended \\
        --data ../shared/datasets/covid19-image-dataset ../shared/datasets/nih-cxr8-adult-subset \\
        --out runs/recommended

The run folder receives: config.json (preset, seed, data, command line), split.csv (every
image with its leak-free split), history.csv, checkpoints (resumable with --resume),
model_float.keras, model_int8.tflite + model_card.json, train_summary.json and, with
--evaluate (default), the evaluation report. Deterministic for a given seed (op determinism
on; one CPU thread pool is still subject to scheduling only in wall time, not in results).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import data, model, preprocess
from tinyxray.paths import display_path

SPLIT_FILE = "split.csv"
RUN_CONFIG = "config.json"


def set_determinism(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def scan(roots: list[str], study_labels: bool = False) -> data.DatasetScan:
    """Any number of roots, each image keeping its source; label corrections unless
    `study_labels` (the labels as published)."""
    scan_result = data.scan_datasets(roots, corrections=not study_labels)
    if not scan_result.records:
        unusable = scan_result.skipped
        example = f" (first {unusable[0][0]}: {unusable[0][1]})" if unusable else ""
        raise data.DatasetError(
            f"no usable image under {', '.join(map(str, roots))}: "
            f"{len(unusable)} file(s) skipped{example}"
        )
    return scan_result


def preprocess_config(preset: model.Preset) -> preprocess.PreprocessConfig:
    """The preprocessing a preset trains with (its intensity normalisation, step 3b)."""
    return preprocess.PreprocessConfig(intensity=preset.intensity)


def split_fractions(validation_fraction: float, test_fraction: float) -> tuple[float, float, float]:
    """(train, validation, test): test held out first, validation a fraction of the rest."""
    if not 0 <= test_fraction < 1 or not 0 < validation_fraction < 1:
        raise ValueError("fractions must be in [0, 1)")
    rest = 1.0 - test_fraction
    return (rest * (1 - validation_fraction), rest * validation_fraction, test_fraction)


def split_key(path: str | Path, source: str) -> tuple[str, ...]:
    """Key matching an image to a split.csv row wherever the dataset root lives.

    The source name plus the last three path components (split/class/file or
    root/class/file) identify an image independently of the working directory.
    """
    return (source, *Path(path).parts[-3:])


def read_split_csv(path: Path) -> dict[tuple[str, ...], str]:
    """Map of split_key -> split from a run's split.csv (tinyxray.audit's format)."""
    import csv

    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not ({"file", "source", "split"} <= rows[0].keys()):
        raise ValueError(f"{path}: expected columns file, source and split")
    return {split_key(row["file"], row["source"]): row["split"] for row in rows}


def class_weights(labels: np.ndarray, classes: int) -> dict[int, float]:
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    counts[counts == 0] = 1.0
    return {cls: float(len(labels) / (classes * counts[cls])) for cls in range(classes)}


def balancing_weights(
    preset: model.Preset, labels: np.ndarray, sources: np.ndarray | None = None
) -> np.ndarray | None:
    """Per-image weights balancing the classes and, within each, the sources by
    `preset.source_balance` (tinyxray.balance); None when the preset does not balance."""
    from tinyxray import balance

    if not preset.class_balance:
        return None
    return balance.balance_weights(labels, sources, len(model.LABELS), preset.source_balance)


def training_weights(
    preset: model.Preset,
    labels: np.ndarray,
    sources: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> np.ndarray | None:
    """The balance weights times a per-image loss scale (pseudo-labelled images'
    `ssl_weight`, tinyxray.semi_supervised); None when neither applies."""
    weights = balancing_weights(preset, labels, sources)
    if scale is None:
        return weights
    base = np.ones(len(labels), np.float32) if weights is None else weights
    return (base * np.asarray(scale, np.float32)).astype(np.float32)


def augmenter(seed: int, flip: bool = False):
    """Mild geometric and photometric augmentation, applied to training batches only."""
    import keras

    layers = [
        keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 3),
        keras.layers.RandomBrightness(0.1, value_range=(0, 255), seed=seed + 4),
    ]
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 5))
    return keras.Sequential(layers, name="augment")


def mixup_batch(images, targets, weights, alpha: float, seed: int):
    """Mix each example with its mirror in the (shuffled) batch: mixup (Zhang et al. 2018).

    The mixing weight is drawn from Beta(alpha, alpha) and folded to >= 0.5, so every
    mixed example is dominated by its own image; one-hot targets and the class-balance
    sample weights are mixed with the same weight.
    """
    import tensorflow as tf

    count = tf.shape(images)[0]
    a = tf.random.gamma([count], alpha, seed=seed)
    b = tf.random.gamma([count], alpha, seed=seed + 1)
    lam = a / (a + b + 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    lam_images = tf.reshape(lam, [-1, 1, 1, 1])
    images = lam_images * images + (1.0 - lam_images) * tf.reverse(images, [0])
    lam_targets = tf.reshape(lam, [-1, 1])
    targets = lam_targets * targets + (1.0 - lam_targets) * tf.reverse(targets, [0])
    weights = lam * weights + (1.0 - lam) * tf.reverse(weights, [0])
    return images, targets, weights


def load_teacher(run_dirs: list[str]):
    """One Keras model averaging the calibrated probabilities of trained runs (distillation).

    Each run contributes softmax(logits / T) with its own validation temperature T, so
    the soft targets are calibrated rather than over-confident.
    """
    import keras

    from tinyxray import model_card

    inputs = keras.Input((None, None, 1))
    outputs = []
    for number, run in enumerate(run_dirs):
        member = keras.models.load_model(Path(run) / "model_float.keras", compile=False)
        temperature = model_card.load(Path(run)).temperature
        logits = keras.Model(member.input, member.get_layer("logits").output, name=f"t{number}")
        outputs.append(keras.layers.Softmax()(logits(inputs) / temperature))
    mean = outputs[0] if len(outputs) == 1 else keras.layers.Average()(outputs)
    teacher = keras.Model(inputs, mean, name="teacher")
    teacher.trainable = False
    return teacher


def make_dataset(
    frames: np.ndarray,
    labels: np.ndarray,
    preset: model.Preset,
    seed: int,
    train: bool,
    weights: np.ndarray | None = None,
    teacher=None,
    targets: np.ndarray | None = None,
):
    """(image, target, sample weight) batches; augmentation, mixup and distillation in training.

    Targets are one-hot, or the given (N, C) soft `targets` (pseudo-labels); with a teacher,
    each training target becomes (1 - distill) * label + distill * teacher(the augmented,
    mixed image). With the preset's
    balance "sampling", the training weights become sampling probabilities instead: each
    epoch draws len(frames) images from `balance.sampling_multiset` with unit loss weights.
    """
    import tensorflow as tf

    from tinyxray import augment as photometric

    if targets is None:
        targets = np.eye(len(model.LABELS), dtype=np.float32)[labels]
    targets = np.asarray(targets, np.float32)
    if weights is None:
        weights = np.ones(len(frames), np.float32)
    if train and preset.balance == "sampling":
        from tinyxray import balance

        drawn = balance.sampling_multiset(weights)
        frames_t, targets_t = tf.constant(frames.astype(np.float32)), tf.constant(targets)
        dataset = (
            tf.data.Dataset.from_tensor_slices(drawn)
            .shuffle(len(drawn), seed=seed, reshuffle_each_iteration=True)
            .take(len(frames))
            .map(lambda i: (tf.gather(frames_t, i), tf.gather(targets_t, i), tf.ones([])))
        )
    else:
        if preset.balance not in ("weights", "sampling"):
            raise ValueError(f"unknown balance {preset.balance!r}")
        dataset = tf.data.Dataset.from_tensor_slices(
            (frames.astype(np.float32), targets, weights.astype(np.float32))
        )
        if train:
            dataset = dataset.shuffle(len(frames), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(preset.batch_size)
    if train and preset.augment:
        layers = augmenter(seed, flip=preset.flip)
        strong = (
            photometric.strong_photometric(seed + 20) if preset.photometric == "strong" else None
        )
        if preset.photometric not in photometric.PHOTOMETRIC:
            raise ValueError(f"unknown photometric {preset.photometric!r}")

        def augment(images, targets, weights):
            images = tf.clip_by_value(layers(images, training=True), 0.0, 255.0)
            images = tf.round(images) if strong is None else strong(images)
            return images, targets, weights

        dataset = dataset.map(augment)
    if train and preset.mixup > 0:
        dataset = dataset.map(
            lambda images, targets, weights: mixup_batch(
                images, targets, weights, preset.mixup, seed + 10
            )
        )
    if train and teacher is not None and preset.distill > 0:
        share = preset.distill

        def distill(images, targets, weights):
            soft = teacher(images, training=False)
            return images, (1.0 - share) * targets + share * soft, weights

        dataset = dataset.map(distill)
    return dataset.prefetch(2)


def make_optimizer(preset: model.Preset, steps_per_epoch: int):
    import keras

    rate: Any = preset.learning_rate
    if preset.lr_schedule == "cosine":
        warmup = preset.warmup_epochs * steps_per_epoch
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=preset.learning_rate * 0.1 if warmup else preset.learning_rate,
            decay_steps=max(1, preset.epochs * steps_per_epoch - warmup),
            alpha=0.01,
            warmup_target=preset.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif preset.lr_schedule != "constant":
        raise ValueError(f"unknown lr_schedule {preset.lr_schedule!r}")
    # With use_ema, fit() ends by swapping the averaged weights into the model.
    ema = {"use_ema": True, "ema_momentum": preset.ema} if preset.ema > 0 else {}
    if preset.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=preset.weight_decay, **ema)
    return keras.optimizers.Adam(learning_rate=rate, **ema)


def backup_callback(backup_dir: Path):
    """Keras' BackupAndRestore, but each file is written beside and renamed into place.

    A run killed while Keras writes its backup would otherwise leave a truncated weights or
    metadata file that makes `--resume` fail; a rename is atomic, so the backup is always a
    whole epoch (the weights are renamed before the epoch counter, so at worst one epoch is
    trained again).
    """
    import keras

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        def _save_model(self) -> None:
            os.makedirs(self.backup_dir, exist_ok=True)
            partial_weights = self._weights_path.replace(".weights.h5", ".partial.weights.h5")
            self.model.save_weights(filepath=partial_weights, overwrite=True)
            os.replace(partial_weights, self._weights_path)
            partial_metadata = self._training_metadata_path + ".partial"
            with open(partial_metadata, "w") as handle:
                json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, handle)
            os.replace(partial_metadata, self._training_metadata_path)

    return AtomicBackupAndRestore(str(backup_dir))


def logits_and_probs(keras_model, frames: np.ndarray, batch_size: int = 64):
    """Float logits (N,C) and penultimate features (N,F) of a Keras model."""
    extractor = model.feature_model(keras_model)
    features, logits = extractor.predict(
        frames.astype(np.float32), batch_size=batch_size, verbose=0
    )
    return np.asarray(logits, np.float64), np.asarray(features, np.float64)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def _nll_acc(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    probs = softmax(logits)
    return {
        "accuracy": float(np.mean(probs.argmax(1) == labels)),
        "nll": float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1)))),
    }


def fit_model(
    preset: model.Preset,
    shape: tuple[int, int, int],
    training: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    out: Path,
    stage: str,
    args: argparse.Namespace,
    teacher=None,
    sources: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    scale: np.ndarray | None = None,
):
    """Build and fit a fresh model; returns (model, fit seconds). `stage` prefixes its files.

    `sources` (one name per training image) lets the preset balance sources within a class;
    `targets` (soft, N x C) and `scale` (per-image loss factor) carry pseudo-labels.
    """
    import keras

    set_determinism(args.seed)
    x_train, y_train = training
    keras_model = model.build_model(preset, input_shape=shape)
    steps = int(np.ceil(len(x_train) / preset.batch_size))
    keras_model.compile(
        optimizer=make_optimizer(preset, steps),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing),
        metrics=["accuracy"],
    )
    backup = out / "checkpoints" / f"{stage}backup"
    if not args.resume and backup.exists():
        shutil.rmtree(backup)
    # The history row follows the backup at once (the slow whole-model checkpoint comes
    # last), so a run killed at any moment resumes with every finished epoch logged once.
    callbacks = [
        backup_callback(backup),
        keras.callbacks.CSVLogger(str(out / f"{stage}history.csv"), append=args.resume),
        keras.callbacks.ModelCheckpoint(str(out / "checkpoints" / f"{stage}last.keras")),
    ]
    sample_weights = training_weights(preset, y_train, sources, scale)
    started = time.time()
    keras_model.fit(
        make_dataset(
            x_train,
            y_train,
            preset,
            args.seed,
            train=True,
            weights=sample_weights,
            teacher=teacher,
            targets=targets,
        ),
        validation_data=(
            make_dataset(*validation, preset, args.seed, train=False) if validation else None
        ),
        epochs=preset.epochs,
        callbacks=callbacks,
        verbose=0 if args.quiet else 2,
        shuffle=False,  # make_dataset shuffles; Keras cannot shuffle a tf.data.Dataset
    )
    return keras_model, time.time() - started


def quantisation_aware_finetune(
    keras_model,
    preset: model.Preset,
    training: tuple[np.ndarray, np.ndarray],
    out: Path,
    stage: str,
    args: argparse.Namespace,
    teacher=None,
    sources: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    scale: np.ndarray | None = None,
):
    """Fold BatchNorm, fine-tune through the int8 simulation; returns the folded float model.

    Uses the training recipe's augmentation, mixup, class balance and teacher, at a constant
    small learning rate (preset.qat_learning_rate) for preset.qat_epochs epochs. Activation
    ranges are calibrated on the training frames, as the int8 conversion's are.
    """
    import keras

    from tinyxray import convert, qat

    set_determinism(args.seed)
    folded = qat.fold_batchnorm(keras_model)
    twin = qat.quantisation_twin(folded)
    twin.compile(
        optimizer=keras.optimizers.Adam(learning_rate=preset.qat_learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing),
        metrics=["accuracy"],
    )
    x_train, y_train = training
    sample_weights = training_weights(preset, y_train, sources, scale)
    twin.fit(
        make_dataset(
            x_train,
            y_train,
            preset,
            args.seed,
            train=True,
            weights=sample_weights,
            teacher=teacher,
            targets=targets,
        ),
        epochs=preset.qat_epochs,
        callbacks=[
            qat.Recalibrate(folded, convert.representative_frames(x_train)),
            keras.callbacks.CSVLogger(str(out / f"{stage}qat_history.csv")),
        ],
        verbose=0 if args.quiet else 2,
        shuffle=False,  # make_dataset shuffles; Keras cannot shuffle a tf.data.Dataset
    )
    qat.export_weights(twin, folded)
    return folded


def choose_uncertain_threshold(
    keras_model, x_val: np.ndarray, y_val: np.ndarray, temperature: float, target: float
) -> dict[str, Any]:
    """The uncertain threshold for `target` answered accuracy, chosen on validation.

    Uses the validated model's calibrated probabilities (the temperature fitted on the same
    frames); the refit model keeps the threshold, as it keeps the temperature.
    """
    from tinyxray import selective

    probs = softmax(logits_and_probs(keras_model, x_val)[0], temperature)
    result = selective.choose_threshold(probs.max(1), probs.argmax(1) == y_val, target)
    result["chosen_on"] = (
        f"validation ({len(y_val)} images, float model, temperature {temperature:.3f})"
    )
    return result


def balance_rows(preset: model.Preset, labels: np.ndarray, sources: np.ndarray) -> dict:
    """The class and source balance the training used, for the run's record."""
    from tinyxray import balance

    weights = balancing_weights(preset, labels, sources)
    if weights is None:
        return {"kind": "none"}
    return {
        "kind": preset.balance,
        "source_balance": preset.source_balance,
        "rows": balance.describe(labels, sources, weights, model.LABELS),
    }


def settle_batchnorm(keras_model, preset: model.Preset, x_train, x_val, y_val):
    """Choose the BatchNorm statistics on validation and fit the temperature there.

    Returns (bn record, temperature); the model is left with the statistics kept.
    """
    from tinyxray import convert

    # BatchNorm statistics: measure validation before/after re-estimation.
    val_logits, _ = logits_and_probs(keras_model, x_val)
    bn = {"before_reestimate": _nll_acc(val_logits, y_val)}
    bn["momentum"] = preset.bn_momentum
    if preset.reestimate_bn:
        # Precise BN: recompute the moving statistics over the (un-augmented) training set,
        # and keep them only if they lower the validation NLL (measured, both recorded).
        saved_weights = keras_model.get_weights()
        bn["batches"] = model.reestimate_batchnorm(keras_model, x_train, preset.batch_size)
        new_logits, _ = logits_and_probs(keras_model, x_val)
        bn["after_reestimate"] = _nll_acc(new_logits, y_val)
        # Compare after temperature scaling (applied to whichever is kept anyway).
        for key, logits in (("before_reestimate", val_logits), ("after_reestimate", new_logits)):
            scaled = logits / convert.fit_temperature(logits, y_val)
            bn[key]["nll_after_temperature"] = _nll_acc(scaled, y_val)["nll"]
        if (
            bn["after_reestimate"]["nll_after_temperature"]
            <= bn["before_reestimate"]["nll_after_temperature"]
        ):
            bn["kept"] = "reestimated"
            val_logits = new_logits
        else:
            bn["kept"] = "moving_average"
            keras_model.set_weights(saved_weights)
    # Temperature on validation (NLL); the int8 model carries it as SOFTMAX beta = 1/T.
    return bn, convert.fit_temperature(val_logits, y_val)


@dataclasses.dataclass
class PreparedData:
    """Usable images, their frames and labels, and the leak-free split (indices per split)."""

    records: list[data.ImageRecord]
    frames: np.ndarray  # (n, size, size, 1) uint8
    labels: np.ndarray  # (n,) index into model.LABELS
    index: dict[str, np.ndarray]  # "train"/"validation"/"test" -> record indices
    components: list[list[int]]  # duplicate and patient groups (record indices)
    failed: list[tuple[Path, str]]
    audit_summary: dict[str, Any]
    corrections_line: str = ""  # what the reports say about label corrections
    fingerprints: Any = None  # audit.Fingerprints of the records (unlabelled copy tests)

    @property
    def sources(self) -> np.ndarray:
        """The source of every record (object array), for balance and per-source figures."""
        return np.array([record.source for record in self.records], dtype=object)


def prepare_data(
    args: argparse.Namespace, preset: model.Preset, config: preprocess.PreprocessConfig, out: Path
) -> PreparedData:
    """Scan, decode + preprocess once (cached), audit duplicates, split leak-free.

    Writes audit.json, audit.md and split.csv into `out`. Shared by training and
    cross-validation, so both see exactly the same images and split for a seed.
    """
    from tinyxray import audit, frame_cache

    scan_result = scan(args.data, getattr(args, "study_labels", False))
    records = scan_result.records
    if args.limit:
        rng = np.random.default_rng(args.seed)
        chosen = rng.choice(len(records), size=min(args.limit, len(records)), replace=False)
        records = [records[i] for i in np.sort(chosen)]
    cache = frame_cache.FrameCache(size=config.size)
    audit_result = audit.audit_records(records, cache, progress=not args.quiet)
    records = audit_result.records
    frame_set = frame_cache.load_frames(records, config, cache)
    if frame_set.records != records:
        raise RuntimeError("frame cache and audit disagree on the usable images")
    labels = np.array([model.LABELS.index(record.label) for record in records], dtype=np.int64)
    fractions = split_fractions(preset.validation_fraction, args.test_fraction)
    split_result = audit.leak_free_split(records, audit_result.components, args.seed, fractions)
    audit_report = audit.report_dict(audit_result, split_result, scan_result)
    (out / "audit.json").write_text(json.dumps(audit_report, indent=2) + "\n")
    (out / "audit.md").write_text(audit.report_markdown(audit_report))
    audit.write_split_csv(out / SPLIT_FILE, audit_result, split_result)
    split_array = np.array(split_result.split)
    index = {name: np.flatnonzero(split_array == name) for name in ("train", "validation", "test")}
    if len(index["train"]) == 0 or len(index["validation"]) == 0:
        raise SystemExit("the split left no training or validation images")
    return PreparedData(
        records=list(records),
        frames=frame_set.frames[..., None],
        labels=labels,
        index=index,
        components=[list(members) for members in audit_result.components],
        failed=[*scan_result.skipped, *audit_result.skipped],
        audit_summary=audit_report["summary"],
        corrections_line=scan_result.corrections_line(),
        fingerprints=audit_result.fingerprints(),
    )


def self_training_set(
    args: argparse.Namespace,
    preset: model.Preset,
    shape: tuple[int, int, int],
    out: Path,
    prepared: PreparedData,
    labelled,
    validation: tuple[np.ndarray, np.ndarray],
    unlabelled,
    teacher=None,
):
    """The student's training set: labelled images plus pseudo-labelled `unlabelled` images
    (a semi_supervised.UnlabelledSet, from the --unlabelled folders).

    The teacher is fitted on the labelled training images with the preset (files
    teacher_*), its temperature fitted on validation; unlabelled copies of any labelled
    image are dropped first (copies of validation or test images would leak). Returns
    (semi_supervised.TrainingSet, the record for train_summary.json).
    """
    from tinyxray import semi_supervised as ssl

    roles = np.full(len(prepared.records), "excluded", dtype=object)
    for name, members in prepared.index.items():
        roles[members] = name
    unlabelled, dropped = ssl.drop_copies(
        unlabelled,
        prepared.fingerprints,
        [str(record.path) for record in prepared.records],
        list(roles),
        leaking=lambda role: role != "train",
    )

    def teacher_probabilities() -> np.ndarray:
        teacher_model, _ = fit_model(
            preset,
            shape,
            (labelled.frames, labelled.labels),
            validation,
            out,
            "teacher_",
            args,
            teacher,
            labelled.sources,
        )
        _, temperature = settle_batchnorm(teacher_model, preset, labelled.frames, *validation)
        return ssl.teacher_probabilities(teacher_model, unlabelled.frames, temperature, preset.flip)

    probs = ssl.cached_probabilities(
        out / "checkpoints" / ssl.PSEUDO_FILE, unlabelled, args.resume, teacher_probabilities
    )
    selection = ssl.select_pseudo_labels(probs, preset.ssl_threshold, labelled.labels)
    ssl.write_csv(out / "pseudo_labels.csv", unlabelled, probs, selection)
    record = ssl.record(unlabelled, probs, selection, dropped, preset.ssl_weight)
    record["folders"] = [display_path(folder) for folder in args.unlabelled]
    return ssl.student_set(labelled, unlabelled, probs, selection, preset.ssl_weight), record


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole training pipeline; returns the summary written to train_summary.json."""

    from tinyxray import convert, frame_cache, tflm_oracle

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    set_determinism(args.seed)
    preset = resolve_preset(args)
    config = preprocess_config(preset)
    command = "python -m tinyxray.train " + " ".join(shlex.quote(a) for a in args.argv)
    run_config = {
        "command": command,
        "preset": preset.to_dict(),
        "seed": args.seed,
        "data": [display_path(root) for root in args.data],
        "preprocess": config.__dict__ if not hasattr(config, "to_dict") else config.to_dict(),
        "test_fraction": args.test_fraction,
        "limit": args.limit,
        "unlabelled": [display_path(folder) for folder in args.unlabelled],
        "versions": _versions(),
    }
    (out / RUN_CONFIG).write_text(json.dumps(run_config, indent=2, default=str) + "\n")

    unlabelled = None
    if args.unlabelled:
        from tinyxray import semi_supervised

        # Before the labelled data, so a folder without images fails at once.
        unlabelled = semi_supervised.load_unlabelled(args.unlabelled, config)
    prepared = prepare_data(args, preset, config, out)
    records, frames, labels, index = (
        prepared.records,
        prepared.frames,
        prepared.labels,
        prepared.index,
    )
    failed, audit_summary = prepared.failed, prepared.audit_summary
    x_train, y_train = frames[index["train"]], labels[index["train"]]
    x_val, y_val = frames[index["validation"]], labels[index["validation"]]
    s_train, s_val = prepared.sources[index["train"]], prepared.sources[index["validation"]]

    # Model and fit (resumable: BackupAndRestore keeps the epoch and optimizer state).
    shape = (config.size, config.size, 1)
    teacher = load_teacher(args.teacher) if args.teacher else None
    if (teacher is None) != (preset.distill == 0):
        raise SystemExit("distillation needs both --teacher RUN ... and --set distill=W (W > 0)")
    # Self-training (--unlabelled): the model below is the student, trained on the labelled
    # images plus the teacher's kept pseudo-labels (soft targets, scaled loss weights).
    targets_train = scale_train = None
    unlabelled_record = None
    if unlabelled is not None:
        from tinyxray import semi_supervised

        student, unlabelled_record = self_training_set(
            args,
            preset,
            shape,
            out,
            prepared,
            semi_supervised.TrainingSet.labelled(x_train, y_train, s_train),
            (x_val, y_val),
            unlabelled,
            teacher,
        )
        x_train, y_train, s_train = student.frames, student.labels, student.sources
        targets_train, scale_train = student.targets, student.scale
    stage_file = out / "checkpoints" / "validated_stage.json"
    if args.refit and args.resume and stage_file.exists():
        # The validated stage finished before the run was stopped: only its record is
        # needed (the refit trains a fresh model), so go straight to the refit.
        stage = json.loads(stage_file.read_text())
        fit_seconds, bn, temperature = stage["fit_seconds"], stage["bn"], stage["temperature"]
        uncertain = stage["selective"]
    else:
        keras_model, fit_seconds = fit_model(
            preset,
            shape,
            (x_train, y_train),
            (x_val, y_val),
            out,
            "",
            args,
            teacher,
            s_train,
            targets_train,
            scale_train,
        )
        bn, temperature = settle_batchnorm(keras_model, preset, x_train, x_val, y_val)
        if preset.qat_epochs:
            keras_model = quantisation_aware_finetune(
                keras_model,
                preset,
                (x_train, y_train),
                out,
                "",
                args,
                teacher,
                s_train,
                targets_train,
                scale_train,
            )
            # BatchNorm is folded now; the validation record and temperature follow the
            # fine-tuned model (kept in the BatchNorm record, which the refit reuses).
            val_logits, _ = logits_and_probs(keras_model, x_val)
            bn["after_qat"] = _nll_acc(val_logits, y_val)
            temperature = convert.fit_temperature(val_logits, y_val)
        uncertain = choose_uncertain_threshold(
            keras_model, x_val, y_val, temperature, args.selective_target
        )
        if args.refit:
            stage = {
                "fit_seconds": fit_seconds,
                "bn": bn,
                "temperature": temperature,
                "selective": uncertain,
            }
            record = json.dumps(stage, indent=2).encode()
            frame_cache.atomic_write(stage_file, lambda handle: handle.write(record))
    refit: dict[str, Any] | None = None
    representative = x_train
    if args.refit:
        # The recipe was measured above on validation; the shipped model is trained again,
        # from scratch, on training + validation images with the same preset, epochs and
        # seed, and keeps the validated stage's temperature and BatchNorm choice.
        x_all = np.concatenate([x_train, x_val])
        y_all = np.concatenate([y_train, y_val])
        s_all = np.concatenate([s_train, s_val])
        targets_all = scale_all = None
        if targets_train is not None and scale_train is not None:
            targets_all = np.concatenate(
                [targets_train, np.eye(len(model.LABELS), dtype=np.float32)[y_val]]
            )
            scale_all = np.concatenate([scale_train, np.ones(len(y_val), np.float32)])
        keras_model, refit_seconds = fit_model(
            preset,
            shape,
            (x_all, y_all),
            None,
            out,
            "refit_",
            args,
            teacher,
            s_all,
            targets_all,
            scale_all,
        )
        if bn.get("kept") == "reestimated":
            model.reestimate_batchnorm(keras_model, x_all, preset.batch_size)
        if preset.qat_epochs:
            keras_model = quantisation_aware_finetune(
                keras_model,
                preset,
                (x_all, y_all),
                out,
                "refit_",
                args,
                teacher,
                s_all,
                targets_all,
                scale_all,
            )
        refit = {"images": len(x_all), "fit_seconds": refit_seconds}
        representative = x_all
    save_float(keras_model, out / "model_float.keras")

    # int8 conversion with SOFTMAX beta = 1/T (T fitted on validation).
    flatbuffer = convert.convert_int8(
        keras_model, representative, strict_input=preset.architecture == "mobilenetv2"
    )
    plain = flatbuffer
    flatbuffer = convert.set_softmax_beta(flatbuffer, 1.0 / temperature)
    beta_check = check_beta(plain, flatbuffer, x_val[:16], temperature)
    metrics: dict[str, Any] = {
        "bn": bn,
        "beta_check": beta_check,
        "selective": uncertain,
        "label_corrections": prepared.corrections_line,
    }
    if refit:
        metrics["refit"] = refit
    card_path = convert.write_model_dir(
        out,
        flatbuffer,
        name=args.name or f"tinyxray-{preset.name}",
        version=args.version,
        command=command,
        temperature=temperature,
        labels=list(model.LABELS),
        preprocess=run_config["preprocess"],
        architecture=preset.to_dict(),
        metrics=metrics,
        uncertain_threshold=uncertain["threshold"],
    )

    # Float vs int8 agreement on frames the shipped model was not trained on.
    oracle = tflm_oracle.Int8Model(out / "model_int8.tflite")
    held_out = ["test"] if refit else ["validation", "test"]
    check_index = np.concatenate([index[name] for name in held_out])
    int8_pred = np.array([oracle.invoke_u8(frames[i]).argmax() for i in check_index])
    float_pred = softmax(logits_and_probs(keras_model, frames[check_index])[0]).argmax(1)
    from tinyxray import metrics as metrics_module

    summary = {
        "command": command,
        "preset": preset.name,
        "images": len(records),
        "failed": [[str(path), reason] for path, reason in failed],
        "split_counts": {name: len(value) for name, value in index.items()},
        "audit": audit_summary,
        "fit_seconds": fit_seconds,
        "refit": refit,
        "temperature": temperature,
        "bn": bn,
        "beta_check": beta_check,
        "float_int8_agreement": metrics_module.agreement(float_pred, int8_pred),
        "tflm_arena_bytes": json.loads(card_path.read_text())["tflm_arena_bytes"],
        "selective": uncertain,
        "label_corrections": prepared.corrections_line,
        "balance": balance_rows(preset, y_train, s_train),
        "unlabelled": unlabelled_record,
    }
    summary["wall_seconds"] = time.time() - started
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "training.md").write_text(training_markdown(summary, preset))
    return summary


def training_markdown(summary: dict[str, Any], preset: model.Preset) -> str:
    """A human-readable account of the run (every figure from train_summary.json)."""
    from tinyxray import model_card

    bn = summary["bn"]
    agreement = summary["float_int8_agreement"]
    lines = [
        f"# Training run: {summary['preset']}",
        "",
        f"> **{model_card.DISCLAIMER}**",
        "",
        f"Command: `{summary['command']}`",
        "",
        f"- Wall time (scan, audit, fit, BN, conversion, arena bisection): "
        f"{summary['wall_seconds']:.0f} s; fit alone {summary['fit_seconds']:.0f} s "
        f"({preset.epochs} epochs, batch {preset.batch_size}) on this machine.",
        f"- Images: {summary['images']} ({len(summary['failed'])} unusable);"
        f" leak-free split {summary['split_counts']}.",
        f"- Preset: `{json.dumps(preset.to_dict())}`",
        f"- BatchNorm momentum {bn.get('momentum')}; validation before re-estimation: "
        f"accuracy {bn['before_reestimate']['accuracy']:.3f},"
        f" NLL {bn['before_reestimate']['nll']:.3f}",
    ]
    if "after_reestimate" in bn:
        lines.append(
            f"- After re-estimating BN statistics on the training set ({bn['batches']} batches):"
            f" accuracy {bn['after_reestimate']['accuracy']:.3f},"
            f" NLL {bn['after_reestimate']['nll']:.3f}"
            " (after temperature scaling: before"
            f" {bn['before_reestimate']['nll_after_temperature']:.3f},"
            f" after {bn['after_reestimate']['nll_after_temperature']:.3f}); kept: {bn['kept']}."
        )
    refit = summary.get("refit")
    if refit:
        lines.append(
            f"- Refit: the figures above measure the recipe on validation; the shipped model was"
            f" then trained from scratch on training + validation ({refit['images']} images,"
            f" fit {refit['fit_seconds']:.0f} s) with the same preset, and keeps this"
            " temperature and BatchNorm choice."
        )
    held_out = "test" if refit else "validation+test"
    lines += [
        f"- Temperature (validation NLL): {summary['temperature']:.4f}; SOFTMAX beta = 1/T;"
        f" oracle check max |softmax(beta*logits) - int8 output| ="
        f" {summary['beta_check']['max_abs_diff']:.4f}"
        f" over {summary['beta_check']['frames']} frames.",
        f"- Float vs int8 (TFLM oracle) top-1 agreement on {held_out}:"
        f" {agreement['agreement']:.4f} ({agreement['agree']}/{agreement['n']},"
        f" 95% CI {agreement['ci95'][0]:.3f}-{agreement['ci95'][1]:.3f}).",
        f"- TFLM arena (bisection): {summary['tflm_arena_bytes']} bytes.",
    ]
    uncertain = summary.get("selective")
    if uncertain:
        from tinyxray import selective

        verdict = "met" if uncertain["met"] else "NOT met; the most accurate threshold kept"
        lines.append(
            f"- Uncertain threshold for {100 * uncertain['target']:.0f}% accuracy on answered"
            f" frames ({verdict}), chosen on {uncertain['chosen_on']}:"
            f" {selective.describe(uncertain)}."
        )
    if summary.get("label_corrections"):
        lines.append(f"- {summary['label_corrections']}")
    if summary.get("unlabelled"):
        from tinyxray import semi_supervised

        entry = summary["unlabelled"]
        lines.append(
            f"- Self-training on unlabelled images ({', '.join(entry['folders'])}): the model is"
            " the student, trained from scratch on the labelled training images plus the"
            " teacher's kept pseudo-labels (pseudo_labels.csv)."
        )
        lines += semi_supervised.markdown_lines(entry)
    balance_record = summary.get("balance", {})
    if balance_record.get("rows"):
        lines += [
            "",
            f"Class and source balance ({balance_record['kind']}, source_balance"
            f" {balance_record['source_balance']}):",
            "",
            "| class | source | training images | weight per image | share of the class |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {row['class']} | {row['source']} | {row['images']} |"
            f" {row['weight_per_image']:.3f} | {100 * row['share_of_class']:.1f}% |"
            for row in balance_record["rows"]
        ]
    lines.append("")
    return "\n".join(lines)


def save_float(keras_model, path: Path) -> None:
    """Save the float model without optimizer state (an uncompiled copy; a third the size)."""
    import keras

    copy = keras.Model.from_config(keras_model.get_config())
    copy.set_weights(keras_model.get_weights())
    copy.save(path)


def check_beta(plain: bytes, patched: bytes, frames: np.ndarray, temperature: float) -> dict:
    """Check on the TFLM oracle that the patched model outputs softmax(logits / T).

    Also records how much the calibration softened the average top probability.
    """
    from tinyxray import tflm_oracle

    quantised = np.stack([(frame.astype(np.int16) - 128).astype(np.int8) for frame in frames])
    result = tflm_oracle.softmax_beta_check(patched, quantised)
    before = tflm_oracle.Int8Model(plain)
    after = tflm_oracle.Int8Model(patched)
    result["temperature"] = temperature
    result["mean_top_probability_before"] = float(
        np.mean([before.probabilities(before.invoke(frame)).max() for frame in quantised])
    )
    result["mean_top_probability_after"] = float(
        np.mean([after.probabilities(after.invoke(frame)).max() for frame in quantised])
    )
    return result


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": sys.version.split()[0]}
    for name in ("tensorflow-cpu", "keras", "numpy", "tflite-micro"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "?"
    return versions


def parse_override(item: str) -> tuple[str, Any]:
    """One --set KEY=VALUE, typed by the Preset field; ValueError naming the problem."""
    fields = {field.name for field in dataclasses.fields(model.Preset)} - {"name"}
    key, sep, value = item.partition("=")
    if not sep or key not in fields:
        raise ValueError(
            f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}"
        )
    default = getattr(model.PRESETS["case1"], key)
    try:
        if key in ("stem_filters", "max_blocks"):
            return key, None if value.lower() == "none" else int(value)
        if isinstance(default, bool):
            if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError
            return key, value.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return key, int(value)
        if isinstance(default, float):
            return key, float(value)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else type(default).__name__
        raise ValueError(f"{item!r}: {key} takes {kind}, not {value!r}") from None
    return key, value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """--set key=value pairs typed by the Preset field (e.g. bn_momentum=0.99 augment=false)."""
    return dict(parse_override(item) for item in items)


def preset_override(text: str) -> str:
    """argparse type= for --set: checks KEY=VALUE at parse time (resolve_preset types it)."""
    try:
        parse_override(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def resolve_preset(args: argparse.Namespace) -> model.Preset:
    """The preset named by --preset with its --set and --epochs overrides applied."""
    overrides = parse_overrides(args.set)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    preset = model.get_preset(args.preset, **overrides)
    if not 0.0 <= preset.ssl_threshold <= 1.0:
        raise ValueError(f"ssl_threshold must be in [0, 1], not {preset.ssl_threshold}")
    if preset.ssl_weight < 0:
        raise ValueError(f"ssl_weight must be >= 0, not {preset.ssl_weight}")
    return preset


def build_parser(prog: str = "python -m tinyxray.train") -> argparse.ArgumentParser:
    from tinyxray import arguments

    parser = argparse.ArgumentParser(
        prog=prog, description="Train, convert and package a tinyxray model."
    )
    parser.add_argument("--preset", default="recommended", choices=sorted(model.PRESETS))
    parser.add_argument(
        "--data", nargs="+", required=True, type=arguments.existing_dir, help="dataset root(s)"
    )
    parser.add_argument("--out", required=True, help="run folder (runs/<name>/)")
    parser.add_argument(
        "--epochs", type=arguments.positive_int, default=None, help="override the preset's epochs"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=preset_override,
        metavar="KEY=VALUE",
        help="override a preset field",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--teacher",
        nargs="+",
        default=[],
        metavar="RUN",
        type=arguments.existing_dir,
        help="distil from these trained run folders (their averaged calibrated outputs)",
    )
    parser.add_argument(
        "--unlabelled",
        nargs="+",
        default=[],
        metavar="DIR",
        type=arguments.existing_dir,
        help="folders of unlabelled images to self-train on (pseudo-labels; docs/training.md)",
    )
    parser.add_argument("--test-fraction", type=arguments.fraction_below_one, default=0.2)
    parser.add_argument(
        "--limit",
        type=arguments.non_negative_int,
        default=0,
        help="use only N random images (smoke)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from checkpoints")
    parser.add_argument(
        "--force", action="store_true", help="replace the training run already in --out"
    )
    parser.add_argument(
        "--refit",
        action="store_true",
        help="after validating the recipe, train the shipped model on training + validation",
    )
    parser.add_argument(
        "--selective-target",
        type=float,
        default=0.90,
        metavar="ACCURACY",
        help="accuracy on answered frames the uncertain threshold is chosen for, on "
        "validation (default 0.90)",
    )
    parser.add_argument(
        "--study-labels",
        action="store_true",
        help="do not apply the datasets' label-correction files (the labels as published)",
    )
    parser.add_argument("--name", default=None, help="model name in the card")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--no-evaluate", dest="evaluate", action="store_false")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    return parser


def prepare_out(out: Path, resume: bool, force: bool, kind: str = "training") -> Path:
    """Checks --out before any work: a run already there needs --resume or --force.

    --force removes the old run (so no old report/ stays beside a new model); a folder
    holding other files is refused either way. The folder must be writable.
    """
    from tinyxray import user_errors

    holds_run = (out / RUN_CONFIG).is_file()
    if holds_run and not resume:
        if not force:
            raise user_errors.UserError(
                f"--out {out} already holds a {kind} run: continue it with --resume, "
                "replace it with --force, or choose another --out"
            )
        shutil.rmtree(out)
    elif out.is_dir() and not holds_run and any(out.iterdir()):
        raise user_errors.UserError(
            f"--out {out} is not empty and holds no {kind} run; choose a new or empty folder"
        )
    return user_errors.check_writable_folder(out)


def resume_command(prog: str, argv: list[str]) -> str:
    """The command line that continues this run: the same arguments with --resume."""
    kept = [argument for argument in argv if argument != "--force"]
    if "--resume" not in kept:
        kept.append("--resume")
    return " ".join([prog, *(shlex.quote(argument) for argument in kept)])


def interrupted_message(out: Path, prog: str, argv: list[str]) -> str:
    """One line for Ctrl-C: where the last checkpoint is and how to resume."""
    checkpoints = out / "checkpoints"
    epochs = {
        stage: len((out / f"{stage}history.csv").read_text().splitlines()) - 1
        for stage in ("teacher_", "", "refit_")
        if (out / f"{stage}history.csv").is_file()
    }
    if not checkpoints.is_dir() or not any(count > 0 for count in epochs.values()):
        return (
            f"interrupted before the first epoch finished; nothing to resume yet "
            f"(start again with: {resume_command(prog, argv)})"
        )
    # The latest stage that finished an epoch (a self-training run starts with its teacher).
    prefixes = {"refit": "refit_", "training": "", "teacher": "teacher_"}
    stage = next(name for name, prefix in prefixes.items() if epochs.get(prefix, 0) > 0)
    done = epochs[prefixes[stage]]
    return (
        f"interrupted: the last checkpoint ({stage}, epoch {done}) is in {checkpoints}; "
        f"resume with: {resume_command(prog, argv)}"
    )


def main(argv: list[str] | None = None, prog: str = "python -m tinyxray.train") -> int:
    from tinyxray import tf_logging, user_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.argv = argv
    tf_logging.quiet_environment(args.verbose)
    with user_errors.reporting_user_errors(parser.prog):
        try:
            resolve_preset(args)
        except ValueError as error:
            raise user_errors.UserError(str(error)) from None
        prepare_out(Path(args.out), args.resume, args.force)
        tf_logging.import_tensorflow(args.verbose)
        try:
            summary = train(args)
        except KeyboardInterrupt:
            print("\n" + interrupted_message(Path(args.out), parser.prog, argv), file=sys.stderr)
            return user_errors.EXIT_INTERRUPTED
    print(
        f"trained {summary['preset']}: {summary['images']} images,"
        f" fit {summary['fit_seconds']:.0f}s,"
        f" T={summary['temperature']:.3f}, arena {summary['tflm_arena_bytes']} B,"
        f" float/int8 agreement {summary['float_int8_agreement']['agreement']:.3f}"
    )
    if args.evaluate:
        from tinyxray import evaluate

        evaluate.main(
            [
                "--model",
                str(Path(args.out) / "model_int8.tflite"),
                "--float-model",
                str(Path(args.out) / "model_float.keras"),
                "--data",
                *args.data,
                "--split-file",
                str(Path(args.out) / SPLIT_FILE),
                "--out",
                str(Path(args.out) / "report"),
                "--update-card",
                *(["--verbose"] if args.verbose else []),
            ]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
