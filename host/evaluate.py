"""Evaluate a model (int8 .tflite on the TFLM oracle, or float .keras) on any dataset root(s).

    python -m tinyxray.evaluate --model models/default/model_int8.tflite \\
        --data ../shared/datasets/covid19-image-dataset --split-file runs/x/split.csv --out report/

Images go through the one preprocessing implementation (tinyxray.preprocess via the frame
cache). Evaluation sets: with --split-file, the run's leak-free test split (images not
listed there are "external"); always, each source's original test split when it has one
(the seed set's 66 images, for comparison with the study); without a split file, all images.
Writes report.json, report.md and PNG figures; prints a one-screen summary.
Research tool, not a diagnostic device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import (
    arguments,
    breakdown,
    data,
    metrics,
    model_card,
    preprocess,
    selective,
    user_errors,
)
from tinyxray.metrics import accuracy_text
from tinyxray.paths import display_path
from tinyxray.user_errors import UserError

DISCLAIMER = model_card.DISCLAIMER
DEFAULT_THRESHOLD = 0.6


class Predictor:
    """Probabilities and penultimate features for uint8 frames (N,S,S)."""

    kind = "?"

    def predict(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class Int8Predictor(Predictor):
    """The int8 model on the TFLM oracle; features from ai-edge-litert (reference kernels)."""

    kind = "int8"

    def __init__(self, path: Path) -> None:
        from tinyxray import tflm_oracle

        self.path = Path(path)
        self.oracle = tflm_oracle.Int8Model(self.path)

    def predict(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = (
            np.stack([self.oracle.probabilities(self.oracle.invoke_u8(frame)) for frame in frames])
            if len(frames)
            else np.zeros((0, self.oracle.output_shape[-1]))
        )
        return probs, self._features(frames)

    def _features(self, frames: np.ndarray) -> np.ndarray:
        """Dequantised input of the last FULLY_CONNECTED op (penultimate features)."""
        from tinyxray import tflm_oracle

        dense_ops = tflm_oracle.ops_of_kind(self.oracle.flatbuffer, "FULLY_CONNECTED")
        if not dense_ops or len(frames) == 0:
            return np.zeros((len(frames), 0))
        quantised = [
            preprocess.to_int8(frame, self.oracle.input_scale, self.oracle.input_zero_point)
            for frame in frames
        ]
        return tflm_oracle.intermediate_values(
            self.oracle.flatbuffer, int(dense_ops[-1].inputs[0]), quantised
        )


class FloatPredictor(Predictor):
    """The float Keras model (features from the layer named `features`)."""

    kind = "float"

    def __init__(self, path: Path, temperature: float = 1.0) -> None:
        import keras

        from tinyxray import model

        self.path = Path(path)
        self.temperature = temperature
        self.model = keras.models.load_model(self.path, compile=False)
        self.extractor = model.feature_model(self.model)

    def predict(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, logits = self.extractor.predict(
            frames[..., None].astype(np.float32), batch_size=64, verbose=0
        )
        logits = np.asarray(logits, np.float64) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True), np.asarray(features, np.float64)


def load_predictor(path: Path, temperature: float = 1.0, size: int | None = None) -> Predictor:
    """The predictor for a .tflite (int8) or .keras (float) file; UserError when unusable.

    With `size`, the model's input must take size x size grayscale frames.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--model {path}: no such file")
    if path.suffix == ".tflite":
        predictor: Predictor = _load_int8(path)
        shape = tuple(predictor.oracle.input_shape)  # type: ignore[attr-defined]
    elif path.suffix == ".keras":
        predictor = _load_float(path, temperature)
        shape = tuple(predictor.model.input_shape)  # type: ignore[attr-defined]
    else:
        raise UserError(f"{path}: expected an int8 .tflite or a float .keras model")
    if size is not None and tuple(shape[1:]) not in ((size, size, 1), (None, None, 1)):
        raise UserError(
            f"{path} takes input {'x'.join(map(str, shape[1:]))}; the preprocessing makes "
            f"{size}x{size}x1 frames"
        )
    return predictor


