"""A small in-process fake device on a TCP socket, for unit tests of the bench's own logic.

It speaks protocol v1 well enough to exercise the link and the runner (handshake,
retries, resynchronisation, resets, reconnection, resume). It is NOT a stand-in
for the firmware: tests/hil runs the real firmware on the virtual boards.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import threading
import time
from collections.abc import Callable

from tinyxray.bench import protocol

BANNER = b"tinyxray firmware 0.0.0-fake board=fake protocol=1\n\x00"
BOOT_DELAY_SECONDS = 0.2

InferFunction = Callable[[int, int, int, bytes], tuple[int, bool, tuple[int, ...]]]


def default_info(**overrides: str) -> dict[str, str]:
    fields = {
        "board": "fake",
        "firmware": "0.0.0-fake",
        "protocol": "1",
        "backend": "aot",
        "model_sha256": "0" * 64,
        "labels": "Covid,Normal,Pneumonia",
        "input": "96x96x1",
        "input_scale": "1.0",
        "input_zero_point": "-128",
        "output_scale": "0.00390625",
        "output_zero_point": "-128",
        "uncertain_threshold": "0.6",
        "arena_bytes": "1000",
        "flash_bytes": "2000",
        "ram_bytes": "3000",
        "max_packet": "9240",
        "cost_unit": "ns",
        "camera": "0",
    }
    fields.update(overrides)
    return fields


@dataclasses.dataclass
class Faults:
    """Faults to inject; each counter is consumed as it fires."""

    drop_replies: int = 0  # ignore this many requests
    garbage_before_reply: bytes = b""  # sent before every reply
    reset_at_request: int | None = None  # send banner+BOOT instead of this request's reply
    disconnect_at_request: int | None = None  # close the connection on this request
    offline_seconds: float = 0.5  # how long the port stays away after a disconnect
    stay_offline: bool = False


class FakeDevice:
    """Listens on 127.0.0.1; `url` is its pyserial URL. Use as a context manager."""

    def __init__(
        self, info: dict[str, str] | None = None, infer: InferFunction | None = None
    ) -> None:
        self.info = info or default_info()
        self.infer = infer or (lambda width, height, fmt, pixels: (0, False, (127, -128, -128)))
        self.faults = Faults()
        self.requests = 0
        self.received: list[protocol.Packet] = []
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._last_frame = False
        self._chunk = bytearray()
        self.chunk_pieces = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                # Boot a moment after the port opens, as the virtual boards do:
                # pyserial's socket:// open() flushes input it finds at once.
                time.sleep(BOOT_DELAY_SECONDS)
                connection.sendall(BANNER + protocol.encode_frame(protocol.Reply.BOOT, 0))
                self._last_frame = False
                keep = self._session(connection)
            if not keep:
                # The port is away for a while (a USB re-enumeration, a restart).
                if self.faults.stay_offline:
                    self._server.close()
                    return
                time.sleep(self.faults.offline_seconds)

    def _session(self, connection: socket.socket) -> bool:
        decoder = protocol.StreamDecoder()
        connection.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return True
            if not data:
                return True
            for item in decoder.feed(data):
                if isinstance(item, protocol.Discarded):
                    code = 2 if "CRC" in item.reason else 1
                    self._send(connection, protocol.Reply.ERROR, 0xFFFF, bytes([code]) + b"bad")
                    continue
                self.requests += 1
                self.received.append(item)
                if self.faults.disconnect_at_request == self.requests:
                    self.faults.disconnect_at_request = None
                    connection.shutdown(socket.SHUT_RDWR)
                    return False
                if self.faults.reset_at_request == self.requests:
                    self.faults.reset_at_request = None
                    self._last_frame = False
                    connection.sendall(BANNER + protocol.encode_frame(protocol.Reply.BOOT, 0))
                    continue
                if self.faults.drop_replies:
                    self.faults.drop_replies -= 1
                    continue
                self._answer(connection, item)
        return True

    def _send(self, connection: socket.socket, reply: int, request_id: int, payload: bytes) -> None:
        connection.sendall(
            self.faults.garbage_before_reply + protocol.encode_frame(reply, request_id, payload)
        )

    def _answer(self, connection: socket.socket, packet: protocol.Packet) -> None:
        if packet.type == protocol.Command.CHUNK:
            command, total, offset = protocol.CHUNK_HEADER.unpack_from(packet.payload)
            if offset == 0:
                self._chunk = bytearray()
            self._chunk += packet.payload[protocol.CHUNK_HEADER.size :]
            self.chunk_pieces += 1
            if len(self._chunk) < total:
                return
            packet = protocol.Packet(command, packet.request_id, bytes(self._chunk))
        send = lambda reply, payload: self._send(connection, reply, packet.request_id, payload)  # noqa: E731
        if packet.type == protocol.Command.HELLO:
            send(protocol.Reply.INFO, protocol.format_info(self.info))
        elif packet.type == protocol.Command.ECHO:
            send(protocol.Reply.ECHO_REPLY, packet.payload)
        elif packet.type == protocol.Command.INFER:
            width, height, fmt = protocol.INFER_HEADER.unpack_from(packet.payload)
            pixels = packet.payload[protocol.INFER_HEADER.size :]
            label, uncertain, scores = self.infer(width, height, fmt, pixels)
            self._last_frame = True
            send(
                protocol.Reply.RESULT,
                protocol.result_payload(label, uncertain, 0.9, 1000, 5000 + len(pixels), scores),
            )
        elif packet.type == protocol.Command.BENCH:
            if not self._last_frame:
                send(protocol.Reply.ERROR, protocol.error_payload(protocol.ErrorCode.NO_FRAME, ""))
                return
            (count,) = struct.unpack("<H", packet.payload)
            send(protocol.Reply.BENCH_RESULT, struct.pack("<HIII", count, 4000, 5000, 6000))
        else:
            send(
                protocol.Reply.ERROR,
                protocol.error_payload(protocol.ErrorCode.UNKNOWN_COMMAND, "unknown"),
            )
