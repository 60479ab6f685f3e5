"""Cross-validate a training recipe over the training + validation patients.

    python -m tinyxray.crossval --preset lean --folds 3 \\
        --data ../shared/datasets/covid19-image-dataset ../shared/datasets/nih-cxr8-adult-subset \\
        --out runs/cv_lean --set mixup=0.2

    python -m tinyxray.crossval --by-source --preset lean --data ROOT [ROOT ...] \
        --out runs/loso_lean --in-source runs/cv_lean

    python -m tinyxray.crossval --compare runs/cv_lean runs/cv_lean_mixup

Why: one validation split of ~120 images cannot tell recipes apart (one image is ~0.8
points). Every training + validation image is scored once here, by a model that never saw
its duplicate group or patient, so recipes are compared on ~600 paired predictions.

Folds (`tinyxray.folds`): K folds of whole patients and duplicate groups stratified by
source and class, or with --by-source one fold per source (leave-one-source-out): train on
every other source, score that source alone, the honest internal estimate of a hospital
never seen. --in-source RUN (a K-fold run on the same data and seed) adds each source's
gap to its in-source figure. Distillation needs per-fold teachers (--teacher-cv RUN ...:
runs with the same folds; fold K's teacher is their fold-K models), since a teacher
trained on the whole training split has seen every fold.

The leak-free test split (the same one `tinyxray.train` makes for the same seed) is never
read, so choosing a recipe here keeps the test set for the final report. Per fold the
model is trained from scratch with the recipe (BatchNorm moving averages as trained), then
converted to int8 (calibrated on its own training folds) and run on the TFLM oracle. The
temperature is fitted on the scored fold itself: the NLL after it is slightly optimistic
and is for ranking recipes only; accuracy does not depend on it.

Label hiding (issue 15): --label-fraction F keeps the labels of a fraction F of each fold's
training patients and duplicate groups (`folds.hide_labels`, stratified by source and class)
and trains on those alone; with --unlabelled-hidden the hidden images are handed to the
self-training method (`tinyxray.semi_supervised`) as unlabelled, and --unlabelled DIR adds
folders of unlabelled images. The scored images are those of a plain run with the same data,
seed and folds, so --compare pairs the arms (docs/training.md).

Each fold is saved as it finishes (fold_K/predictions.npz); --resume skips finished folds
and resumes an interrupted one from its checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import breakdown, folds, frame_cache, metrics, model, selective
from tinyxray import train as train_cli  # its CLI helpers; it loads no TensorFlow on import
from tinyxray.metrics import accuracy_text
from tinyxray.paths import display_path

PREDICTIONS_FILE = "predictions.csv"
LABEL_HIDING_FILE = "label_hiding.json"
# The coverage the selective-prediction goal is stated at (answered frames >= 90 % right).
GOAL_COVERAGE = 0.8


def trained_fold_model(base: Path, number: int, scored: np.ndarray):
    """The model fold `number` of another cross-validation run ended with (same folds).

    Lets a post-training step (e.g. quantisation-aware fine-tuning) be cross-validated on
    the very models it would start from: a paired comparison, without retraining.
    """
    import keras

    saved = base / f"fold_{number}" / "predictions.npz"
    checkpoint = base / f"fold_{number}" / "checkpoints" / "last.keras"
    if not saved.exists() or not checkpoint.exists():
        raise SystemExit(f"{base}: fold {number} is not finished (no predictions or checkpoint)")
    if not np.array_equal(np.load(saved)["indices"], scored):
        raise SystemExit(f"{base}: fold {number} scored other images (data, seed or folds differ)")
    keras_model = keras.models.load_model(checkpoint)
    # The checkpoint is the last epoch's; with weight EMA, fit() ended by swapping the
    # averages in, so do the same.
    keras_model.optimizer.finalize_variable_values(keras_model.trainable_variables)
    return keras_model


def fold_teacher(runs: list[Path], number: int, scored: np.ndarray):
    """The average of other runs' fold-`number` models: a teacher that never saw the fold.

    Each member contributes softmax(logits) at temperature 1: the runs' fold temperatures
    were fitted on the scored fold itself, so using them would leak its labels.
    """
    import keras

    inputs = keras.Input((None, None, 1))
    outputs = []
    for member_number, run in enumerate(runs):
        member = trained_fold_model(run, number, scored)
        logits = keras.Model(
            member.inputs, member.get_layer("logits").output, name=f"t{member_number}"
        )
        outputs.append(keras.layers.Softmax()(logits(inputs)))
    mean = outputs[0] if len(outputs) == 1 else keras.layers.Average()(outputs)
    teacher = keras.Model(inputs, mean, name="fold_teacher")
    teacher.trainable = False
    return teacher


def hidden_set(prepared, hidden: np.ndarray):
    """A fold's hidden training images as unlabelled images (true labels kept aside)."""
    from tinyxray import semi_supervised

    return semi_supervised.UnlabelledSet(
        [
            semi_supervised.UnlabelledImage(record.path, record.source, record.label)
            for record in (prepared.records[int(i)] for i in hidden)
        ],
        prepared.frames[hidden],
        prepared.fingerprints.subset(hidden),
    )