def _load_int8(path: Path) -> Int8Predictor:
    from tinyxray import tf_logging

    flatbuffer = path.read_bytes()
    if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
        raise UserError(f"{path} is not a TensorFlow Lite model (no TFL3 file identifier)")
    input_type = _input_type(flatbuffer)
    if input_type is None:
        raise UserError(f"{path} is a damaged .tflite (its graph cannot be read)")
    if input_type != "INT8":
        raise UserError(
            f"{path} is not an int8 model (its input is {input_type}); evaluate takes the int8 "
            ".tflite (model_int8.tflite) or the float .keras"
        )
    try:
        # TFLM prints its own complaints about a model it cannot run; the error says enough.
        with tf_logging.swallowed_stderr():
            return Int8Predictor(path)
    except Exception as error:  # The flatbuffer parser fails in many ways on damaged files.
        raise UserError(
            f"{path} is a damaged or unsupported .tflite ({user_errors.one_line(error)})"
        ) from None


def _input_type(flatbuffer: bytes) -> str | None:
    """The element type of the model's first input ("INT8", "FLOAT32"), None if unreadable."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    try:
        graph = schema.Model.GetRootAsModel(flatbuffer, 0).Subgraphs(0)
        code = graph.Tensors(graph.Inputs(0)).Type()
    except Exception:  # A damaged flatbuffer raises struct, index or type errors.
        return None
    names = {value: name for name, value in vars(schema.TensorType).items() if name.isupper()}
    return names.get(code, str(code))


def _load_float(path: Path, temperature: float) -> FloatPredictor:
    from tinyxray import tf_logging

    tf_logging.import_tensorflow()
    try:
        return FloatPredictor(path, temperature)
    except Exception as error:  # Keras reports a bad archive with many exception types.
        raise UserError(f"{path} is not a Keras model ({user_errors.one_line(error)})") from None


def train_keys(record: data.ImageRecord) -> tuple[str, ...]:
    from tinyxray import train

    return train.split_key(record.path, record.source)


def evaluation_sets(
    records: list[data.ImageRecord], split_file: Path | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Named index arrays into records, plus notes (e.g. contamination of the original test)."""
    notes: dict[str, Any] = {}
    sets: dict[str, np.ndarray] = {}
    paths = [train_keys(record) for record in records]
    split_of: dict[tuple[str, ...], str] = {}
    if split_file is not None:
        from tinyxray import train

        split_of = train.read_split_csv(split_file)
        sets["leak_free_test"] = np.array(
            [i for i, path in enumerate(paths) if split_of.get(path) == "test"], dtype=np.int64
        )
        external = [i for i, path in enumerate(paths) if path not in split_of]
        if external:
            sets["external"] = np.array(external, dtype=np.int64)
    else:
        sets["all"] = np.arange(len(records))
    for source in sorted({record.source for record in records}):
        original = [
            i
            for i, record in enumerate(records)
            if record.source == source and record.original_split == "test"
        ]
        if original:
            name = f"original_test:{source}"
            sets[name] = np.array(original, dtype=np.int64)
            if split_of:
                in_train = sum(split_of.get(paths[i]) in ("train", "validation") for i in original)
                notes[name] = {
                    "images": len(original),
                    "seen_in_training_or_validation": int(in_train),
                }
    return {name: index for name, index in sets.items() if len(index)}, notes


