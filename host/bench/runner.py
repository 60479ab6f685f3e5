"""Runs the bench: handshake, stream frames, compare with the host int8 oracle, log.

The runner owns one Link. It checks the device over HELLO (protocol version,
model hash, labels, input tensor), then sends every frame as INFER format 0
(8-bit grayscale, model size; the device blurs and quantises it), compares the
RESULT with the host int8 model on the same frame, and appends one JSONL record
per frame as soon as it arrives. A device reset or a vanished port costs one
handshake and a resend of the frame in flight, never a lost or duplicated
result; `resume` continues a run folder where it stopped, on the same device only.
A file that cannot be decoded is skipped with its reason (skipped.jsonl), as
`tinyxray evaluate` does; only a run where every frame is skipped fails.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinyxray.bench import link as link_module
from tinyxray.bench import protocol
from tinyxray.bench.results_log import JsonlLog, read_records

__all__ = [
    "BenchConfig",
    "BenchRun",
    "FrameSpec",
    "HandshakeError",
    "ModelFacts",
    "list_frames",
    "unlabelled_folders",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_CARD = REPO_ROOT / "models" / "default" / "model_card.json"
DEFAULT_DATA_DIR = REPO_ROOT / "models" / "samples"
DISCLAIMER = "Research tool, not a diagnostic device."
PREPARE_THREADS = 2
RUN_FILE = "run.json"
# Device facts that make two sessions' results comparable: a resumed run must keep them.
SAME_DEVICE_FIELDS = ("board", "backend", "firmware", "model_sha256", "cost_unit")


class HandshakeError(RuntimeError):
    """The device cannot run this bench (other model, other protocol, other input)."""


class BenchDataError(ValueError):
    """The frames to bench cannot be listed or read."""


# ---------------------------------------------------------------------------
# The host side: model facts, frames, oracle.


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """What the bench needs from the model card."""

    card_path: Path
    name: str
    sha256: str
    tflite_path: Path
    labels: tuple[str, ...]
    input_shape: tuple[int, int, int]
    input_scale: float
    input_zero_point: int
    uncertain_threshold: float
    preprocess: dict[str, Any]

    @classmethod
    def load(cls, card_path: Path) -> ModelFacts:
        """Reads the card and checks that its .tflite exists with the card's sha256.

        `card_path` may also be the card's folder, or the .tflite with its card beside it.
        """
        from tinyxray import model_card

        card_path = resolve_model_card(Path(card_path))
        try:
            card = model_card.load(card_path)
        except UnicodeDecodeError:
            raise model_card.ModelCardError(
                f"--model {card_path} is not a model card (JSON); pass model_card.json, "
                "its folder, or the .tflite with its model_card.json beside it"
            ) from None
        card.verify_file()
        shape = [int(value) for value in card.input.shape]
        if len(shape) != 4:
            raise model_card.ModelCardError(f"{card_path}: input shape {shape} is not [1,H,W,C]")
        return cls(
            card_path=Path(card.path or card_path),
            name=card.name,
            sha256=card.sha256.lower(),
            tflite_path=card.tflite_path,
            labels=tuple(card.labels),
            input_shape=(shape[1], shape[2], shape[3]),
            input_scale=float(card.input.scale),
            input_zero_point=int(card.input.zero_point),
            uncertain_threshold=float(card.uncertain_threshold),
            preprocess=dict(card.preprocess),
        )


def resolve_model_card(path: Path) -> Path:
    """The model card for --model: the path itself, CARD/model_card.json, or beside a .tflite."""
    from tinyxray import model_card

    if path.suffix != ".tflite":
        return path
    card_path = path.parent / model_card.CARD_FILE
    if not card_path.is_file():
        raise model_card.ModelCardError(
            f"--model {path}: the bench needs the model card (labels, quantisation, "
            f"preprocessing) and there is no {model_card.CARD_FILE} beside this .tflite"
        )
    card = model_card.load(card_path)
    if card.tflite_path != path.resolve():
        raise model_card.ModelCardError(
            f"--model {path}: the {model_card.CARD_FILE} beside it describes {card.tflite}; "
            "pass that card with --model"
        )
    return card_path


@dataclasses.dataclass(frozen=True)
class FrameSpec:
    """One frame to bench: a unique name (its path below the data folder), the file, its label."""

    name: str
    path: Path
    label: str | None
    source: str | None = None  # samples.csv's source column, for per-source figures


def list_frames(data_dir: Path, labels: tuple[str, ...]) -> list[FrameSpec]:
    """The frames of a folder: samples.csv (file,label,...) if present, else every image file.

    Without samples.csv the image files and their labels are found as `tinyxray evaluate`
    finds them (tinyxray.data: the same image suffixes, hidden files left out, the same
    class-name aliases): a frame's label is the nearest parent folder that names a model
    label, else None (the frame counts for agreement and cost, not for accuracy; see
    `unlabelled_folders`).
    """
    from tinyxray import data

    if not data_dir.is_dir():
        raise BenchDataError(f"--data {data_dir} is not a folder")
    by_lower = {label.lower(): label for label in labels}
    manifest = data_dir / "samples.csv"
    frames: list[FrameSpec] = []
    if manifest.is_file():
        import csv

        with manifest.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if "file" not in row:
                    raise BenchDataError(f"{manifest} has no 'file' column")
                path = data_dir / row["file"]
                if not path.is_file():
                    raise BenchDataError(f"{manifest} lists {row['file']}, which is missing")
                raw_label = (row.get("label") or "").strip()
                label = _folder_label(raw_label, by_lower) if raw_label else None
                if raw_label and label is None:
                    raise BenchDataError(
                        f"{manifest}: label {raw_label!r} of {row['file']} is not one of {labels}"
                    )
                source = (row.get("source") or "").strip() or None
                frames.append(FrameSpec(row["file"], path, label, source))
    else:
        for path in data.files_below(data_dir):
            if not data.has_image_suffix(path):
                continue
            relative = path.relative_to(data_dir)
            label = next(
                (
                    found
                    for part in reversed(relative.parts[:-1])
                    if (found := _folder_label(part, by_lower)) is not None
                ),
                None,
            )
            frames.append(FrameSpec(relative.as_posix(), path, label))
    if not frames:
        raise BenchDataError(f"no image frames in {data_dir}")
    return frames


def _folder_label(folder: str, by_lower: dict[str, str]) -> str | None:
    """The model label a folder name stands for ("normal", "Viral Pneumonia"), if any."""
    from tinyxray import data

    label = data.label_for_name(folder) or folder
    return by_lower.get(label.lower())


def unlabelled_folders(frames: list[FrameSpec]) -> dict[str, int]:
    """Unlabelled frames per folder ("." for the data folder itself), for the user to see."""
    counts: dict[str, int] = {}
    for frame in frames:
        if frame.label is None:
            folder = Path(frame.name).parent.as_posix()
            counts[folder] = counts.get(folder, 0) + 1
    return dict(sorted(counts.items()))


@dataclasses.dataclass(frozen=True)
class PreparedFrame:
    """A frame ready to send, with the host oracle's answer."""

    spec: FrameSpec
    pixels: np.ndarray  # uint8 HxW, preprocessing steps 1-3 (the device does 4-5)
    host_scores: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class SkippedFrame:
    """A frame whose file cannot be used, with the reason (as evaluate reports it)."""

    spec: FrameSpec
    reason: str