def fold_self_training_set(
    args, preset, prepared, fold: folds.Fold, labelled_indices, hidden, external, fold_dir, teacher
):
    """The student's training set of a fold: its labelled images plus pseudo-labels for the
    hidden images (--unlabelled-hidden) and the --unlabelled folders.

    The teacher is the fold's supervised model on the labelled images (or --base's fold
    model); its probabilities are taken at temperature 1, since the fold has no validation
    images and the scored fold's labels must not choose anything. Unlabelled copies of a
    labelled image are dropped; copies of a scored image are reported as leakage.
    """
    from tinyxray import semi_supervised, train

    frames, labels = prepared.frames, prepared.labels
    labelled = semi_supervised.TrainingSet.labelled(
        frames[labelled_indices], labels[labelled_indices], prepared.sources[labelled_indices]
    )
    pool = semi_supervised.empty_set(frames.shape[1])
    if args.unlabelled_hidden:
        pool = hidden_set(prepared, hidden)
    if external is not None:
        pool = pool + external
    roles = np.full(len(prepared.records), "outside this fold", dtype=object)
    roles[labelled_indices] = "labelled training"
    roles[hidden] = "hidden training"
    roles[fold.scored] = "scored fold"
    # The hidden images are the candidates themselves; the rest is the reference.
    reference = np.setdiff1d(
        np.arange(len(prepared.records)), hidden if args.unlabelled_hidden else []
    )
    unlabelled, dropped = semi_supervised.drop_copies(
        pool,
        prepared.fingerprints.subset(reference),
        [str(prepared.records[int(i)].path) for i in reference],
        list(roles[reference]),
        leaking=lambda role: role == "scored fold",
    )

    def teacher_probabilities() -> np.ndarray:
        if not unlabelled.images:
            return np.zeros((0, len(model.LABELS)))
        if args.base:
            teacher_model = trained_fold_model(Path(args.base), fold.number, fold.scored)
        else:
            teacher_model, _ = train.fit_model(
                preset,
                frames.shape[1:],
                (labelled.frames, labelled.labels),
                (frames[fold.scored], labels[fold.scored]),
                fold_dir,
                "teacher_",
                args,
                teacher,
                labelled.sources,
            )
        return semi_supervised.teacher_probabilities(
            teacher_model, unlabelled.frames, 1.0, preset.flip
        )

    probs = semi_supervised.cached_probabilities(
        fold_dir / "checkpoints" / semi_supervised.PSEUDO_FILE,
        unlabelled,
        args.resume,
        teacher_probabilities,
    )
    selection = semi_supervised.select_pseudo_labels(probs, preset.ssl_threshold, labelled.labels)
    semi_supervised.write_csv(fold_dir / "pseudo_labels.csv", unlabelled, probs, selection)
    entry = semi_supervised.record(unlabelled, probs, selection, dropped, preset.ssl_weight)
    student = semi_supervised.student_set(labelled, unlabelled, probs, selection, preset.ssl_weight)
    return student, entry


def self_training(args) -> bool:
    return bool(args.unlabelled_hidden or args.unlabelled)


