"""The tinyxray serial protocol v1, host side: pure encode/decode functions.

This module follows docs/protocol.md; firmware/lib/core/protocol* is its C twin.
It does no I/O: link.py moves the bytes, runner.py decides what to send.

Wire format: each packet is COBS-encoded and followed by one 0x00 delimiter.
A decoded packet is `version u8, type u8, request_id u16, payload, crc32 u32`,
all little-endian, the CRC (zlib.crc32) covering everything before it.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import zlib
from collections.abc import Iterator

import numpy as np
from cobs import cobs

__all__ = [
    "HEADER_BYTES",
    "PROTOCOL_VERSION",
    "BenchResult",
    "Command",
    "DeviceError",
    "DeviceInfo",
    "ErrorCode",
    "FrameReply",
    "InferResult",
    "Packet",
    "PacketError",
    "ProtocolError",
    "Reply",
    "StreamDecoder",
]

PROTOCOL_VERSION = 1
HEADER_BYTES = 4
CRC_BYTES = 4
MIN_PACKET_BYTES = HEADER_BYTES + CRC_BYTES
ERROR_REQUEST_ID = 0xFFFF
DELIMITER = b"\x00"
BENCH_MAX_N = 1000
INFER_HEADER = struct.Struct("<HHB")
CHUNK_HEADER = struct.Struct("<BII")
RESULT_HEADER = struct.Struct("<BBHIIB")
BENCH_RESULT = struct.Struct("<HIII")
FRAME_HEADER = struct.Struct("<HH")


class Command(enum.IntEnum):
    """Request types (host to device)."""

    HELLO = 0x01
    INFER = 0x02
    BENCH = 0x03
    CAMERA = 0x04
    ECHO = 0x05
    CHUNK = 0x06


class Reply(enum.IntEnum):
    """Reply types (device to host)."""

    BOOT = 0x80
    INFO = 0x81
    RESULT = 0x82
    BENCH_RESULT = 0x83
    FRAME = 0x84
    ECHO_REPLY = 0x85
    LOG = 0x86
    ERROR = 0xFF


class ErrorCode(enum.IntEnum):
    """ERROR reply codes."""

    BAD_FRAME = 1
    BAD_CRC = 2
    BAD_VERSION = 3
    UNKNOWN_COMMAND = 4
    BAD_LENGTH = 5
    BAD_FRAME_SIZE = 6
    TOO_LARGE = 7
    PENDING = 8
    NO_FRAME = 9
    UNSUPPORTED = 10
    BAD_ARGUMENT = 11
    BACKEND_ERROR = 12


class InferFormat(enum.IntEnum):
    """INFER pixel formats."""

    GRAY8 = 0
    INT8_TENSOR = 1


class ProtocolError(ValueError):
    """A reply or a frame that does not follow the protocol."""


class PacketError(ProtocolError):
    """A received frame that is not a valid packet; `code` is the matching ErrorCode."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code


# ---------------------------------------------------------------------------
# COBS and CRC.


def cobs_encode(data: bytes) -> bytes:
    """COBS-encodes `data` (no delimiter). A final full block gets no extra code byte.

    The `cobs` package's C codec: byte-identical with the firmware's and with the
    hand-written one it replaced (tests/test_protocol.py's vectors and random data).
    """
    return cobs.encode(bytes(data))


def cobs_decode(data: bytes) -> bytes:
    """Decodes one COBS frame (without its delimiter); raises PacketError(BAD_FRAME)."""
    if not data:
        raise PacketError(ErrorCode.BAD_FRAME, "empty COBS frame")
    try:
        return cobs.decode(bytes(data))
    except cobs.DecodeError as error:
        raise PacketError(ErrorCode.BAD_FRAME, f"invalid COBS frame: {error}") from None