def evaluate(
    predictors: list[Predictor],
    roots: list[str],
    split_file: Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    labels: tuple[str, ...] = data.LABELS,
    progress: bool = False,
    config: preprocess.PreprocessConfig | None = None,
    study_labels: bool = False,
) -> dict[str, Any]:
    """Compute the report dict (without writing files).

    Labels are the corrected ones (`tinyxray.label_corrections`) unless `study_labels`;
    each set with corrected images is also scored against the labels as published.
    """
    from tinyxray import frame_cache

    config = config or preprocess.PreprocessConfig()
    scan_result = data.scan_datasets(roots, corrections=not study_labels)
    frame_set = frame_cache.load_frames(scan_result.records, config, progress=progress)
    records = frame_set.records
    if not records:
        unusable = [*scan_result.skipped, *frame_set.skipped]
        example = f" (first {unusable[0][0]}: {unusable[0][1]})" if unusable else ""
        raise data.DatasetError(
            f"no usable image under {', '.join(map(str, roots))}: "
            f"{len(unusable)} file(s) skipped{example}"
        )
    targets = np.array([labels.index(record.label) for record in records], dtype=np.int64)
    published = np.array([labels.index(record.study_label) for record in records], np.int64)
    sources = [record.source for record in records]
    sets, notes = evaluation_sets(records, split_file)
    report: dict[str, Any] = {
        "disclaimer": DISCLAIMER,
        "data": [display_path(root) for root in roots],
        "split_file": display_path(split_file) if split_file else None,
        "images": len(records),
        "skipped": [
            [display_path(path), reason]
            for path, reason in [*scan_result.skipped, *frame_set.skipped]
        ],
        "threshold": threshold,
        "preprocess": dataclasses.asdict(config),
        "label_corrections": scan_result.corrections_line(),
        "set_notes": notes,
        "models": {},
    }
    cache: dict[str, dict[str, Any]] = {}
    for predictor in predictors:
        needed = np.unique(np.concatenate(list(sets.values()))) if sets else np.zeros(0, int)
        probs_needed, features_needed = predictor.predict(frame_set.frames[needed])
        position = {int(index): row for row, index in enumerate(needed)}
        model_report: dict[str, Any] = {"path": display_path(predictor.path), "sets": {}}
        per_set: dict[str, Any] = {}
        for name, index in sets.items():
            rows = np.array([position[int(i)] for i in index])
            probs = probs_needed[rows]
            result = metrics.classification_report(
                targets[index], probs, list(labels), threshold, [sources[i] for i in index]
            )
            add_selective_and_sources(result, targets[index], probs, [sources[i] for i in index])
            if np.any(published[index] != targets[index]):
                result["study_labels"] = {
                    **metrics.accuracy_with_interval(probs.argmax(1) == published[index]),
                    "relabelled_images": int(np.sum(published[index] != targets[index])),
                }
            model_report["sets"][name] = result
            per_set[name] = {
                "probs": probs,
                "features": features_needed[rows],
                "targets": targets[index],
            }
        report["models"][predictor.kind] = model_report
        cache[predictor.kind] = per_set
    if "float" in cache and "int8" in cache:
        report["float_int8_agreement"] = {
            name: metrics.agreement(
                cache["float"][name]["probs"].argmax(1), cache["int8"][name]["probs"].argmax(1)
            )
            for name in sets
        }
    report["_arrays"] = cache
    return report


def add_selective_and_sources(
    result: dict[str, Any], targets: np.ndarray, probs: np.ndarray, sources: list[str]
) -> None:
    """Selective prediction at the report's threshold, the risk-coverage curve, and
    macro-F1 with an interval per source (the per-class figures' per-source twins)."""
    confidence, correct = probs.max(1), probs.argmax(1) == targets
    curve = selective.risk_coverage(confidence, correct)
    result["selective"] = {
        "at_threshold": selective.at_threshold(confidence, correct, result["uncertain_threshold"]),
        "at_coverage_0.80": selective.accuracy_at_coverage(confidence, correct, 0.8),
        "aurc": curve["aurc"],
        "curve": {key: curve[key] for key in ("coverage", "accuracy", "thresholds")},
    }
    result["macro_f1_ci95"] = breakdown.macro_f1_with_interval(targets, probs.argmax(1))["ci95"]
    source_array = np.asarray(sources, dtype=object)
    for source, values in result.get("per_source", {}).items():
        mine = source_array == source
        values["macro_f1"] = breakdown.macro_f1_with_interval(targets[mine], probs[mine].argmax(1))


def write_report(
    report: dict[str, Any], out: Path, card: model_card.ModelCard | None
) -> list[Path]:
    """report.json, report.md and PNG figures into out/."""
    out.mkdir(parents=True, exist_ok=True)
    arrays = report.pop("_arrays", {})
    if card is not None:
        report["model_card"] = {
            "name": card.name,
            "sha256": card.sha256,
            "temperature": card.temperature,
            "tflm_arena_bytes": card.tflm_arena_bytes,
        }
    written = [_plots(arrays, report, out)] if arrays else []
    written = [path for group in written for path in group]
    json_path = out / "report.json"
    json_path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    md_path = out / "report.md"
    md_path.write_text(markdown(report, [path.name for path in written]))
    return [json_path, md_path, *written]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def primary_set(report: dict[str, Any]) -> str | None:
    for model_report in report["models"].values():
        names = list(model_report["sets"])
        for preferred in ("leak_free_test", "all"):
            if preferred in names:
                return preferred
        return names[0] if names else None
    return None


