"""Bench reports: figures from the per-frame records, written as JSON, Markdown and PNG.

Every number comes from results.jsonl and sessions.jsonl of the run folder, so
`build_report` can be re-run on any run folder, finished or interrupted.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray import metrics, selective
from tinyxray.bench import protocol

__all__ = ["build_report", "format_summary", "write_report"]

DISCLAIMER = "Research tool, not a diagnostic device."
UNCERTAIN = "uncertain"


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    array = np.asarray(values, dtype=np.float64)
    return {
        "n": len(values),
        "min": float(array.min()),
        "median": float(np.median(array)),
        "p95": float(np.percentile(array, 95)),
        "max": float(array.max()),
        "mean": float(array.mean()),
    }


def _accuracy(correct: int, total: int) -> dict[str, Any]:
    low, high = metrics.wilson_interval(correct, total)
    return {
        "correct": correct,
        "n": total,
        "value": correct / total if total else None,
        "ci95": [low, high],
    }


def _by_source(labelled: list[dict[str, Any]]) -> dict[str, Any]:
    """Device accuracy, and on its confident frames, per frame source (samples.csv)."""
    sources = sorted({record.get("source") for record in labelled if record.get("source")})
    figures = {}
    for source in sources:
        mine = [record for record in labelled if record.get("source") == source]
        sure = [record for record in mine if not record["uncertain"]]
        figures[source] = {
            "device": _accuracy(sum(r["device_label"] == r["label"] for r in mine), len(mine)),
            "confident": _accuracy(sum(r["device_label"] == r["label"] for r in sure), len(sure)),
        }
    return figures


def _selective_text(confident: dict[str, Any]) -> str:
    """The threshold, the coverage interval and the risk-coverage area, when recorded."""
    if confident.get("threshold") is None or confident.get("aurc") is None:
        return ""
    low, high = confident["coverage_ci95"]
    return (
        f" (95% CI {_pct(low)}–{_pct(high)}) at the card's uncertain threshold "
        f"{confident['threshold']:.3f}; risk–coverage area (AURC) {confident['aurc']:.4f}"
    )


def _source_lines(by_source: dict[str, Any]) -> list[str]:
    if not by_source:
        return []
    lines = ["", "| source | on device | confident frames |", "|---|---|---|"]
    lines += [
        f"| {source} | {_accuracy_text(values['device'])} | {_accuracy_text(values['confident'])} |"
        for source, values in by_source.items()
    ]
    return lines


def build_report(
    *,
    records: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    frames_total: int,
    skipped: list[dict[str, Any]] | None = None,
    unlabelled: dict[str, int] | None = None,
    model: Any,
    info: protocol.DeviceInfo | None,
    run_dir: Path,
) -> dict[str, Any]:
    """All figures of a run folder."""
    labels = list(model.labels)
    counts = Counter(record["frame"] for record in records)
    # A frame skipped in one session and sent in a later one (the file was fixed) counts
    # as done; otherwise its latest reason is reported.
    skipped_reasons = {
        entry["frame"]: entry["reason"] for entry in skipped or [] if entry["frame"] not in counts
    }
    duplicates = sorted(frame for frame, count in counts.items() if count > 1)
    device_fields = info.fields if info is not None else (sessions[-1].get("device") or {})
    backend = device_fields.get("backend", "?")
    cost_unit = device_fields.get("cost_unit", "?")

    labelled = [record for record in records if record.get("label") is not None]
    device_correct = sum(record["device_label"] == record["label"] for record in labelled)
    host_correct = sum(record["host_label"] == record["label"] for record in labelled)
    confident = [record for record in labelled if not record["uncertain"]]
    confident_correct = sum(record["device_label"] == record["label"] for record in confident)
    by_source = _by_source(labelled)
    curve = selective.risk_coverage(
        np.array([record["top_prob"] for record in labelled], np.float64),
        np.array([record["device_label"] == record["label"] for record in labelled], bool),
    )

    columns = [*labels, UNCERTAIN]
    matrix = [[0] * len(columns) for _ in labels]
    for record in labelled:
        column = UNCERTAIN if record["uncertain"] else record["device_label"]
        matrix[labels.index(record["label"])][columns.index(column)] += 1

    identical = sum(bool(record["scores_identical"]) for record in records)
    top1 = sum(bool(record["top1_agree"]) for record in records)
    # The device says whether its backend is bit-exact (INFO bit_exact); older firmware
    # without the key is taken at its backend's word: the AOT engine always is.
    bit_exact_expected = (
        protocol.claims_bit_exact(device_fields)
        if "bit_exact" in device_fields
        else backend == "aot"
    )
    mismatches = [
        {
            "frame": record["frame"],
            "device_scores": record["device_scores"],
            "host_scores": record["host_scores"],
        }
        for record in records
        if not (record["scores_identical"] if bit_exact_expected else record["top1_agree"])
    ]

    # Link figures from the latest session that streamed frames.
    streaming = [session for session in sessions if session.get("frames")]
    link: dict[str, Any] = {}
    if streaming:
        session = streaming[-1]
        session_records = [record for record in records if record.get("session") == session["id"]]
        wire = sum(r["request_wire_bytes"] + r["reply_wire_bytes"] for r in session_records)
        round_trips = sum(r["round_trip_s"] for r in session_records)
        frames_seconds = session.get("frames_seconds") or 0.0
        link = {
            "session": session["id"],
            "frames": session["frames"],
            "images_per_s": session["frames"] / frames_seconds if frames_seconds else None,
            "busy_fraction": (
                session.get("busy_seconds", 0.0) / frames_seconds if frames_seconds else None
            ),
            "throughput_bytes_per_s": wire / round_trips if round_trips else None,
            "round_trip_s": _summary([r["round_trip_s"] for r in session_records]),
            "probe": session.get("link_probe"),
            "wire_fraction": (
                wire / session["link_probe"]["bytes_per_s"] / frames_seconds
                if session.get("link_probe") and frames_seconds
                else None
            ),
            "stats": session.get("link"),
        }
    if records:
        request_overhead = [r["request_wire_bytes"] - r["pixel_bytes"] for r in records]
        pixel_bytes = sum(r["pixel_bytes"] for r in records)
        wire_total = sum(r["request_wire_bytes"] + r["reply_wire_bytes"] for r in records)
        link["overhead_bytes_per_frame"] = _summary([float(v) for v in request_overhead])
        link["overhead_fraction_per_frame"] = max(request_overhead) / max(
            1, min(r["pixel_bytes"] for r in records)
        )
        link["wire_overhead_fraction"] = (wire_total - pixel_bytes) / wire_total

    bench_runs = [session["bench"] for session in sessions if session.get("bench")]
    return {
        "disclaimer": DISCLAIMER,
        "run_dir": str(run_dir),
        "model": {"name": model.name, "sha256": model.sha256, "card": str(model.card_path)},
        "device": device_fields,
        "frames": {
            "total": frames_total,
            "done": len(counts),
            "records": len(records),
            "labelled": len(labelled),
            "duplicates": duplicates,
            "skipped": len(skipped_reasons),
            "skipped_files": [
                {"frame": frame, "reason": reason} for frame, reason in skipped_reasons.items()
            ],
            "unlabelled": unlabelled or {},
            "missing": frames_total - len(counts) - len(skipped_reasons),
        },
        "accuracy": {
            "device": _accuracy(device_correct, len(labelled)),
            "host_int8": _accuracy(host_correct, len(labelled)),
            "confident": {
                **_accuracy(confident_correct, len(confident)),
                "coverage": len(confident) / len(labelled) if labelled else None,
                "threshold": float(model.uncertain_threshold),
                "coverage_ci95": list(metrics.wilson_interval(len(confident), len(labelled))),
                "aurc": curve["aurc"] if labelled else None,
            },
            "by_source": by_source,
        },
        "confusion": {"rows": labels, "columns": columns, "matrix": matrix},
        "agreement": {
            "backend": backend,
            "bit_exact_expected": bit_exact_expected,
            "n": len(records),
            "scores_identical": identical,
            "top1_agree": top1,
            "mismatches": mismatches,
        },
        "cost": {
            "unit": cost_unit,
            "infer": _summary([float(r["infer_cost"]) for r in records]),
            "preprocess": _summary([float(r["preprocess_cost"]) for r in records]),
            "bench": bench_runs[-1] if bench_runs else None,
        },
        "link": link,
        "sessions": len(sessions),
        "resets": sum(session.get("resets", 0) for session in sessions),
        "board_restarts": sum(session.get("board_restarts", 0) for session in sessions),
    }


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer() and abs(value) < 1000:
        return f"{value:.{digits}f}"
    return f"{round(value):,}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _accuracy_text(accuracy: dict[str, Any]) -> str:
    if not accuracy["n"]:
        return "n/a (no labelled frames)"
    low, high = accuracy["ci95"]
    return (
        f"{_pct(accuracy['value'])} ({accuracy['correct']}/{accuracy['n']}, "
        f"95% CI {_pct(low)}–{_pct(high)})"
    )


def format_summary(report: dict[str, Any]) -> str:
    """A one-screen terminal summary."""
    device = report["device"]
    frames = report["frames"]
    accuracy = report["accuracy"]
    agreement = report["agreement"]
    cost = report["cost"]
    link = report["link"]
    infer = cost["infer"] or {}
    overhead = link.get("overhead_bytes_per_frame") or {}
    lines = [
        f"tinyxray bench — {report['disclaimer']}",
        f"device   {device.get('board', '?')} firmware {device.get('firmware', '?')} "
        f"backend {agreement['backend']} model {report['model']['sha256'][:12]}",
        f"frames   {frames['done']}/{frames['total']} done, {frames['skipped']} skipped, "
        f"{frames['missing']} missing, {len(frames['duplicates'])} duplicated, "
        f"{report['resets']} reset(s) survived"
        + (f" ({report['board_restarts']} board restart(s))" if report["board_restarts"] else ""),
        f"accuracy device {_accuracy_text(accuracy['device'])}",
        f"         host int8 {_accuracy_text(accuracy['host_int8'])}",
        f"agree    scores identical {agreement['scores_identical']}/{agreement['n']}, "
        f"top-1 {agreement['top1_agree']}/{agreement['n']}"
        + (
            f"; MISMATCH: {', '.join(m['frame'] for m in agreement['mismatches'][:5])}"
            if agreement["mismatches"]
            else ""
        ),
        f"cost     infer median {_fmt(infer.get('median'))} p95 {_fmt(infer.get('p95'))} "
        f"max {_fmt(infer.get('max'))} {cost['unit']}",
    ]
    if cost["bench"]:
        bench = cost["bench"]
        lines.append(
            f"BENCH    n={bench['n']} min {bench['min']:,} median {bench['median']:,} "
            f"max {bench['max']:,} {cost['unit']}"
        )
    lines += [
        f"link     {_fmt(link.get('images_per_s'), 2)} images/s end to end, a request "
        f"outstanding {_pct(link.get('busy_fraction'))} of the time",
        f"wire     {_fmt(((link.get('probe') or {}).get('bytes_per_s') or 0) / 1000, 1)} kB/s "
        f"raw (ECHO probe), carrying frames {_pct(link.get('wire_fraction'))} of the time",
        f"overhead {_fmt(overhead.get('max'))} bytes per frame "
        f"({_pct(link.get('overhead_fraction_per_frame'))} of the pixels)",
        f"report   {report['run_dir']}/report.md",
    ]
    if frames["skipped"]:
        first = frames["skipped_files"][0]
        lines.insert(
            3,
            f"skipped  {frames['skipped']} unusable file(s), e.g. {first['frame']}: "
            f"{first['reason']}; all reasons in report.md",
        )
    return "\n".join(lines)


def _markdown(report: dict[str, Any]) -> str:
    confusion = report["confusion"]
    accuracy = report["accuracy"]
    agreement = report["agreement"]
    cost = report["cost"]
    link = report["link"]
    stats = link.get("stats") or {}
    lines = [
        "# tinyxray bench report",
        "",
        f"> {report['disclaimer']} The figures below describe a model on a benchmark",
        "> set; they say nothing about fitness for any clinical use.",
        "",
        "## Device",
        "",
        "| key | value |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in sorted(report["device"].items())),
        "",
        "## Accuracy",
        "",
        f"- On device (top-1): {_accuracy_text(accuracy['device'])}",
        f"- Host int8 oracle: {_accuracy_text(accuracy['host_int8'])}",
        f"- Confident frames only: {_accuracy_text(accuracy['confident'])}, "
        f"coverage {_pct(accuracy['confident']['coverage'])}"
        + _selective_text(accuracy["confident"]),
        *_source_lines(accuracy.get("by_source") or {}),
        "",
        "Confusion matrix (rows: true label; columns: device answer, `uncertain` when the",
        "top probability is below the model's threshold):",
        "",
        "| true \\ device | " + " | ".join(confusion["columns"]) + " |",
        "|---" * (len(confusion["columns"]) + 1) + "|",
        *(
            f"| {row} | " + " | ".join(str(v) for v in values) + " |"
            for row, values in zip(confusion["rows"], confusion["matrix"], strict=True)
        ),
        "",
        "![confusion matrix](confusion.png)",
        "",
        "## Agreement with the host int8 model",
        "",
        f"Backend `{agreement['backend']}`: "
        + (
            "bit-exact, so byte-identical scores are expected."
            if agreement["bit_exact_expected"]
            else "not bit-exact, so top-1 agreement is expected."
        ),
        f"Scores identical on {agreement['scores_identical']}/{agreement['n']} frames, "
        f"top-1 on {agreement['top1_agree']}/{agreement['n']}.",
        "",
    ]
    if agreement["mismatches"]:
        lines += ["| frame | device scores | host scores |", "|---|---|---|"]
        lines += [
            f"| {m['frame']} | {m['device_scores']} | {m['host_scores']} |"
            for m in agreement["mismatches"]
        ]
        lines.append("")
    lines += [
        f"## Cost per inference ({cost['unit']})",
        "",
        "| figure | n | min | median | p95 | max |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("infer", "preprocess"):
        figures = cost[name]
        if figures:
            lines.append(
                f"| {name} | {figures['n']} | {_fmt(figures['min'])} | {_fmt(figures['median'])} "
                f"| {_fmt(figures['p95'])} | {_fmt(figures['max'])} |"
            )
    if cost["bench"]:
        bench = cost["bench"]
        lines.append(
            f"| BENCH({bench['n']}) on {bench['frame']} | {bench['n']} | {bench['min']:,} "
            f"| {bench['median']:,} | | {bench['max']:,} |"
        )
    overhead = link.get("overhead_bytes_per_frame") or {}
    round_trip = link.get("round_trip_s") or {}
    lines += [
        "",
        "![latency](latency.png)",
        "",
        "## Link",
        "",
        f"- End to end: {_fmt(link.get('images_per_s'), 2)} images/s; link busy "
        f"{_pct(link.get('busy_fraction'))} of the streaming time",
        f"- Raw transport speed (ECHO probe, one way): "
        f"{_fmt((link.get('probe') or {}).get('bytes_per_s'), 0)} bytes/s; the wire carried "
        f"frame data {_pct(link.get('wire_fraction'))} of the streaming time (the rest is "
        "the device computing and the host waiting)",
        f"- Throughput while busy: {_fmt(link.get('throughput_bytes_per_s'), 0)} bytes/s; "
        f"round trip median {_fmt(round_trip.get('median'), 4)} s, max "
        f"{_fmt(round_trip.get('max'), 4)} s",
        f"- Protocol overhead: {_fmt(overhead.get('max'))} bytes per frame request "
        f"({_pct(link.get('overhead_fraction_per_frame'))} of the pixel bytes); "
        f"{_pct(link.get('wire_overhead_fraction'))} of all bytes on the wire",
        f"- Retries {stats.get('retries', 0)}, timeouts {stats.get('timeouts', 0)}, "
        f"reconnects {stats.get('reconnects', 0)}, resets {report['resets']} (all sessions), "
        f"discarded frames {stats.get('discarded_frames', 0)}",
        f"- Frames {report['frames']['done']}/{report['frames']['total']}, "
        f"skipped {report['frames']['skipped']}, "
        f"duplicates {len(report['frames']['duplicates'])}, sessions {report['sessions']}, "
        f"virtual-board restarts {report.get('board_restarts', 0)}",
        "",
    ]
    frames = report["frames"]
    if frames["unlabelled"]:
        lines += [
            "## Unlabelled frames",
            "",
            "Counted for agreement and cost, not for accuracy: no parent folder names a model",
            "label.",
            "",
            "| folder | frames |",
            "|---|---|",
            *(f"| {folder}/ | {count} |" for folder, count in frames["unlabelled"].items()),
            "",
        ]
    if frames["skipped_files"]:
        lines += [
            f"## Skipped files ({frames['skipped']})",
            "",
            "These files could not be used (the same checks as `tinyxray evaluate`):",
            "",
            *(f"- {entry['frame']}: {entry['reason']}" for entry in frames["skipped_files"]),
            "",
        ]
    return "\n".join(lines)


def _plots(report: dict[str, Any], records: list[dict[str, Any]], run_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    confusion = report["confusion"]
    matrix = np.asarray(confusion["matrix"])
    figure, axes = pyplot.subplots(figsize=(5.5, 4.2))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(confusion["columns"])), confusion["columns"], rotation=30)
    axes.set_yticks(range(len(confusion["rows"])), confusion["rows"])
    axes.set_xlabel("device answer")
    axes.set_ylabel("true label")
    for (row, column), value in np.ndenumerate(matrix):
        color = "white" if value > matrix.max() / 2 else "black"
        axes.text(column, row, str(value), ha="center", va="center", color=color)
    axes.set_title("On-device confusion (research tool, not diagnostic)", fontsize=9)
    figure.tight_layout()
    figure.savefig(run_dir / "confusion.png", dpi=110)
    pyplot.close(figure)

    figure = latency_figure(report, records)
    figure.savefig(run_dir / "latency.png", dpi=110)
    pyplot.close(figure)


def latency_figure(report: dict[str, Any], records: list[dict[str, Any]]) -> Any:
    """Histograms of the inference cost (in readable units) and the round trip per frame."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (cost_axes, rtt_axes) = pyplot.subplots(1, 2, figsize=(9, 3.6))
    scale, unit = readable_cost_unit(report["cost"]["unit"])
    _histogram(cost_axes, [scale * record["infer_cost"] for record in records], "tab:blue")
    cost_axes.set_xlabel(f"inference cost per frame ({unit})")
    cost_axes.set_ylabel("frames")
    _histogram(rtt_axes, [1000 * record["round_trip_s"] for record in records], "tab:orange")
    rtt_axes.set_xlabel("round trip per frame (ms)")
    rtt_axes.set_ylabel("frames")
    figure.suptitle("Latency per frame", fontsize=10)
    figure.tight_layout()
    return figure