def run_fold(args, preset, prepared, fold: folds.Fold, out: Path, external=None) -> dict:
    """Train on `fold.trained` (its labelled part, plus pseudo-labels when self-training),
    score `fold.scored` in float and int8; saved to disk."""
    from tinyxray import convert, semi_supervised, tflm_oracle, train

    fold_dir = out / f"fold_{fold.number}"
    saved = fold_dir / "predictions.npz"
    hiding_file = fold_dir / LABEL_HIDING_FILE
    if args.resume and saved.exists():
        result = dict(np.load(saved))
        if hiding_file.is_file():
            result["label_hiding"] = json.loads(hiding_file.read_text())
        return result
    fold_dir.mkdir(parents=True, exist_ok=True)
    frames, labels = prepared.frames, prepared.labels
    scored, trained = fold.scored, fold.trained
    hidden = np.zeros(0, np.int64)
    if args.label_fraction is not None:
        trained, hidden = folds.hide_labels(
            prepared.records, prepared.components, fold, args.label_fraction, args.seed
        )
    teacher = None
    if args.teacher_cv:
        teacher = fold_teacher([Path(run) for run in args.teacher_cv], fold.number, scored)
    training = semi_supervised.TrainingSet.labelled(
        frames[trained], labels[trained], prepared.sources[trained]
    )
    targets = scale = None
    hiding: dict[str, Any] = {
        "fold": fold.number,
        "label_fraction": args.label_fraction,
        "labelled": len(trained),
        "hidden": len(hidden),
        "labelled_per_class": class_counts(labels[trained]),
        "hidden_per_class": class_counts(labels[hidden]),
    }
    if self_training(args):
        training, hiding["unlabelled"] = fold_self_training_set(
            args, preset, prepared, fold, trained, hidden, external, fold_dir, teacher
        )
        targets, scale = training.targets, training.scale
    if args.base and not self_training(args):
        keras_model, fit_seconds = trained_fold_model(Path(args.base), fold.number, scored), 0.0
    else:
        keras_model, fit_seconds = train.fit_model(
            preset,
            frames.shape[1:],
            (training.frames, training.labels),
            (frames[scored], labels[scored]),
            fold_dir,
            "",
            args,
            teacher,
            training.sources,
            targets,
            scale,
        )
    if preset.qat_epochs:
        keras_model = train.quantisation_aware_finetune(
            keras_model,
            preset,
            (training.frames, training.labels),
            fold_dir,
            "",
            args,
            teacher,
            training.sources,
            targets,
            scale,
        )
    logits, _ = train.logits_and_probs(keras_model, frames[scored])
    temperature = convert.fit_temperature(logits, labels[scored])
    flatbuffer = convert.convert_int8(
        keras_model, training.frames, strict_input=preset.architecture == "mobilenetv2"
    )
    flatbuffer = convert.set_softmax_beta(flatbuffer, 1.0 / temperature)
    oracle = tflm_oracle.Int8Model(flatbuffer)
    int8_probs = np.array([oracle.probabilities(oracle.invoke_u8(frames[i])) for i in scored])
    result: dict[str, Any] = {
        "indices": scored,
        "float_probs": train.softmax(logits, temperature),
        "int8_probs": int8_probs,
        "temperature": np.array(temperature),
        "fit_seconds": np.array(fit_seconds),
    }

    def write(handle) -> None:
        np.savez(handle, **result)

    record = json.dumps(hiding, indent=2).encode()
    frame_cache.atomic_write(hiding_file, lambda handle: handle.write(record))
    frame_cache.atomic_write(saved, write)
    result["label_hiding"] = hiding
    return result


def class_counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(model.LABELS))
    return dict(zip(model.LABELS, counts.tolist(), strict=True))


def label_hiding_summary(args, results: list[dict]) -> dict[str, Any] | None:
    """The arm, per-fold labelled / hidden counts and pseudo-labels, pooled precision."""
    if args.label_fraction is None and not self_training(args):
        return None
    per_fold = [result["label_hiding"] for result in results]
    summary: dict[str, Any] = {
        "label_fraction": args.label_fraction,
        "arm": "semi-supervised" if self_training(args) else "supervised-only",
        "unlabelled_hidden": bool(args.unlabelled_hidden),
        "unlabelled_folders": [display_path(folder) for folder in args.unlabelled],
        "folds": per_fold,
    }
    precision = [
        entry["unlabelled"]["pseudo_label_precision"]
        for entry in per_fold
        if "pseudo_label_precision" in entry.get("unlabelled", {})
    ]
    if precision:
        right = sum(entry["correct"] for entry in precision)
        total = sum(entry["n"] for entry in precision)
        summary["pseudo_label_precision"] = metrics.accuracy_with_interval(np.arange(total) < right)
    return summary