def _plots(arrays: dict[str, Any], report: dict[str, Any], out: Path) -> list[Path]:
    pyplot = _pyplot()
    name = primary_set(report)
    if name is None:
        return []
    kinds = list(arrays)
    figures = {
        "reliability.png": reliability_figure(report, kinds, name),
        "confusion.png": confusion_figure(report, kinds, name),
        "features.png": features_figure(arrays, report, kinds, name),
        "risk_coverage.png": risk_coverage_figure(report, kinds, name),
    }
    written = []
    for file_name, figure in figures.items():
        figure.savefig(out / file_name, dpi=100)
        pyplot.close(figure)
        written.append(out / file_name)
    return written


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def reliability_figure(report: dict[str, Any], kinds: list[str], name: str) -> Any:
    """Accuracy per confidence bin against the diagonal; the legend sits below the axes."""
    figure, axes = _pyplot().subplots(1, len(kinds), figsize=(4.5 * len(kinds), 4.6), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        reliability = report["models"][kind]["sets"][name]["calibration"]["reliability"]
        edges = np.array(reliability["edges"])
        centres = (edges[:-1] + edges[1:]) / 2
        counts = np.array(reliability["counts"])
        accuracy = np.where(counts > 0, reliability["accuracy"], np.nan)
        axis.bar(centres, accuracy, width=0.1, edgecolor="black", alpha=0.7, label="accuracy")
        axis.plot([0, 1], [0, 1], "k--", label="perfect calibration")
        ece = report["models"][kind]["sets"][name]["calibration"]["ece_10"]
        axis.set_title(f"{kind} on {name}: ECE {ece:.3f}", fontsize=9)
        axis.set_xlabel("confidence (top probability)")
        axis.set_ylabel("accuracy")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    figure.suptitle("Reliability (research tool, not a diagnostic device)", fontsize=9)
    figure.tight_layout()
    return figure


def confusion_figure(report: dict[str, Any], kinds: list[str], name: str) -> Any:
    """Counts with the uncertain column; white numbers on the dark cells."""
    figure, axes = _pyplot().subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    for axis, kind in zip(axes[0], kinds, strict=True):
        confusion = report["models"][kind]["sets"][name]["confusion"]
        matrix = np.array(confusion["matrix"])
        axis.imshow(matrix, cmap="Blues", vmin=0)
        for (row, column), value in np.ndenumerate(matrix):
            color = "white" if value > matrix.max() / 2 else "black"
            axis.text(column, row, str(value), ha="center", va="center", color=color)
        axis.set_xticks(range(matrix.shape[1]), confusion["columns_predicted"], rotation=30)
        axis.set_yticks(range(matrix.shape[0]), confusion["rows_true"])
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(f"{kind} on {name}", fontsize=9)
    figure.tight_layout()
    return figure


def features_figure(
    arrays: dict[str, Any], report: dict[str, Any], kinds: list[str], name: str
) -> Any:
    """PCA of the penultimate features: class by colour, correct (o) or wrong (x)."""
    from sklearn.decomposition import PCA

    figure, axes = _pyplot().subplots(1, len(kinds), figsize=(5 * len(kinds), 4.5), squeeze=False)
    class_names = report["models"][kinds[0]]["sets"][name]["confusion"]["rows_true"]
    for axis, kind in zip(axes[0], kinds, strict=True):
        features = arrays[kind][name]["features"]
        targets = arrays[kind][name]["targets"]
        predicted = arrays[kind][name]["probs"].argmax(1)
        axis.set_title(f"{kind} penultimate features (PCA), {name}", fontsize=9)
        if features.ndim != 2 or features.shape[1] < 2 or len(features) < 3:
            axis.text(0.5, 0.5, "too few images for a PCA", ha="center", va="center")
            axis.set_axis_off()
            continue
        pca = PCA(n_components=2)
        points = pca.fit_transform(features)
        for cls, class_name in enumerate(class_names):
            for correct, marker in ((True, "o"), (False, "x")):
                mask = (targets == cls) & ((predicted == targets) == correct)
                if not mask.any():
                    continue
                axis.scatter(
                    points[mask, 0],
                    points[mask, 1],
                    marker=marker,
                    color=f"C{cls}",
                    label=f"{class_name} {'correct' if correct else 'wrong'} ({int(mask.sum())})",
                    alpha=0.7,
                )
        share = pca.explained_variance_ratio_
        axis.set_xlabel(f"principal component 1 ({100 * share[0]:.0f}% of variance)")
        axis.set_ylabel(f"principal component 2 ({100 * share[1]:.0f}% of variance)")
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def risk_coverage_figure(report: dict[str, Any], kinds: list[str], name: str) -> Any:
    """Accuracy on the answered frames against the fraction answered, the threshold marked."""
    figure, axis = _pyplot().subplots(figsize=(5.5, 4.2))
    for kind in kinds:
        chosen = report["models"][kind]["sets"][name]["selective"]
        axis.step(
            chosen["curve"]["coverage"],
            chosen["curve"]["accuracy"],
            where="post",
            label=f"{kind} (AURC {chosen['aurc']:.3f})",
        )
        at = chosen["at_threshold"]
        if at["answered"]:
            axis.plot(
                at["coverage"],
                at["answered_accuracy"]["accuracy"],
                "o",
                label=f"{kind} at threshold {at['threshold']:.2f}",
            )
    axis.axhline(0.9, color="grey", linestyle=":", label="90% accuracy")
    axis.axvline(0.8, color="grey", linestyle="--", label="80% coverage")
    axis.set_xlabel("coverage (fraction of frames answered)")
    axis.set_ylabel("accuracy on answered frames")
    axis.set_xlim(0, 1.01)
    axis.set_title(f"Risk–coverage on {name}", fontsize=10)
    axis.legend(fontsize=7, loc="lower left")
    figure.suptitle("Research tool, not a diagnostic device", fontsize=8)
    figure.tight_layout()
    return figure


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def markdown(report: dict[str, Any], figures: list[str]) -> str:
    lines = [
        "# tinyxray evaluation report",
        "",
        f"> **{DISCLAIMER}**",
        "",
        f"Data: {', '.join(report['data'])}  ",
        f"Split file: {report['split_file'] or '(none: every image evaluated)'}  ",
        f"Images: {report['images']}, skipped: {len(report['skipped'])}  ",
        f"Uncertain threshold: top probability < {report['threshold']}",
        "",
    ]
    if "model_card" in report:
        card = report["model_card"]
        lines += [
            f"Model: {card['name']} (sha256 {card['sha256'][:16]}…), temperature "
            f"{card['temperature']:.3f} (in SOFTMAX beta), TFLM arena {card['tflm_arena_bytes']} B",
            "",
        ]
    if report.get("label_corrections"):
        lines += [f"- {report['label_corrections']}"]
    for note_name, note in report.get("set_notes", {}).items():
        lines.append(
            f"- {note_name}: {note['seen_in_training_or_validation']} of {note['images']} images"
            " were in the training/validation split."
        )
    lines.append("")
    for kind, model_report in report["models"].items():
        lines += [f"## {kind} model ({model_report['path']})", ""]
        lines += [
            "| set | n | accuracy (95% Wilson CI) | macro-F1 | ECE | NLL | Brier | uncertain |"
        ]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for name, result in model_report["sets"].items():
            calibration = result["calibration"]
            lines.append(
                f"| {name} | {result['n']} | {accuracy_text(result)} | {result['macro_f1']:.3f} | "
                f"{calibration['ece_10']:.3f} | {calibration['nll']:.3f} | "
                f"{calibration['brier']:.3f} | {_pct(result['uncertain_fraction'])} |"
            )
        lines.append("")
        for name, result in model_report["sets"].items():
            if "study_labels" in result:
                study = result["study_labels"]
                lines.append(
                    f"- {name}, study labels (as published, {study['relabelled_images']} "
                    f"image(s) labelled otherwise here): {accuracy_text(study)}"
                )
        lines += [
            "",
            "Selective prediction (frames below the uncertain threshold are not answered):",
            "",
            "| set | at the card's threshold | answered accuracy at 80% coverage | AURC |",
            "|---|---|---|---|",
        ]
        for name, result in model_report["sets"].items():
            chosen = result["selective"]
            at_80 = chosen["at_coverage_0.80"]
            lines.append(
                f"| {name} | {selective.describe(chosen['at_threshold'])} | "
                f"{accuracy_text(at_80['answered_accuracy'])} (threshold "
                f"{at_80['threshold']:.3f}, coverage {_pct(at_80['coverage'])}) | "
                f"{chosen['aurc']:.4f} |"
            )
        lines.append("")
        for name, result in model_report["sets"].items():
            lines += [f"### {kind} / {name}", "", "| class | precision | recall | F1 | support |"]
            lines += ["|---|---|---|---|---|"]
            for class_name, values in result["per_class"].items():
                lines.append(
                    f"| {class_name} | {values['precision']:.3f} | {values['recall']:.3f} | "
                    f"{values['f1']:.3f} | {values['support']} |"
                )
            confusion = result["confusion"]
            lines += ["", "Confusion (rows true, columns predicted):", ""]
            lines.append(
                "| true \\ predicted | " + " | ".join(confusion["columns_predicted"]) + " |"
            )
            lines.append("|---" * (len(confusion["columns_predicted"]) + 1) + "|")
            for row_name, row in zip(confusion["rows_true"], confusion["matrix"], strict=True):
                lines.append(f"| {row_name} | " + " | ".join(str(v) for v in row) + " |")
            if len(result.get("per_source", {})) >= 1:
                lines += ["", "Per source (shortcut audit):", ""]
                lines += [
                    "| source | n | accuracy (95% CI) | recall per class | macro-F1 (95% CI) |",
                    "|---|---|---|---|---|",
                ]
                for source, values in result["per_source"].items():
                    recalls = ", ".join(
                        f"{k} {_pct(v)}" for k, v in values["per_class_recall"].items()
                    )
                    macro = (
                        breakdown.macro_f1_text(values["macro_f1"]) if "macro_f1" in values else ""
                    )
                    lines.append(
                        f"| {source} | {values['n']} | {accuracy_text(values)} | {recalls} "
                        f"| {macro} |"
                    )
            lines.append("")
    if "float_int8_agreement" in report:
        lines += ["## Float vs int8 top-1 agreement", ""]
        for name, value in report["float_int8_agreement"].items():
            low, high = value["ci95"]
            lines.append(
                f"- {name}: {_pct(value['agreement'])} ({value['agree']}/{value['n']}, "
                f"95% CI {_pct(low)}–{_pct(high)})"
            )
        lines.append("")
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures] + [""]
    if report["skipped"]:
        lines += ["## Skipped files", ""]
        lines += [f"- {path}: {reason}" for path, reason in report["skipped"]] + [""]
    lines += [f"_{DISCLAIMER}_", ""]
    return "\n".join(lines)


