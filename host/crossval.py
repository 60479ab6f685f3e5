"""Cross-validate a training recipe over the training + validation patients.

    python -m tinyxray.crossval --preset lean --folds 3 \\
        --data ../shared/datasets/covid19-image-dataset ../shared/datasets/nih-cxr8-adult-subset \\
        --out runs/cv_lean --set mixup=0.2

    python -m tinyxray.crossval --compare runs/cv_lean runs/cv_lean_mixup

Why: one validation split of ~120 images cannot tell recipes apart (one image is ~0.8
points). Every training + validation image is scored once here, by a model that never saw
its duplicate group or patient, so recipes are compared on ~600 paired predictions.

The leak-free test split (the same one `tinyxray.train` makes for the same seed) is never
read, so choosing a recipe here keeps the test set for the final report. Per fold the
model is trained from scratch with the recipe (BatchNorm moving averages as trained), then
converted to int8 (calibrated on its own training folds) and run on the TFLM oracle. The
temperature is fitted on the scored fold itself: the NLL after it is slightly optimistic
and is for ranking recipes only; accuracy does not depend on it.

Each fold is saved as it finishes (fold_K/predictions.npz); --resume skips finished folds
and resumes an interrupted one from its checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import audit, frame_cache, metrics, model, preprocess
from tinyxray import train as train_cli  # its CLI helpers; it loads no TensorFlow on import
from tinyxray.metrics import accuracy_text
from tinyxray.paths import display_path

PREDICTIONS_FILE = "predictions.csv"


def fold_of_pool(prepared, folds: int, seed: int) -> np.ndarray:
    """Fold number of each record (-1 for test and excluded images)."""
    pool = np.concatenate([prepared.index["train"], prepared.index["validation"]])
    return np.array(
        audit.group_folds(prepared.records, prepared.components, pool, folds, seed), np.int64
    )


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


def run_fold(args, preset, prepared, fold: np.ndarray, number: int, out: Path) -> dict:
    """Train on every other fold, score fold `number` in float and int8; saved to disk."""
    from tinyxray import convert, tflm_oracle, train

    fold_dir = out / f"fold_{number}"
    saved = fold_dir / "predictions.npz"
    if args.resume and saved.exists():
        return dict(np.load(saved))
    fold_dir.mkdir(parents=True, exist_ok=True)
    frames, labels = prepared.frames, prepared.labels
    scored = np.flatnonzero(fold == number)
    trained = np.flatnonzero((fold >= 0) & (fold != number))
    if args.base:
        keras_model, fit_seconds = trained_fold_model(Path(args.base), number, scored), 0.0
    else:
        keras_model, fit_seconds = train.fit_model(
            preset,
            frames.shape[1:],
            (frames[trained], labels[trained]),
            (frames[scored], labels[scored]),
            fold_dir,
            "",
            args,
        )
    if preset.qat_epochs:
        keras_model = train.quantisation_aware_finetune(
            keras_model,
            preset,
            (frames[trained], labels[trained]),
            fold_dir,
            "",
            args,
        )
    logits, _ = train.logits_and_probs(keras_model, frames[scored])
    temperature = convert.fit_temperature(logits, labels[scored])
    flatbuffer = convert.convert_int8(
        keras_model, frames[trained], strict_input=preset.architecture == "mobilenetv2"
    )
    flatbuffer = convert.set_softmax_beta(flatbuffer, 1.0 / temperature)
    oracle = tflm_oracle.Int8Model(flatbuffer)
    int8_probs = np.array([oracle.probabilities(oracle.invoke_u8(frames[i])) for i in scored])
    result = {
        "indices": scored,
        "float_probs": train.softmax(logits, temperature),
        "int8_probs": int8_probs,
        "temperature": np.array(temperature),
        "fit_seconds": np.array(fit_seconds),
    }

    def write(handle) -> None:
        np.savez(handle, **result)

    frame_cache.atomic_write(saved, write)
    return result


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled figures over every scored image (rows as in predictions.csv)."""
    labels = np.array([model.LABELS.index(row["label"]) for row in rows])
    float_probs = np.array([[float(row[f"float_{name}"]) for name in model.LABELS] for row in rows])
    float_pred = float_probs.argmax(1)
    int8_pred = np.array([model.LABELS.index(row["int8_prediction"]) for row in rows])

    sources = sorted({row["source"] for row in rows})
    folds = sorted({int(row["fold"]) for row in rows})
    source_of = np.array([row["source"] for row in rows])
    fold_of = np.array([int(row["fold"]) for row in rows])
    int8_right = int8_pred == labels
    accuracy = metrics.accuracy_with_interval
    return {
        "images": len(rows),
        "float": accuracy(float_pred == labels),
        "int8": accuracy(int8_right),
        "int8_by_source": {s: accuracy(int8_right[source_of == s]) for s in sources},
        "int8_by_fold": {str(f): accuracy(int8_right[fold_of == f]) for f in folds},
        "float_nll_after_fold_temperature": metrics.negative_log_likelihood(labels, float_probs),
        "float_int8_agreement": metrics.agreement(float_pred, int8_pred),
    }