# Device cost units -> (factor, unit shown): millions of instructions, milliseconds.
READABLE_UNITS: dict[str, tuple[float, str]] = {
    "instructions": (1e-6, "M instructions"),
    "cycles": (1e-6, "M cycles"),
    "ns": (1e-6, "ms"),
    "us": (1e-3, "ms"),
    "µs": (1e-3, "ms"),
    "ms": (1.0, "ms"),
}


def readable_cost_unit(unit: str) -> tuple[float, str]:
    """The factor and unit a cost histogram uses for the device's `cost_unit`."""
    return READABLE_UNITS.get(unit, (1.0, unit))


def _histogram(axes: Any, values: list[float], color: str) -> None:
    """A histogram with whole-number counts and plain tick labels (no 1e7 offset)."""
    from matplotlib import ticker

    data = np.asarray(values or [0.0], dtype=np.float64)
    spread = float(data.max() - data.min())
    bins = 1 if spread == 0 else min(30, max(1, len(np.histogram_bin_edges(data, "auto")) - 1))
    axes.hist(data, bins=bins, color=color)
    axes.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5))
    axes.xaxis.set_major_formatter(ticker.ScalarFormatter(useOffset=False))
    axes.ticklabel_format(axis="x", style="plain", useOffset=False)


def write_report(report: dict[str, Any], run_dir: Path) -> None:
    """report.json, report.md, confusion.png, latency.png in the run folder."""
    from tinyxray.bench.results_log import read_records

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (run_dir / "report.md").write_text(_markdown(report), encoding="utf-8")
    _plots(report, read_records(run_dir / "results.jsonl"), run_dir)