SKIPPED_SHOWN = 10


def terminal_summary(report: dict[str, Any], report_path: Path | None = None) -> str:
    """The console summary; it says how many files were skipped and where the reasons are."""
    lines = [f"tinyxray evaluation — {DISCLAIMER.split('.')[0]}."]
    skipped = report["skipped"]
    lines.append(f"  images {report['images']}, skipped {len(skipped)} unusable file(s)")
    for kind, model_report in report["models"].items():
        for name, result in model_report["sets"].items():
            lines.append(
                f"  {kind:5s} {name:40s} acc {accuracy_text(result)}"
                f"  macro-F1 {result['macro_f1']:.3f}"
                f"  ECE {result['calibration']['ece_10']:.3f}"
            )
            for source, values in result.get("per_source", {}).items():
                if len(result["per_source"]) > 1:
                    lines.append(f"        {source:38s} acc {accuracy_text(values)}")
            if "selective" in result:
                lines.append(
                    f"        answered: {selective.describe(result['selective']['at_threshold'])}"
                )
    for name, value in report.get("float_int8_agreement", {}).items():
        lines.append(f"  float/int8 agreement on {name}: {_pct(value['agreement'])}")
    for note_name, note in report.get("set_notes", {}).items():
        lines.append(
            f"  note: {note['seen_in_training_or_validation']}/{note['images']} of {note_name}"
            " were in training/validation"
        )
    if skipped and report_path is not None:
        lines.append(f"  skipped files and their reasons: {report_path} (section Skipped files)")
    elif skipped:
        lines.append("  skipped files:")
        lines += [f"    {path}: {reason}" for path, reason in skipped[:SKIPPED_SHOWN]]
        if len(skipped) > SKIPPED_SHOWN:
            lines.append(
                f"    ... and {len(skipped) - SKIPPED_SHOWN} more (--out DIR lists all of them)"
            )
    return "\n".join(lines)