def label_hiding_markdown(summary: dict[str, Any]) -> list[str]:
    fraction = summary["label_fraction"]
    lines = [
        "",
        f"## Label hiding: {summary['arm']}"
        + (f", labels kept for {fraction:g} of each fold's training groups" if fraction else ""),
        "",
        "| fold | labelled | hidden | unlabelled candidates | dropped copies (leaking) "
        "| pseudo-labels kept | pseudo-label precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in summary["folds"]:
        unlabelled = entry.get("unlabelled")
        if unlabelled:
            kept = ", ".join(f"{n} {c}" for n, c in unlabelled["kept_per_class"].items())
            precision = unlabelled.get("pseudo_label_precision")
            cells = (
                f"{unlabelled['candidates']} | {len(unlabelled['dropped_copies'])}"
                f" ({unlabelled['dropped_leaking']}) | {unlabelled['kept']} ({kept}) | "
                + (accuracy_text(precision) if precision else "—")
            )
        else:
            cells = "— | — | — | —"
        lines.append(f"| {entry['fold'] + 1} | {entry['labelled']} | {entry['hidden']} | {cells} |")
    if "pseudo_label_precision" in summary:
        lines += [
            "",
            "Pseudo-label precision over all folds (against the hidden labels): "
            + accuracy_text(summary["pseudo_label_precision"])
            + ".",
        ]
    for entry in summary["folds"]:
        for row in entry.get("unlabelled", {}).get("dropped_copies", []):
            if row["leak"]:
                lines.append(
                    f"- fold {entry['fold'] + 1}: dropped {row['file']}, {row['kind']} copy of"
                    f" the scored image {row['copy_of']} (leakage)"
                )
    return lines


def summarise(rows: list[dict[str, Any]], detail: bool = False) -> dict[str, Any]:
    """Pooled figures over every scored image (rows as in predictions.csv).

    With `detail`: per-class recall and macro-F1 with intervals, overall and per source
    (`tinyxray.breakdown`), and the int8 risk-coverage curve (`tinyxray.selective`).
    """
    labels = np.array([model.LABELS.index(row["label"]) for row in rows])
    float_probs = np.array([[float(row[f"float_{name}"]) for name in model.LABELS] for row in rows])
    float_pred = float_probs.argmax(1)
    int8_pred = np.array([model.LABELS.index(row["int8_prediction"]) for row in rows])

    source_names = sorted({row["source"] for row in rows})
    fold_numbers = sorted({int(row["fold"]) for row in rows})
    source_of = np.array([row["source"] for row in rows])
    fold_of = np.array([int(row["fold"]) for row in rows])
    int8_right = int8_pred == labels
    accuracy = metrics.accuracy_with_interval
    summary = {
        "images": len(rows),
        "float": accuracy(float_pred == labels),
        "int8": accuracy(int8_right),
        "int8_by_source": {s: accuracy(int8_right[source_of == s]) for s in source_names},
        "int8_by_fold": {str(f): accuracy(int8_right[fold_of == f]) for f in fold_numbers},
        "float_nll_after_fold_temperature": metrics.negative_log_likelihood(labels, float_probs),
        "float_int8_agreement": metrics.agreement(float_pred, int8_pred),
    }
    if detail:
        int8_probs = np.array(
            [[float(row[f"int8_{name}"]) for name in model.LABELS] for row in rows]
        )
        confidence = int8_probs.max(1)
        curve = selective.risk_coverage(confidence, int8_right)
        summary["int8_figures"] = breakdown.figures(labels, int8_pred, model.LABELS)
        summary["int8_figures_by_source"] = breakdown.by_source(
            labels, int8_pred, source_of, model.LABELS
        )
        summary["int8_selective"] = {
            "aurc": curve["aurc"],
            f"at_coverage_{GOAL_COVERAGE:.2f}": selective.accuracy_at_coverage(
                confidence, int8_right, GOAL_COVERAGE
            ),
        }
    return summary


def in_source_gaps(rows: list[dict[str, Any]], in_source: Path) -> dict[str, Any]:
    """Per source: leave-one-source-out accuracy minus the in-source (K-fold) accuracy of
    another run on the same images, with a paired bootstrap interval."""
    reference = {row["path"]: row for row in read_rows(in_source)}
    missing = [row["path"] for row in rows if row["path"] not in reference]
    if missing:
        raise SystemExit(f"{in_source} did not score {len(missing)} of these images (other data?)")
    gaps = {}
    for source in sorted({row["source"] for row in rows}):
        mine = [row for row in rows if row["source"] == source]
        held_out = np.array([row["int8_prediction"] == row["label"] for row in mine])
        seen = np.array([reference[row["path"]]["int8_prediction"] == row["label"] for row in mine])
        gaps[source] = {
            "held_out": metrics.accuracy_with_interval(held_out),
            "in_source": metrics.accuracy_with_interval(seen),
            "gap": breakdown.paired_difference(held_out, seen),
        }
    return {"run": str(in_source), "by_source": gaps}


def prediction_rows(
    prepared, fold_list: list[folds.Fold], results: list[dict]
) -> list[dict[str, Any]]:
    rows = []
    for fold, result in zip(fold_list, results, strict=True):
        for position, index in enumerate(result["indices"]):
            record = prepared.records[int(index)]
            float_probs = result["float_probs"][position]
            int8_probs = result["int8_probs"][position]
            row = {
                "path": str(record.path),
                "source": record.source,
                "label": record.label,
                "fold": fold.number,
                "float_prediction": model.LABELS[int(np.argmax(float_probs))],
                "int8_prediction": model.LABELS[int(np.argmax(int8_probs))],
            }
            row.update(
                {f"float_{n}": f"{p:.6f}" for n, p in zip(model.LABELS, float_probs, strict=True)}
            )
            row.update(
                {f"int8_{n}": f"{p:.6f}" for n, p in zip(model.LABELS, int8_probs, strict=True)}
            )
            rows.append(row)
    return sorted(rows, key=lambda row: row["path"])


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_rows(run: Path) -> list[dict[str, Any]]:
    path = run / PREDICTIONS_FILE
    if not path.is_file():
        raise SystemExit(f"{run}: no {PREDICTIONS_FILE} (not a finished cross-validation run)")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def markdown(summary: dict[str, Any], command: str) -> str:
    agreement = summary["float_int8_agreement"]
    by_source = summary.get("by_source", False)
    lines = [
        "# Leave-one-source-out validation" if by_source else "# Cross-validation",
        "",
        "> Research tool, not a diagnostic device. Figures are for choosing a training recipe.",
        "",
        f"`{command}`",
        "",
        f"{summary['images']} training + validation images, each scored once by a model that",
        "never saw its duplicate group or patient"
        + (", nor any image of its source" if by_source else "")
        + "; the leak-free test split was not read.",
    ]
    if summary.get("label_corrections"):
        lines += ["", summary["label_corrections"]]
    lines += [
        "",
        "| measure | result (95% Wilson interval) |",
        "|---|---|",
        f"| float accuracy | {accuracy_text(summary['float'])} |",
        f"| int8 accuracy (TFLM oracle) | {accuracy_text(summary['int8'])} |",
    ]
    for source, figure in summary["int8_by_source"].items():
        lines.append(f"| int8, source {source} | {accuracy_text(figure)} |")
    fold_names = summary.get("fold_names", {})
    # Leave-one-source-out folds are the sources: their lines would repeat the ones above.
    for fold, figure in ({} if by_source else summary["int8_by_fold"]).items():
        lines.append(f"| int8, {fold_names.get(fold, f'fold {fold}')} | {accuracy_text(figure)} |")
    low, high = agreement["ci95"]
    lines += [
        f"| float ↔ int8 agreement | {100 * agreement['agreement']:.1f}% "
        f"({agreement['agree']}/{agreement['n']}, {100 * low:.1f}–{100 * high:.1f}) |",
        f"| float NLL (temperature fitted per fold; for ranking) | "
        f"{summary['float_nll_after_fold_temperature']:.3f} |",
    ]
    chosen = summary.get("int8_selective")
    if chosen:
        at = chosen[f"at_coverage_{GOAL_COVERAGE:.2f}"]
        lines += [
            f"| int8 risk–coverage area (AURC, lower is better) | {chosen['aurc']:.4f} |",
            f"| int8 accuracy on the {100 * at['coverage']:.0f}% most confident | "
            f"{accuracy_text(at['answered_accuracy'])} |",
        ]
    if "int8_figures_by_source" in summary:
        gaps = (summary.get("in_source") or {}).get("by_source", {})
        title = "held-out source" if by_source else "source"
        lines += [
            "",
            f"## int8 per {title}: accuracy, recall per class, macro-F1 (95% intervals)",
            "",
            f"| {title} | n | accuracy | "
            + " | ".join(f"{label} recall" for label in model.LABELS)
            + " | macro-F1 (bootstrap) |"
            + (" in-source CV | gap (held out − in source) |" if gaps else ""),
            "|---|---|---|" + "---|" * len(model.LABELS) + "---|" + ("---|---|" if gaps else ""),
        ]
        rows = [("all", summary["int8_figures"])] if not by_source else []
        rows += list(summary["int8_figures_by_source"].items())
        for name, figure in rows:
            recalls = [
                breakdown.recall_text(figure["recall"][label]) if label in figure["recall"] else "—"
                for label in model.LABELS
            ]
            line = (
                f"| {name} | {figure['n']} | {accuracy_text(figure)} | "
                + " | ".join(recalls)
                + f" | {breakdown.macro_f1_text(figure['macro_f1'])} |"
            )
            if gaps:
                gap = gaps.get(name)
                if gap:
                    low, high = gap["gap"]["ci95"]
                    line += (
                        f" {accuracy_text(gap['in_source'])} | "
                        f"{100 * gap['gap']['difference']:+.1f} points "
                        f"({100 * low:+.1f} to {100 * high:+.1f}) |"
                    )
                else:
                    line += " — | — |"
            lines.append(line)
        if gaps:
            lines += [
                "",
                f"In-source figures: `{summary['in_source']['run']}` (K-fold, same images).",
            ]
    if summary.get("label_hiding"):
        lines += label_hiding_markdown(summary["label_hiding"])
    lines.append("")
    return "\n".join(lines)


def compare(runs: list[Path]) -> str:
    """A table of several cross-validation runs, paired against the first one.

    The runs must have scored the same images in the same folds (same data, seed, folds);
    'better/worse' count the images the run gets right and the first gets wrong, and the
    reverse (int8), with McNemar's exact two-sided p-value; then the same per source.
    """
    tables = [read_rows(run) for run in runs]
    keys = [[(row["path"], row["fold"]) for row in rows] for rows in tables]
    for run, run_keys in zip(runs[1:], keys[1:], strict=True):
        if run_keys != keys[0]:
            raise SystemExit(f"{run} did not score the same images in the same folds as {runs[0]}")
    truth = np.array([row["label"] for row in tables[0]])
    source_of = np.array([row["source"] for row in tables[0]])
    correct = [np.array([row["int8_prediction"] for row in rows]) == truth for rows in tables]
    lines = [
        "| run | int8 accuracy | float accuracy | agreement | NLL | better / worse vs first | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for run, rows, right in zip(runs, tables, correct, strict=True):
        summary = summarise(rows)
        better = int(np.sum(right & ~correct[0]))
        worse = int(np.sum(~right & correct[0]))
        agreement = summary["float_int8_agreement"]
        lines.append(
            f"| {run} | {accuracy_text(summary['int8'])} | {accuracy_text(summary['float'])} | "
            f"{100 * agreement['agreement']:.1f}% | "
            f"{summary['float_nll_after_fold_temperature']:.3f} | {better} / {worse} | "
            f"{mcnemar_p(better, worse):.3f} |"
        )
    sources = sorted(set(source_of.tolist()))
    if len(sources) > 1:
        lines += [
            "",
            "Per source (int8 accuracy; better / worse vs first, McNemar p; recall per class):",
            "",
            "| run | source | accuracy | better / worse | p | "
            + " | ".join(f"{label} recall" for label in model.LABELS)
            + " |",
            "|---|---|---|---|---|" + "---|" * len(model.LABELS),
        ]
        for run, rows, right in zip(runs, tables, correct, strict=True):
            predicted = np.array([row["int8_prediction"] for row in rows])
            for source in sources:
                mine = source_of == source
                better = int(np.sum(right[mine] & ~correct[0][mine]))
                worse = int(np.sum(~right[mine] & correct[0][mine]))
                recalls = []
                for label in model.LABELS:
                    of_label = mine & (truth == label)
                    recalls.append(
                        f"{int(np.sum(predicted[of_label] == label))}/{int(of_label.sum())}"
                        if of_label.any()
                        else "—"
                    )
                lines.append(
                    f"| {run} | {source} | "
                    f"{accuracy_text(metrics.accuracy_with_interval(right[mine]))} | "
                    f"{better} / {worse} | {mcnemar_p(better, worse):.3f} | "
                    + " | ".join(recalls)
                    + " |"
                )
    return "\n".join(lines) + "\n"


def mcnemar_p(better: int, worse: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test of `better` in better + worse at 0.5."""
    from scipy.stats import binomtest

    total = better + worse
    return float(binomtest(better, total, 0.5).pvalue) if total else 1.0


def crossval(args: argparse.Namespace) -> dict[str, Any]:
    from tinyxray import train

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train.set_determinism(args.seed)
    preset = train.resolve_preset(args)
    if (preset.distill > 0) != bool(args.teacher_cv):
        # A teacher trained on the whole training split has seen every fold: only
        # per-fold teachers (other runs' fold models) keep the estimate honest.
        raise SystemExit(
            "distillation cannot be cross-validated with whole-split teachers (they saw every "
            "fold): give per-fold teachers with --teacher-cv RUN ... and --set distill=W"
        )
    if args.base and self_training(args):
        # The base run's fold models are the teachers: they must have seen the same labels.
        base_config = json.loads((Path(args.base) / "config.json").read_text())
        if base_config.get("label_fraction") != args.label_fraction:
            raise SystemExit(
                f"--base {args.base} was trained with label fraction "
                f"{base_config.get('label_fraction')}, not {args.label_fraction}"
            )
    command = "python -m tinyxray.crossval " + " ".join(shlex.quote(a) for a in args.argv)
    config = train.preprocess_config(preset)
    external = None
    if args.unlabelled:
        from tinyxray import semi_supervised

        external = semi_supervised.load_unlabelled(args.unlabelled, config)
    prepared = train.prepare_data(args, preset, config, out)
    try:
        fold_list = folds.make_folds(prepared, args.by_source, args.folds, args.seed)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    (out / "config.json").write_text(
        json.dumps(
            {
                "command": command,
                "preset": preset.to_dict(),
                "preprocess": dataclasses.asdict(config),
                "seed": args.seed,
                "by_source": args.by_source,
                "folds": [
                    {
                        "number": f.number,
                        "name": f.name,
                        "trained": len(f.trained),
                        "scored": len(f.scored),
                    }
                    for f in fold_list
                ],
                "data": [display_path(root) for root in args.data],
                "teacher_cv": list(args.teacher_cv),
                "label_fraction": args.label_fraction,
                "unlabelled_hidden": args.unlabelled_hidden,
                "unlabelled": [display_path(folder) for folder in args.unlabelled],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    results = []
    for fold in fold_list:
        if not args.quiet:
            print(
                f"{fold.name}: training on {len(fold.trained)}, scoring {len(fold.scored)} images",
                flush=True,
            )
        results.append(run_fold(args, preset, prepared, fold, out, external))
    rows = prediction_rows(prepared, fold_list, results)
    write_rows(out / PREDICTIONS_FILE, rows)
    summary = summarise(rows, detail=True)
    summary["command"] = command
    summary["by_source"] = args.by_source
    summary["fold_names"] = {str(fold.number): fold.name for fold in fold_list}
    summary["label_corrections"] = prepared.corrections_line
    if args.in_source:
        summary["in_source"] = in_source_gaps(rows, Path(args.in_source))
    summary["label_hiding"] = label_hiding_summary(args, results)
    summary["fit_seconds"] = [float(result["fit_seconds"]) for result in results]
    summary["wall_seconds"] = time.time() - started
    (out / "crossval.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "crossval.md").write_text(markdown(summary, command))
    return summary


def build_parser(prog: str = "python -m tinyxray.crossval") -> argparse.ArgumentParser:
    from tinyxray import arguments

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Cross-validate a training recipe by patient group or by source, or "
        "compare runs.",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        type=arguments.existing_dir,
        help="compare finished runs",
    )
    parser.add_argument("--preset", default="recommended", choices=sorted(model.PRESETS))
    parser.add_argument("--data", nargs="+", type=arguments.existing_dir, help="dataset root(s)")
    parser.add_argument("--out", help="run folder (runs/<name>/)")
    parser.add_argument("--folds", type=arguments.int_at_least(2), default=3)
    parser.add_argument(
        "--by-source",
        action="store_true",
        help="leave-one-source-out: one fold per source, trained on all the other sources",
    )
    parser.add_argument(
        "--in-source",
        metavar="RUN",
        type=arguments.existing_dir,
        help="a finished K-fold run on the same data and seed: report each source's gap to it",
    )
    parser.add_argument(
        "--epochs", type=arguments.positive_int, default=None, help="override the preset's epochs"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=train_cli.preset_override,
        metavar="KEY=VALUE",
        help="override a preset field",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--test-fraction", type=arguments.fraction_below_one, default=0.2)
    parser.add_argument(
        "--limit",
        type=arguments.non_negative_int,
        default=0,
        help="use only N random images (smoke)",
    )
    parser.add_argument(
        "--base",
        metavar="RUN",
        type=arguments.existing_dir,
        help="start each fold from this finished run's trained fold model instead of training "
        "(when self-training: the fold's teacher, from a run with the same --label-fraction)",
    )
    parser.add_argument(
        "--teacher-cv",
        nargs="+",
        default=[],
        metavar="RUN",
        type=arguments.existing_dir,
        help="distil from these finished runs' fold models (same folds; with --set distill=W)",
    )
    parser.add_argument(
        "--label-fraction",
        type=arguments.fraction_up_to_one,
        default=None,
        metavar="F",
        help="keep the labels of a fraction F (0 < F <= 1) of each fold's training patients "
        "and duplicate groups; the rest are hidden (not used, unless --unlabelled-hidden)",
    )
    parser.add_argument(
        "--unlabelled-hidden",
        action="store_true",
        help="hand the hidden training images to self-training as unlabelled images",
    )
    parser.add_argument(
        "--unlabelled",
        nargs="+",
        default=[],
        metavar="DIR",
        type=arguments.existing_dir,
        help="folders of unlabelled images to self-train on (pseudo-labels; docs/training.md)",
    )
    parser.add_argument(
        "--study-labels",
        action="store_true",
        help="do not apply the datasets' label-correction files (the labels as published)",
    )
    parser.add_argument("--resume", action="store_true", help="skip finished folds")
    parser.add_argument(
        "--force", action="store_true", help="replace the cross-validation run already in --out"
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    # train.fit_model reads these; cross-validation never refits.
    parser.set_defaults(teacher=[], refit=False)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m tinyxray.crossval") -> int:
    from tinyxray import tf_logging, user_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.compare:
        with user_errors.reporting_user_errors(parser.prog):
            print(compare([Path(run) for run in args.compare]), end="")
        return 0
    if not args.data or not args.out:
        parser.error("--data and --out are required (or --compare RUN ...)")
    tf_logging.quiet_environment(args.verbose)
    with user_errors.reporting_user_errors(parser.prog):
        try:
            train_cli.resolve_preset(args)
        except ValueError as error:
            raise user_errors.UserError(str(error)) from None
        if args.unlabelled_hidden and args.label_fraction is None:
            raise user_errors.UserError(
                "--unlabelled-hidden needs --label-fraction F (the share of labels to keep)"
            )
        out = Path(args.out)
        train_cli.prepare_out(out, args.resume, args.force, kind="cross-validation")
        tf_logging.import_tensorflow(args.verbose)
        try:
            summary = crossval(args)
        except KeyboardInterrupt:
            print(
                f"\ninterrupted: finished folds are kept in {out}/fold_*/; resume with: "
                f"{train_cli.resume_command(parser.prog, argv)}",
                file=sys.stderr,
            )
            return user_errors.EXIT_INTERRUPTED
    print(markdown(summary, summary["command"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