class HostPipeline:
    """The shared preprocessing and the host int8 oracle for one model."""

    def __init__(self, model: ModelFacts) -> None:
        from tinyxray import preprocess, tflm_oracle

        self._preprocess = preprocess
        self.model = model
        height, width, _ = model.input_shape
        if height != width:
            raise ValueError(f"the bench sends square frames; the model takes {height}x{width}")
        # The device receives the frame after steps 1-3 and applies 4-5 itself,
        # exactly as the committed sample frames are stored.
        self.model_config = preprocess.PreprocessConfig.from_dict(model.preprocess)
        self.send_config = self.model_config.steps_1_to_3()
        self.oracle = tflm_oracle.Int8Model(model.tflite_path)
        # Decoding runs in parallel threads; the interpreter is used by one at a time.
        self._oracle_lock = threading.Lock()

    def prepare(self, spec: FrameSpec) -> PreparedFrame | SkippedFrame:
        try:
            pixels = self._preprocess.preprocess_file(spec.path, self.send_config)
        except self._preprocess.ImageError as error:
            return SkippedFrame(spec, error.reason)
        model_input = self._preprocess.to_int8(
            self._preprocess.preprocess_array(pixels, self.model_config),
            self.model.input_scale,
            self.model.input_zero_point,
        )
        with self._oracle_lock:
            scores = self.oracle.invoke(model_input.reshape(self.model.input_shape))
        return PreparedFrame(
            spec, np.ascontiguousarray(pixels, dtype=np.uint8), tuple(map(int, scores))
        )