def prediction_rows(prepared, fold: np.ndarray, results: list[dict]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        for position, index in enumerate(result["indices"]):
            record = prepared.records[int(index)]
            float_probs = result["float_probs"][position]
            int8_probs = result["int8_probs"][position]
            row = {
                "path": str(record.path),
                "source": record.source,
                "label": record.label,
                "fold": int(fold[index]),
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
    lines = [
        "# Cross-validation",
        "",
        "> Research tool, not a diagnostic device. Figures are for choosing a training recipe.",
        "",
        f"`{command}`",
        "",
        f"{summary['images']} training + validation images, each scored once by a model that",
        "never saw its duplicate group or patient; the leak-free test split was not read.",
        "",
        "| measure | result (95% Wilson interval) |",
        "|---|---|",
        f"| float accuracy | {accuracy_text(summary['float'])} |",
        f"| int8 accuracy (TFLM oracle) | {accuracy_text(summary['int8'])} |",
    ]
    for source, figure in summary["int8_by_source"].items():
        lines.append(f"| int8, source {source} | {accuracy_text(figure)} |")
    for fold, figure in summary["int8_by_fold"].items():
        lines.append(f"| int8, fold {fold} | {accuracy_text(figure)} |")
    low, high = agreement["ci95"]
    lines += [
        f"| float ↔ int8 agreement | {100 * agreement['agreement']:.1f}% "
        f"({agreement['agree']}/{agreement['n']}, {100 * low:.1f}–{100 * high:.1f}) |",
        f"| float NLL (temperature fitted per fold; for ranking) | "
        f"{summary['float_nll_after_fold_temperature']:.3f} |",
        "",
    ]
    return "\n".join(lines)


def compare(runs: list[Path]) -> str:
    """A table of several cross-validation runs, paired against the first one.

    The runs must have scored the same images in the same folds (same data, seed, folds);
    'better/worse' count the images the run gets right and the first gets wrong, and the
    reverse (int8), with McNemar's exact two-sided p-value.
    """
    tables = [read_rows(run) for run in runs]
    keys = [[(row["path"], row["fold"]) for row in rows] for rows in tables]
    for run, run_keys in zip(runs[1:], keys[1:], strict=True):
        if run_keys != keys[0]:
            raise SystemExit(f"{run} did not score the same images in the same folds as {runs[0]}")
    truth = np.array([row["label"] for row in tables[0]])
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
    if preset.distill:
        # Teachers trained on the whole training split have seen every fold: the
        # estimate would be biased, so distillation is not cross-validated.
        raise SystemExit("distillation cannot be cross-validated (teachers saw every fold)")
    command = "python -m tinyxray.crossval " + " ".join(shlex.quote(a) for a in args.argv)
    config = preprocess.PreprocessConfig()
    (out / "config.json").write_text(
        json.dumps(
            {
                "command": command,
                "preset": preset.to_dict(),
                "seed": args.seed,
                "folds": args.folds,
                "data": [display_path(root) for root in args.data],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    prepared = train.prepare_data(args, preset, config, out)
    fold = fold_of_pool(prepared, args.folds, args.seed)
    counts = Counter(int(f) for f in fold if f >= 0)
    results = []
    for number in range(args.folds):
        if not args.quiet:
            print(f"fold {number + 1}/{args.folds}: scoring {counts[number]} images", flush=True)
        results.append(run_fold(args, preset, prepared, fold, number, out))
    rows = prediction_rows(prepared, fold, results)
    write_rows(out / PREDICTIONS_FILE, rows)
    summary = summarise(rows)
    summary["command"] = command
    summary["fit_seconds"] = [float(result["fit_seconds"]) for result in results]
    summary["wall_seconds"] = time.time() - started
    (out / "crossval.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "crossval.md").write_text(markdown(summary, command))
    return summary


def build_parser(prog: str = "python -m tinyxray.crossval") -> argparse.ArgumentParser:
    from tinyxray import arguments

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Cross-validate a training recipe by patient group, or compare runs.",
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
        help="start each fold from this finished run's trained fold model instead of training",
    )
    parser.add_argument("--resume", action="store_true", help="skip finished folds")
    parser.add_argument(
        "--force", action="store_true", help="replace the cross-validation run already in --out"
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    # train.fit_model reads these; cross-validation never distils or refits.
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
