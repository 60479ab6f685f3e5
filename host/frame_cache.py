"""Decode + pad + resize each image file once and keep the frame on disk.

Entries are keyed by the SHA-256 of the file's bytes and the resize part of the preprocessing
config (spec version, size, pad mode), so renamed or copied files share an entry and a changed
file gets a new one. The cached frame is the output of steps 1-3 (unblurred, as the committed
sample frames); the cheap blur (step 4) is applied on read. Files that fail to decode are
cached too (their reason), so a bad file costs one decode attempt, not one per run.

Location: the `directory` argument, else $TINYXRAY_CACHE, else <repo>/.cache/ (git-ignored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from tinyxray import preprocess

ENV_VAR = "TINYXRAY_CACHE"
REPO_ROOT = Path(__file__).resolve().parents[1]


def default_directory() -> Path:
    """$TINYXRAY_CACHE if set, else <repo>/.cache."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else REPO_ROOT / ".cache"


@dataclasses.dataclass(frozen=True)
class CachedImage:
    """One decoded image: hashes, original shape and its steps 1-3 frame."""

    file_sha256: str
    pixel_sha256: str
    height: int
    width: int
    resized: np.ndarray  # size x size uint8, not blurred


@dataclasses.dataclass
class FrameSet:
    """Preprocessed frames (N, S, S) uint8 with their records; failures with reasons."""

    frames: np.ndarray
    records: list[Any]  # the records given (ImageRecord, or semi_supervised.UnlabelledImage)
    skipped: list[tuple[Path, str]]
    entries: list[CachedImage]


def pixel_sha256(gray: np.ndarray) -> str:
    """SHA-256 of decoded pixels and shape (equal for the same picture in PNG and BMP)."""
    digest = hashlib.sha256(f"{gray.shape[0]}x{gray.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(gray).tobytes())
    return digest.hexdigest()


class FrameCache:
    """Disk cache of steps 1-3 frames for one output size."""

    def __init__(self, directory: str | Path | None = None, size: int = 96) -> None:
        self.size = size
        self.namespace = f"spec{preprocess.SPEC_VERSION}-size{size}-reflect"
        self.directory = Path(directory) if directory else default_directory()
        self.root = self.directory / "frames" / self.namespace
        self.hits = 0
        self.misses = 0

    def _paths(self, file_sha: str) -> tuple[Path, Path]:
        folder = self.root / file_sha[:2]
        return folder / f"{file_sha}.npz", folder / f"{file_sha}.err"

    def entry(self, path: str | Path) -> CachedImage:
        """The cached image for a file (decoding it on a miss); raises ImageError."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise preprocess.ImageError(path, f"cannot read file: {error.strerror}") from error
        file_sha = hashlib.sha256(data).hexdigest()
        frame_path, error_path = self._paths(file_sha)
        if frame_path.is_file():
            try:
                with np.load(frame_path) as stored:
                    cached = CachedImage(
                        file_sha256=file_sha,
                        pixel_sha256=str(stored["pixel_sha256"]),
                        height=int(stored["shape"][0]),
                        width=int(stored["shape"][1]),
                        resized=stored["resized"],
                    )
                self.hits += 1
                return cached
            except (OSError, ValueError, KeyError):
                pass  # A damaged entry is rebuilt below.
        if error_path.is_file():
            self.hits += 1
            raise preprocess.ImageError(path, error_path.read_text().strip())
        self.misses += 1
        try:
            gray = preprocess.decode_grayscale(data, name=str(path))
        except preprocess.ImageError as error:
            reason = error.reason.encode()
            atomic_write(error_path, lambda handle: handle.write(reason))
            raise
        cached = CachedImage(
            file_sha256=file_sha,
            pixel_sha256=pixel_sha256(gray),
            height=gray.shape[0],
            width=gray.shape[1],
            resized=preprocess.pad_resize(gray, self.size),
        )
        atomic_write(
            frame_path,
            lambda handle: np.savez(
                handle,
                resized=cached.resized,
                pixel_sha256=np.array(cached.pixel_sha256),
                shape=np.array([cached.height, cached.width]),
            ),
        )
        return cached

    def frame(self, path: str | Path, config: preprocess.PreprocessConfig) -> np.ndarray:
        """The full steps 1-4 frame of a file for `config` (config.size must match)."""
        if config.size != self.size:
            raise ValueError(f"cache holds size {self.size}, config asks {config.size}")
        return preprocess.finish_frame(self.entry(path).resized, config)


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Writes via a temporary file and a rename, so readers never see half an entry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class HasPath(Protocol):
    """A record of an image file (labelled `ImageRecord`s and unlabelled images alike)."""

    @property
    def path(self) -> Path: ...


def load_frames(
    records: Sequence[HasPath],
    config: preprocess.PreprocessConfig | None = None,
    cache: FrameCache | None = None,
    progress: bool = False,
) -> FrameSet:
    """Preprocessed frames (steps 1-4) for records; unusable files go to `skipped`."""
    config = config or preprocess.PreprocessConfig()
    cache = cache or FrameCache(size=config.size)
    frames: list[np.ndarray] = []
    kept: list[HasPath] = []
    entries: list[CachedImage] = []
    skipped: list[tuple[Path, str]] = []
    for record in _maybe_progress(records, progress):
        try:
            entry = cache.entry(record.path)
        except preprocess.ImageError as error:
            skipped.append((record.path, error.reason))
            continue
        frames.append(preprocess.finish_frame(entry.resized, config))
        kept.append(record)
        entries.append(entry)
    stacked = (
        np.stack(frames) if frames else np.zeros((0, config.size, config.size), dtype=np.uint8)
    )
    return FrameSet(frames=stacked, records=kept, skipped=skipped, entries=entries)


def _maybe_progress(records: Sequence[HasPath], progress: bool) -> Iterable[HasPath]:
    if not progress:
        return records
    from tqdm import tqdm

    return tqdm(records, desc="frames", unit="img")