# ---------------------------------------------------------------------------
# Handshake.


def check_device(info: protocol.DeviceInfo, model: ModelFacts) -> None:
    """Raises HandshakeError when the device cannot run this model's bench."""
    if info.protocol != protocol.PROTOCOL_VERSION:
        raise HandshakeError(
            f"the device speaks protocol {info.protocol}, this bench protocol "
            f"{protocol.PROTOCOL_VERSION}: update the firmware or the host to the same version"
        )
    if info.model_sha256 != model.sha256:
        raise HandshakeError(
            f"model mismatch: the device runs model sha256 {info.model_sha256[:16]}…, "
            f"the host model {model.card_path} is {model.sha256[:16]}…; flash firmware built "
            "from this model card or pass --model with the card the firmware was built from"
        )
    if tuple(info.labels) != model.labels:
        raise HandshakeError(f"device labels {info.labels} differ from the card's {model.labels}")
    if info.input_shape != model.input_shape:
        raise HandshakeError(
            f"device input {info.input_shape} differs from the card's {model.input_shape}"
        )
    if (info.input_scale, info.input_zero_point) != (model.input_scale, model.input_zero_point):
        raise HandshakeError(
            f"device input quantisation ({info.input_scale}, {info.input_zero_point}) differs "
            f"from the card's ({model.input_scale}, {model.input_zero_point})"
        )


def handshake(link: link_module.Link, model: ModelFacts | None = None) -> protocol.DeviceInfo:
    """HELLO -> INFO, checked against the model when given. Boot chatter is skipped."""
    try:
        reply = link.call(protocol.Command.HELLO, expect=protocol.Reply.INFO, ignore_boot=True)
    except link_module.LinkTimeout as error:
        raise HandshakeError(
            f"no answer to HELLO from {link.url}: is the tinyxray firmware flashed and "
            f"running, and is this its port? ({error})"
        ) from error
    info = protocol.parse_info(reply.payload)
    if model is not None:
        check_device(info, model)
    return info


# ---------------------------------------------------------------------------
# The run.