def cobs_max_overhead(length: int) -> int:
    """Worst-case COBS overhead in bytes for `length` input bytes."""
    return max(1, (length + 253) // 254)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC, as zlib.crc32."""
    return zlib.crc32(data) & 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Packets.


@dataclasses.dataclass(frozen=True)
class Packet:
    """One decoded packet."""

    type: int
    request_id: int
    payload: bytes = b""
    version: int = PROTOCOL_VERSION

    @property
    def name(self) -> str:
        """The command or reply name, or the type in hex when unknown."""
        for kind in (Command, Reply):
            try:
                return kind(self.type).name
            except ValueError:
                continue
        return f"0x{self.type:02X}"


def encode_packet(
    packet_type: int, request_id: int, payload: bytes = b"", version: int = PROTOCOL_VERSION
) -> bytes:
    """The decoded packet bytes (header, payload, CRC), before COBS."""
    if not 0 <= packet_type <= 0xFF:
        raise ValueError(f"packet type {packet_type} is not a byte")
    if not 0 <= request_id <= 0xFFFF:
        raise ValueError(f"request id {request_id} is not a u16")
    if not 0 <= version <= 0xFF:
        raise ValueError(f"version {version} is not a byte")
    body = struct.pack("<BBH", version, packet_type, request_id) + bytes(payload)
    return body + struct.pack("<I", crc32(body))


def frame_bytes(decoded: bytes) -> bytes:
    """COBS-encodes decoded packet bytes and appends the delimiter: the bytes on the wire."""
    return cobs_encode(decoded) + DELIMITER


def encode_frame(
    packet_type: int, request_id: int, payload: bytes = b"", version: int = PROTOCOL_VERSION
) -> bytes:
    """The wire bytes of one packet."""
    return frame_bytes(encode_packet(packet_type, request_id, payload, version))


def decode_packet(decoded: bytes) -> Packet:
    """Checks length, CRC and version of decoded packet bytes; raises PacketError."""
    if len(decoded) < MIN_PACKET_BYTES:
        raise PacketError(
            ErrorCode.BAD_FRAME,
            f"packet of {len(decoded)} bytes is shorter than {MIN_PACKET_BYTES}",
        )
    body, (received_crc,) = decoded[:-CRC_BYTES], struct.unpack("<I", decoded[-CRC_BYTES:])
    expected_crc = crc32(body)
    if received_crc != expected_crc:
        raise PacketError(
            ErrorCode.BAD_CRC, f"CRC 0x{received_crc:08X}, expected 0x{expected_crc:08X}"
        )
    version, packet_type, request_id = struct.unpack_from("<BBH", body)
    if version != PROTOCOL_VERSION:
        raise PacketError(
            ErrorCode.BAD_VERSION, f"protocol version {version}, expected {PROTOCOL_VERSION}"
        )
    return Packet(packet_type, request_id, bytes(body[HEADER_BYTES:]), version)


def decode_frame(frame: bytes) -> Packet:
    """Decodes one received frame (COBS bytes without the delimiter) into a Packet."""
    return decode_packet(cobs_decode(frame))


# ---------------------------------------------------------------------------
# Request builders. Each returns the payload; encode_frame adds header and CRC.


def infer_payload(
    pixels: bytes | np.ndarray,
    width: int,
    height: int,
    pixel_format: InferFormat = InferFormat.GRAY8,
) -> bytes:
    """INFER payload: `u16 width, u16 height, u8 format`, then width*height pixels."""
    data = pixels.tobytes() if isinstance(pixels, np.ndarray) else bytes(pixels)
    if not (0 < width <= 0xFFFF and 0 < height <= 0xFFFF):
        raise ValueError(f"frame size {width}x{height} out of range")
    if len(data) != width * height:
        raise ValueError(f"{len(data)} pixel bytes for a {width}x{height} frame")
    return INFER_HEADER.pack(width, height, int(pixel_format)) + data


def bench_payload(count: int) -> bytes:
    """BENCH payload: `u16 n`, 1..1000."""
    if not 1 <= count <= BENCH_MAX_N:
        raise ValueError(f"BENCH n={count} outside 1..{BENCH_MAX_N}")
    return struct.pack("<H", count)


def camera_payload(send_frame: bool) -> bytes:
    """CAMERA payload: `u8 flags`, bit 0 asks for the preprocessed frame."""
    return bytes([1 if send_frame else 0])


def chunk_payloads(command: int, payload: bytes, piece_bytes: int) -> list[bytes]:
    """Splits a request payload into CHUNK payloads of at most `piece_bytes` data bytes."""
    if piece_bytes < 1:
        raise ValueError("a CHUNK piece must carry at least one byte")
    total = len(payload)
    pieces = []
    for offset in range(0, max(total, 1), piece_bytes):
        data = payload[offset : offset + piece_bytes]
        pieces.append(CHUNK_HEADER.pack(command, total, offset) + data)
    return pieces


def max_chunk_data(max_packet: int) -> int:
    """Data bytes one CHUNK piece can carry within a decoded packet of `max_packet` bytes."""
    return max_packet - MIN_PACKET_BYTES - CHUNK_HEADER.size


# ---------------------------------------------------------------------------
# Reply parsers.


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The INFO reply: known keys typed, every key kept in `fields`."""

    fields: dict[str, str]

    REQUIRED = (
        "board",
        "firmware",
        "protocol",
        "backend",
        "model_sha256",
        "labels",
        "input",
        "input_scale",
        "input_zero_point",
        "output_scale",
        "output_zero_point",
        "uncertain_threshold",
        "arena_bytes",
        "flash_bytes",
        "ram_bytes",
        "max_packet",
        "cost_unit",
        "camera",
    )

    def _int(self, key: str) -> int:
        try:
            return int(self.fields[key])
        except ValueError as error:
            raise ProtocolError(f"INFO {key}={self.fields[key]!r} is not an integer") from error

    def _float(self, key: str) -> float:
        try:
            return float(self.fields[key])
        except ValueError as error:
            raise ProtocolError(f"INFO {key}={self.fields[key]!r} is not a number") from error

    @property
    def board(self) -> str:
        return self.fields["board"]

    @property
    def firmware(self) -> str:
        return self.fields["firmware"]

    @property
    def protocol(self) -> int:
        return self._int("protocol")

    @property
    def backend(self) -> str:
        return self.fields["backend"]

    @property
    def model_sha256(self) -> str:
        return self.fields["model_sha256"].lower()

    @property
    def labels(self) -> list[str]:
        return [label.strip() for label in self.fields["labels"].split(",")]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        parts = self.fields["input"].lower().split("x")
        try:
            height, width, channels = (int(part) for part in parts)
        except ValueError as error:
            raise ProtocolError(f"INFO input={self.fields['input']!r} is not HxWxC") from error
        return height, width, channels

    @property
    def input_scale(self) -> float:
        return self._float("input_scale")

    @property
    def input_zero_point(self) -> int:
        return self._int("input_zero_point")

    @property
    def output_scale(self) -> float:
        return self._float("output_scale")

    @property
    def output_zero_point(self) -> int:
        return self._int("output_zero_point")

    @property
    def uncertain_threshold(self) -> float:
        return self._float("uncertain_threshold")

    @property
    def arena_bytes(self) -> int:
        return self._int("arena_bytes")

    @property
    def flash_bytes(self) -> int:
        return self._int("flash_bytes")

    @property
    def ram_bytes(self) -> int:
        return self._int("ram_bytes")

    @property
    def max_packet(self) -> int:
        return self._int("max_packet")

    @property
    def max_request(self) -> int | None:
        """The largest CHUNK-assembled payload, when the device reports it."""
        return self._int("max_request") if "max_request" in self.fields else None

    @property
    def cost_unit(self) -> str:
        return self.fields["cost_unit"]

    @property
    def bit_exact(self) -> bool:
        """True if the device claims byte-identical scores with the host's int8 model."""
        return claims_bit_exact(self.fields)

    @property
    def ram_free_bytes(self) -> int | None:
        """RAM left on the device after boot; None when unknown (0) or not reported."""
        value = self._int("ram_free_bytes") if "ram_free_bytes" in self.fields else 0
        return value or None

    @property
    def rx_window_bytes(self) -> int:
        """The most request bytes the device can take unanswered; 0 means no limit."""
        return self._int("rx_window_bytes") if "rx_window_bytes" in self.fields else 0

    def check_request_fits(self, wire_bytes: int) -> None:
        """Raises ProtocolError if a request of `wire_bytes` would overrun the receive window.

        The host sends one request and waits for its reply (CHUNK pieces go back to back), so a
        device whose transport drops bytes once its buffer is full (ESP32-S3 HWCDC) can take a
        request only if all of it fits in the window it advertises.
        """
        window = self.rx_window_bytes
        if window and wire_bytes > window:
            raise ProtocolError(
                f"a {wire_bytes}-byte request exceeds the device's receive window of {window} "
                "bytes (INFO rx_window_bytes); send a smaller frame"
            )

    @property
    def camera(self) -> bool:
        return self.fields["camera"].strip() == "1"


def claims_bit_exact(fields: dict[str, str]) -> bool:
    """INFO bit_exact=1: the device's backend promises byte-identical scores."""
    return fields.get("bit_exact", "0").strip() == "1"


def parse_info(payload: bytes) -> DeviceInfo:
    """Parses INFO text (`key=value` per line); raises ProtocolError if a key is missing."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(f"INFO is not UTF-8: {error}") from error
    fields: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise ProtocolError(f"INFO line {number} is not key=value: {line!r}")
        fields[key.strip()] = value.strip()
    missing = [key for key in DeviceInfo.REQUIRED if key not in fields]
    if missing:
        raise ProtocolError(f"INFO lacks {', '.join(missing)}")
    info = DeviceInfo(fields)
    # Validate the typed keys once so later reads cannot fail.
    for key in ("protocol", "arena_bytes", "flash_bytes", "ram_bytes", "max_packet"):
        info._int(key)
    for key in ("ram_free_bytes", "rx_window_bytes"):
        if key in fields:
            info._int(key)
    info.input_shape  # noqa: B018 - validation
    return info


def format_info(fields: dict[str, str]) -> bytes:
    """INFO payload text from fields (for tests and fakes)."""
    return "".join(f"{key}={value}\n" for key, value in fields.items()).encode("utf-8")


@dataclasses.dataclass(frozen=True)
class InferResult:
    """The RESULT reply."""

    label: int
    uncertain: bool
    top_prob: float
    preprocess_cost: int
    infer_cost: int
    scores: tuple[int, ...]
    flags: int = 0


def parse_result(payload: bytes) -> InferResult:
    """Parses RESULT: `u8 label, u8 flags, u16 top_prob, u32 pre, u32 infer, u8 n, n x i8`."""
    if len(payload) < RESULT_HEADER.size:
        raise ProtocolError(f"RESULT of {len(payload)} bytes, expected >= {RESULT_HEADER.size}")
    label, flags, top_prob, preprocess_cost, infer_cost, count = RESULT_HEADER.unpack_from(payload)
    scores_bytes = payload[RESULT_HEADER.size :]
    if len(scores_bytes) != count:
        raise ProtocolError(f"RESULT announces {count} scores but carries {len(scores_bytes)}")
    if count and label >= count:
        raise ProtocolError(f"RESULT label {label} out of range for {count} classes")
    scores = struct.unpack(f"<{count}b", scores_bytes)
    return InferResult(
        label=label,
        uncertain=bool(flags & 1),
        top_prob=top_prob / 65535.0,
        preprocess_cost=preprocess_cost,
        infer_cost=infer_cost,
        scores=tuple(scores),
        flags=flags,
    )


def result_payload(
    label: int,
    uncertain: bool,
    top_prob: float,
    preprocess_cost: int,
    infer_cost: int,
    scores: tuple[int, ...] | list[int],
) -> bytes:
    """RESULT payload (for tests and fakes)."""
    probability = round(max(0.0, min(1.0, top_prob)) * 65535)
    return RESULT_HEADER.pack(
        label, 1 if uncertain else 0, probability, preprocess_cost, infer_cost, len(scores)
    ) + struct.pack(f"<{len(scores)}b", *scores)


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """The BENCH_RESULT reply: inference cost over n runs."""

    count: int
    minimum: int
    median: int
    maximum: int


def parse_bench_result(payload: bytes) -> BenchResult:
    """Parses BENCH_RESULT: `u16 n, u32 min, u32 median, u32 max`."""
    if len(payload) != BENCH_RESULT.size:
        raise ProtocolError(f"BENCH_RESULT of {len(payload)} bytes, expected {BENCH_RESULT.size}")
    result = BenchResult(*BENCH_RESULT.unpack(payload))
    if not result.minimum <= result.median <= result.maximum:
        raise ProtocolError(f"BENCH_RESULT not ordered: {result}")
    return result


@dataclasses.dataclass(frozen=True)
class FrameReply:
    """The FRAME reply: the device's int8 model input."""

    width: int
    height: int
    pixels: np.ndarray


def parse_frame(payload: bytes) -> FrameReply:
    """Parses FRAME: `u16 width, u16 height`, then int8 pixels."""
    if len(payload) < FRAME_HEADER.size:
        raise ProtocolError(f"FRAME of {len(payload)} bytes is too short")
    width, height = FRAME_HEADER.unpack_from(payload)
    pixels = payload[FRAME_HEADER.size :]
    if len(pixels) != width * height:
        raise ProtocolError(f"FRAME {width}x{height} carries {len(pixels)} bytes")
    return FrameReply(width, height, np.frombuffer(pixels, dtype=np.int8).reshape(height, width))


@dataclasses.dataclass(frozen=True)
class DeviceError:
    """The ERROR reply."""

    code: int
    message: str

    @property
    def name(self) -> str:
        try:
            return ErrorCode(self.code).name
        except ValueError:
            return f"ERROR_{self.code}"

    def __str__(self) -> str:
        return f"{self.name} ({self.code}): {self.message}"


def parse_error(payload: bytes) -> DeviceError:
    """Parses ERROR: `u8 code`, then a UTF-8 message."""
    if not payload:
        raise ProtocolError("ERROR reply without a code")
    return DeviceError(payload[0], payload[1:].decode("utf-8", errors="replace"))


def parse_log(payload: bytes) -> str:
    """Parses LOG: one line of UTF-8 text the device or one of its libraries printed."""
    return payload.decode("utf-8", errors="replace")


def request_wire_bytes(payload_bytes: int, max_packet: int) -> int:
    """Worst-case bytes on the wire for a request of `payload_bytes`, CHUNKed if needed."""
    single = payload_bytes + MIN_PACKET_BYTES
    if single <= max_packet:
        return single + cobs_max_overhead(single) + 1
    piece = max_chunk_data(max_packet)
    total = 0
    for offset in range(0, payload_bytes, piece):
        decoded = MIN_PACKET_BYTES + CHUNK_HEADER.size + min(piece, payload_bytes - offset)
        total += decoded + cobs_max_overhead(decoded) + 1
    return total


def error_payload(code: ErrorCode, message: str) -> bytes:
    """ERROR payload (for tests and fakes)."""
    return bytes([int(code)]) + message.encode("utf-8")


# ---------------------------------------------------------------------------
# Stream decoding.


@dataclasses.dataclass(frozen=True)
class Discarded:
    """A frame the decoder threw away: garbage, a broken packet or a text line."""

    data: bytes
    reason: str

    @property
    def text(self) -> str | None:
        """The frame as a text line if it looks like one (the boot banner), else None."""
        if not self.data.endswith(b"\n"):
            return None
        try:
            line = self.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
        return line if line.isprintable() else None


@dataclasses.dataclass
class DecoderStats:
    """Byte and frame counters of a StreamDecoder."""

    bytes_in: int = 0
    packets: int = 0
    discarded_frames: int = 0
    discarded_bytes: int = 0
    empty_frames: int = 0


class StreamDecoder:
    """Splits a byte stream at 0x00 into packets, resynchronising after garbage.

    `feed()` yields Packet for each valid frame and Discarded for anything else
    (the banner line, noise, a frame cut short by a reset). A frame longer than
    `max_frame` is dropped up to the next delimiter.
    """

    def __init__(self, max_frame: int = 1 << 16) -> None:
        self.max_frame = max_frame
        self.stats = DecoderStats()
        self._buffer = bytearray()
        self._overflowed = 0

    def reset(self) -> None:
        """Drops any partial frame (after reconnecting)."""
        self._buffer.clear()
        self._overflowed = 0

    @property
    def pending(self) -> int:
        """Bytes received since the last delimiter."""
        return len(self._buffer) + self._overflowed

    def feed(self, data: bytes) -> Iterator[Packet | Discarded]:
        """Consumes bytes; yields every complete frame's outcome in order."""
        self.stats.bytes_in += len(data)
        start = 0
        while start < len(data):
            end = data.find(0, start)
            if end < 0:
                self._append(data[start:])
                return
            self._append(data[start:end])
            start = end + 1
            yield from self._finish_frame()

    def _append(self, data: bytes) -> None:
        if self._overflowed or len(self._buffer) + len(data) > self.max_frame:
            self._overflowed += len(self._buffer) + len(data)
            self._buffer.clear()
        else:
            self._buffer += data

    def _finish_frame(self) -> Iterator[Packet | Discarded]:
        frame = bytes(self._buffer)
        overflowed = self._overflowed
        self._buffer.clear()
        self._overflowed = 0
        if overflowed:
            self.stats.discarded_frames += 1
            self.stats.discarded_bytes += overflowed + 1
            yield Discarded(b"", f"frame of {overflowed} bytes exceeds {self.max_frame}")
            return
        if not frame:
            self.stats.empty_frames += 1
            return
        try:
            packet = decode_frame(frame)
        except PacketError as error:
            self.stats.discarded_frames += 1
            self.stats.discarded_bytes += len(frame) + 1
            yield Discarded(frame, str(error))
            return
        self.stats.packets += 1
        yield packet