def build_parser(prog: str = "python -m tinyxray.evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Evaluate a tinyxray model on dataset(s)."
    )
    parser.add_argument(
        "--model",
        required=True,
        type=arguments.existing_file,
        help=".tflite (int8, TFLM oracle) or .keras",
    )
    parser.add_argument(
        "--float-model", type=arguments.existing_file, help="also evaluate this .keras model"
    )
    parser.add_argument(
        "--card", type=arguments.existing_file, help="model card (default: beside --model)"
    )
    parser.add_argument(
        "--data", nargs="+", required=True, type=arguments.existing_dir, help="dataset root(s)"
    )
    parser.add_argument(
        "--split-file", type=arguments.existing_file, help="a run's split.csv (leak-free test)"
    )
    parser.add_argument(
        "--threshold",
        type=arguments.probability,
        default=None,
        help="uncertain below this top probability, in [0, 1] (default: the card's)",
    )
    parser.add_argument("--out", default=None, help="folder for report.json/.md/.png")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--study-labels",
        action="store_true",
        help="score against the labels as published (no label-correction files applied)",
    )
    parser.add_argument(
        "--update-card", action="store_true", help="store headline figures in the card's metrics"
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    return parser


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """Compact figures for the model card: accuracy + CI per set and per source."""
    figures: dict[str, Any] = {}
    for kind, model_report in report["models"].items():
        for name, result in model_report["sets"].items():
            entry = {
                "accuracy": round(result["accuracy"], 4),
                "ci95": [round(v, 4) for v in result["accuracy_ci95"]],
                "n": result["n"],
                "macro_f1": round(result["macro_f1"], 4),
                "ece_10": round(result["calibration"]["ece_10"], 4),
            }
            for source, values in result.get("per_source", {}).items():
                entry[f"source:{source}"] = {
                    "accuracy": round(values["accuracy"], 4),
                    "ci95": [round(v, 4) for v in values["accuracy_ci95"]],
                    "n": values["n"],
                }
            if "selective" in result:
                at = result["selective"]["at_threshold"]
                entry["selective"] = {
                    "threshold": round(at["threshold"], 4),
                    "coverage": round(at["coverage"], 4),
                    "answered_accuracy": round(at["answered_accuracy"]["accuracy"], 4),
                    "answered_ci95": [
                        round(v, 4) for v in at["answered_accuracy"]["accuracy_ci95"]
                    ],
                    "aurc": round(result["selective"]["aurc"], 4),
                }
            if "study_labels" in result:
                entry["study_labels_accuracy"] = round(result["study_labels"]["accuracy"], 4)
            figures[f"{kind}:{name}"] = entry
    for name, value in report.get("float_int8_agreement", {}).items():
        figures[f"agreement:{name}"] = round(value["agreement"], 4)
    return figures


def main(argv: list[str] | None = None, prog: str = "python -m tinyxray.evaluate") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from tinyxray import tf_logging

    tf_logging.quiet_environment(args.verbose)
    with user_errors.reporting_user_errors(parser.prog):
        status = run(args)
    return status


def run(args: argparse.Namespace) -> int:
    """Evaluates as the parsed arguments say; user mistakes raise UserError before the work."""
    model_path = Path(args.model)
    card_path = Path(args.card) if args.card else model_path.parent / model_card.CARD_FILE
    card = model_card.load(card_path) if card_path.exists() else None
    if args.update_card and card is None:
        raise UserError(f"--update-card needs a model card (none at {card_path})")
    out = user_errors.check_writable_folder(Path(args.out)) if args.out else None
    if args.threshold is not None:
        threshold = args.threshold
    else:
        threshold = card.uncertain_threshold if card else DEFAULT_THRESHOLD
    temperature = card.temperature if card else 1.0
    config = preprocess.PreprocessConfig.from_dict(card.preprocess) if card else None
    size = (config or preprocess.PreprocessConfig()).size
    predictors = [load_predictor(model_path, temperature, size)]
    if args.float_model:
        predictors.insert(0, load_predictor(Path(args.float_model), temperature, size))
    if args.split_file:
        _check_split_file(Path(args.split_file))
    report = evaluate(
        predictors,
        args.data,
        Path(args.split_file) if args.split_file else None,
        threshold,
        progress=args.progress,
        config=config,
        study_labels=args.study_labels,
    )
    if args.update_card and card is not None:
        card.metrics["evaluation"] = headline(report)
        model_card.save(card, card.path)
    report_path = write_report(report, out, card)[1] if out is not None else None
    summary = terminal_summary(report, report_path)
    print(summary + (f"\n  report: {report_path}" if report_path else ""))
    return 0


def _check_split_file(path: Path) -> None:
    from tinyxray import train

    try:
        train.read_split_csv(path)
    except (ValueError, UnicodeDecodeError, KeyError) as error:
        raise UserError(f"--split-file {path}: {user_errors.one_line(error)}") from None


if __name__ == "__main__":
    sys.exit(main())