@dataclasses.dataclass
class BenchConfig:
    """Settings of one bench run (bench.py's options)."""

    port: str
    data_dir: Path = DEFAULT_DATA_DIR
    model_card: Path = DEFAULT_MODEL_CARD
    out_dir: Path | None = None
    resume: Path | None = None
    bench_n: int = 20
    timeout: float = 10.0
    retries: int = 2
    reopen_timeout: float = 30.0
    max_resets: int = 5
    max_frames: int | None = None
    progress: bool = True
    # What --port was on the command line ("qemu", "/dev/ttyACM0"), kept for the resume hint.
    port_spec: str | None = None
    # Called when the port fails, before reopening it: restarts a virtual board that died
    # and returns a note saying so (None when there was nothing to restart).
    revive: Callable[[], str | None] | None = None
    # Settings a resumed run takes from run.json unless given again.
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder (BenchDataError when missing or damaged)."""
    path = run_dir / RUN_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchDataError(f"--resume {run_dir}: no {RUN_FILE}, not a bench run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BenchDataError(f"--resume {run_dir}: {RUN_FILE} is damaged ({error})") from None
    if not isinstance(meta, dict):
        raise BenchDataError(f"--resume {run_dir}: {RUN_FILE} is not a JSON object")
    return meta


def check_same_device(run_dir: Path, before: dict[str, str], now: dict[str, str]) -> None:
    """Refuses to resume on a device whose results would not be comparable (one line)."""
    changed = [
        f"{key} {before[key]!r} -> {now.get(key)!r}"
        for key in SAME_DEVICE_FIELDS
        if key in before and before[key] != now.get(key)
    ]
    if changed:
        raise BenchDataError(
            f"--resume {run_dir}: that run measured another device ({'; '.join(changed)}); "
            "its results cannot be mixed with this one's, so start a new run (--out)"
        )


def new_run_dir(root: Path) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = root / f"bench-{stamp}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = root / f"bench-{stamp}-{suffix}"
    return run_dir


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class BenchRun:
    """One bench run into a run folder (new, or resumed)."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.on_result = on_result
        self.model = ModelFacts.load(config.model_card)
        self.frames = list_frames(config.data_dir, self.model.labels)
        names = [frame.name for frame in self.frames]
        if len(set(names)) != len(names):
            raise BenchDataError("two frames share a name")
        if config.resume is not None:
            self.run_dir = config.resume
            if not (self.run_dir / RUN_FILE).is_file():
                raise BenchDataError(
                    f"--resume {self.run_dir}: no {RUN_FILE}, not a bench run folder"
                )
        else:
            self.run_dir = config.out_dir or new_run_dir(REPO_ROOT / "runs")
            if (self.run_dir / RUN_FILE).exists():
                raise BenchDataError(
                    f"{self.run_dir} already holds a bench run: continue it with "
                    "--resume, or choose another --out"
                )
        self.info: protocol.DeviceInfo | None = None
        self.link: link_module.Link | None = None
        self.session: dict[str, Any] = {}

    # -- run metadata --------------------------------------------------------

    def _write_or_check_meta(self, info: protocol.DeviceInfo) -> None:
        meta_path = self.run_dir / RUN_FILE
        meta = {
            "model_card": str(self.model.card_path.resolve()),
            "model_sha256": self.model.sha256,
            "data_dir": str(self.config.data_dir.resolve()),
            "frames": len(self.frames),
            "port": self.config.port,
            "port_spec": self.config.port_spec or self.config.port,
            "options": self.config.options,
            "device": info.fields,
            "created": _now(),
            "disclaimer": DISCLAIMER,
        }
        if meta_path.is_file():
            previous = read_run_meta(self.run_dir)
            for key in ("model_sha256", "data_dir"):
                if previous.get(key) != meta[key]:
                    raise BenchDataError(
                        f"--resume {self.run_dir}: {key} was {previous.get(key)!r}, "
                        f"now {meta[key]!r}; start a new run instead"
                    )
            check_same_device(self.run_dir, previous.get("device") or {}, info.fields)
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    # -- transactions --------------------------------------------------------

    def _recover(self, reason: Exception) -> None:
        """After a reset: handshake again (the same model must come back)."""
        assert self.link is not None
        self.session["resets"] += 1
        self.session["reset_reasons"].append(str(reason))
        for _ in range(self.config.max_resets):
            try:
                self.info = handshake(self.link, self.model)
                return
            except link_module.DeviceReset as error:
                self.session["reset_reasons"].append(str(error))
        self.info = handshake(self.link, self.model)

    def _transact(
        self, command: protocol.Command, payload: bytes, expect: protocol.Reply, timeout: float
    ) -> protocol.Packet:
        assert self.link is not None
        for _ in range(self.config.max_resets + 1):
            assert self.info is not None
            max_packet = self.info.max_packet
            # A device that drops bytes once its receive buffer is full (INFO rx_window_bytes).
            self.info.check_request_fits(protocol.request_wire_bytes(len(payload), max_packet))
            try:
                if len(payload) + protocol.MIN_PACKET_BYTES > max_packet:
                    return self.link.call_chunked(
                        command, payload, expect, max_packet, timeout=timeout
                    )
                return self.link.call(command, payload, expect, timeout=timeout)
            except link_module.DeviceReset as error:
                self._recover(error)
        raise link_module.LinkError(
            f"{command.name}: the device reset more than {self.config.max_resets} times in a row"
        )

    def _probe_link(self, rounds: int = 3) -> dict[str, float] | None:
        """Times ECHO of a frame-sized payload: the raw speed of the transport, one way."""
        assert self.link is not None and self.info is not None
        height, width, _ = self.info.input_shape
        size = min(height * width, self.info.max_packet - protocol.MIN_PACKET_BYTES)
        payload = bytes(range(1, 256)) * (size // 255 + 1)
        payload = payload[:size]
        wire = len(protocol.encode_frame(protocol.Command.ECHO, 1, payload))
        times = []
        for _ in range(rounds):
            started = time.monotonic()
            try:
                self.link.call(protocol.Command.ECHO, payload, protocol.Reply.ECHO_REPLY)
            except link_module.DeviceReset as error:
                self._recover(error)
                return None
            times.append(time.monotonic() - started)
        round_trip = float(np.median(times))
        # The device reads the whole request before it answers: out and back in sequence.
        return {
            "payload_bytes": size,
            "round_trip_s": round_trip,
            "bytes_per_s": 2 * wire / round_trip,
        }

    def _infer(self, prepared: PreparedFrame) -> tuple[protocol.Packet, bytes, float]:
        height, width = prepared.pixels.shape
        payload = protocol.infer_payload(prepared.pixels, width, height)
        started = time.monotonic()
        reply = self._transact(
            protocol.Command.INFER, payload, protocol.Reply.RESULT, self.config.timeout
        )
        return reply, payload, time.monotonic() - started

    # -- records ---------------------------------------------------------------

    def _record(
        self,
        index: int,
        prepared: PreparedFrame,
        reply: protocol.Packet,
        payload: bytes,
        seconds: float,
    ) -> dict[str, Any]:
        result = protocol.parse_result(reply.payload)
        labels = self.model.labels
        if len(result.scores) != len(labels):
            raise protocol.ProtocolError(
                f"{prepared.spec.name}: RESULT has {len(result.scores)} scores "
                f"for {len(labels)} labels"
            )
        host_label = int(np.argmax(prepared.host_scores))
        request_wire = len(protocol.encode_frame(protocol.Command.INFER, 1, payload))
        reply_wire = len(protocol.encode_frame(reply.type, reply.request_id, reply.payload))
        return {
            "frame": prepared.spec.name,
            "index": index,
            "label": prepared.spec.label,
            "source": prepared.spec.source,
            "device_label": labels[result.label],
            "uncertain": result.uncertain,
            "top_prob": round(result.top_prob, 6),
            "device_scores": list(result.scores),
            "preprocess_cost": result.preprocess_cost,
            "infer_cost": result.infer_cost,
            "host_label": labels[host_label],
            "host_scores": list(prepared.host_scores),
            "scores_identical": list(result.scores) == list(prepared.host_scores),
            "top1_agree": result.label == host_label,
            "pixel_bytes": int(prepared.pixels.size),
            "request_wire_bytes": request_wire,
            "reply_wire_bytes": reply_wire,
            "round_trip_s": round(seconds, 6),
            "session": self.session["id"],
            "time": _now(),
        }

    def _prepared_frames(
        self, pipeline: HostPipeline, pending: list[tuple[int, FrameSpec]]
    ) -> Iterator[tuple[int, PreparedFrame | SkippedFrame]]:
        """Prepares the next frames in worker threads while the link is busy."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=PREPARE_THREADS) as executor:
            futures = [
                (index, executor.submit(pipeline.prepare, spec))
                for index, spec in pending[: PREPARE_THREADS + 1]
            ]
            next_index = len(futures)
            while futures:
                index, future = futures.pop(0)
                if next_index < len(pending):
                    upcoming, spec = pending[next_index]
                    futures.append((upcoming, executor.submit(pipeline.prepare, spec)))
                    next_index += 1
                yield index, future.result()

    # -- BENCH -------------------------------------------------------------------

    def _bench(self, last: PreparedFrame | None, per_frame_s: float) -> dict[str, Any] | None:
        count = self.config.bench_n
        if count <= 0:
            return None
        if last is None:
            raise BenchDataError("BENCH needs one frame to run on")
        timeout = max(self.config.timeout, 5.0 + 3.0 * count * per_frame_s)
        payload = protocol.bench_payload(count)
        for _ in range(self.config.max_resets + 1):
            # After a reset the device has no frame yet; INFER one first.
            try:
                reply = self._transact(
                    protocol.Command.BENCH, payload, protocol.Reply.BENCH_RESULT, timeout
                )
                break
            except link_module.DeviceErrorReply as error:
                if error.error.code != protocol.ErrorCode.NO_FRAME:
                    raise
                self._infer(last)
        else:
            raise link_module.LinkError("BENCH kept failing after resets")
        result = protocol.parse_bench_result(reply.payload)
        return {
            "n": result.count,
            "min": result.minimum,
            "median": result.median,
            "max": result.maximum,
            "frame": last.spec.name,
        }

    # -- main ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Runs (or resumes) the bench; returns the report dict (also written to the folder).

        Raises BenchDataError, after writing the report, when every frame was skipped.
        """
        config = self.config
        pipeline = HostPipeline(self.model)
        url = link_module.resolve_port(config.port)
        self.link = link_module.Link(
            url,
            timeout=config.timeout,
            retries=config.retries,
            reopen_timeout=config.reopen_timeout,
            on_lost=self._revive if config.revive is not None else None,
            on_log=_print_device_log,
        )
        with self.link:
            # Nothing is written before the device proves it runs this model.
            self.info = handshake(self.link, self.model)
            self._write_or_check_meta(self.info)
            with (
                JsonlLog(self.run_dir / "results.jsonl") as results,
                JsonlLog(self.run_dir / "skipped.jsonl") as skipped,
                JsonlLog(self.run_dir / "sessions.jsonl") as sessions,
            ):
                self.session = {
                    "id": len(sessions.records) + 1,
                    "started": _now(),
                    "port": config.port,
                    "url": url,
                    "resets": 0,
                    "reset_reasons": [],
                    "board_restarts": 0,
                    "frames": 0,
                    "skipped": 0,
                    "torn_bytes_dropped": results.torn_bytes,
                    "interrupted": True,
                }
                try:
                    self.session["link_probe"] = self._probe_link()
                    self._stream(pipeline, results, skipped)
                    self.session["interrupted"] = False
                finally:
                    self.session["ended"] = _now()
                    self.session["link"] = self.link.stats.as_dict()
                    self.session["device"] = self.info.fields
                    # The device's own text (TFLM errors, boot notes) stays with the run.
                    self.session["device_log"] = list(self.link.device_log)
                    sessions.append(self.session)
        report = self.write_report()
        frames = report["frames"]
        if frames["done"] == 0 and frames["skipped"] == frames["total"]:
            first = frames["skipped_files"][0]
            raise BenchDataError(
                f"every frame was skipped ({frames['skipped']}; first {first['frame']}: "
                f"{first['reason']}); reasons in {self.run_dir / 'report.md'}"
            )
        return report

    def _revive(self) -> str | None:
        """The link lost its port: let the owner of a virtual board restart it."""
        assert self.config.revive is not None
        note = self.config.revive()
        if note:
            self.session["board_restarts"] = self.session.get("board_restarts", 0) + 1
        return note

    def _stream(self, pipeline: HostPipeline, results: JsonlLog, skipped: JsonlLog) -> None:
        """Sends every frame not yet in `results` (skipping unusable files), then BENCH."""
        assert self.link is not None
        config = self.config
        done = {record["frame"] for record in results.records}
        pending = [(index, spec) for index, spec in enumerate(self.frames) if spec.name not in done]
        if config.max_frames is not None:
            pending = pending[: config.max_frames]
        started = time.monotonic()
        busy_before = self.link.stats.busy_seconds
        last: PreparedFrame | None = None
        skipped_now: set[str] = set()
        progress = _progress(len(self.frames), len(done), config.progress)
        try:
            for index, prepared in self._prepared_frames(pipeline, pending):
                if isinstance(prepared, SkippedFrame):
                    skipped.append(
                        {
                            "frame": prepared.spec.name,
                            "index": index,
                            "reason": prepared.reason,
                            "session": self.session["id"],
                            "time": _now(),
                        }
                    )
                    skipped_now.add(prepared.spec.name)
                    self.session["skipped"] += 1
                    progress.update(1)
                    continue
                reply, payload, seconds = self._infer(prepared)
                record = self._record(index, prepared, reply, payload, seconds)
                results.append(record)
                self.session["frames"] += 1
                last = prepared
                progress.update(1)
                if self.on_result is not None:
                    self.on_result(record)
        finally:
            progress.close()
            self.session["frames_seconds"] = round(time.monotonic() - started, 6)
            self.session["busy_seconds"] = round(self.link.stats.busy_seconds - busy_before, 6)
        recorded = {record["frame"] for record in results.records}
        finished = len(recorded | skipped_now) == len(self.frames)
        if config.bench_n <= 0 or not finished or not results.records:
            return
        if last is None:
            # A resumed run with nothing left to send: give BENCH a frame to run on.
            by_name = {spec.name: spec for spec in self.frames}
            again = pipeline.prepare(by_name[results.records[-1]["frame"]])
            if isinstance(again, SkippedFrame):
                raise BenchDataError(f"{again.spec.name} became unreadable: {again.reason}")
            last = again
            self._infer(last)
        median_round_trip = float(np.median([r["round_trip_s"] for r in results.records]))
        self.session["bench"] = self._bench(last, median_round_trip)

    def write_report(self) -> dict[str, Any]:
        """Builds the report from the run folder's logs and writes JSON, Markdown and PNG."""
        from tinyxray.bench import report as report_module

        report = report_module.build_report(
            records=read_records(self.run_dir / "results.jsonl"),
            sessions=read_records(self.run_dir / "sessions.jsonl"),
            skipped=read_records(self.run_dir / "skipped.jsonl"),
            unlabelled=unlabelled_folders(self.frames),
            frames_total=len(self.frames),
            model=self.model,
            info=self.info,
            run_dir=self.run_dir,
        )
        report_module.write_report(report, self.run_dir)
        return report


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="frame", desc="bench", leave=False)


def _print_device_log(line: str) -> None:
    """Shows a LOG line from the device on stderr, where it cannot mix with results."""
    print(f"device: {line}", file=sys.stderr, flush=True)
