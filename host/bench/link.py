"""The bench's transport: one serial link to a board, robust to resets and noise.

A Link opens any port pyserial understands (a device path such as /dev/ttyACM0
or COM3, a `socket://host:port` URL, the stable pty path of the host virtual
board) and carries stop-and-wait requests: write one packet, wait for the reply
with the same request id. It retries after a timeout, resynchronises after
garbage (the StreamDecoder drops everything up to the next 0x00), and when the
port disappears (USB re-enumeration, a killed emulator) it re-opens it until it
returns, within a bound, then raises DeviceReset so the caller can handshake
again and resend. A BOOT packet while waiting also raises DeviceReset. The
`on_lost` hook lets the owner of a virtual board restart it first (a real port
just comes back when the board re-enumerates).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence

import serial
import serial.tools.list_ports

try:
    import termios
except ImportError:  # Windows: pyserial raises SerialException there
    termios = None  # type: ignore[assignment]

from tinyxray.bench import protocol

__all__ = [
    "KNOWN_BOARDS",
    "DeviceErrorReply",
    "DeviceReset",
    "Link",
    "LinkError",
    "LinkTimeout",
    "resolve_port",
]

# USB ids of the supported boards. Sources: Arduino Nano 33 BLE 0x2341:0x805A
# (sketch) and 0x2341:0x005A (bootloader), as in ArduinoCore-mbed and
# micropython's ports/nrf/boards/arduino_nano_33_ble; Espressif's USB
# Serial/JTAG of the ESP32-S3 0x303A:0x1001 (PlatformIO esp32-s3 board hwids);
# Seeed XIAO ESP32S3 with TinyUSB CDC 0x2886:0x0056 (arduino-esp32
# variants/XIAO_ESP32S3/pins_arduino.h).

# What a vanished port raises. pyserial lets termios.error (not an OSError) escape from
# flush(), the timeout setter and reset_input_buffer() on POSIX, e.g. EIO when the far
# end of a pty (a killed virtual board) is gone.
PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError) + (
    (termios.error,) if termios is not None else ()
)


@dataclasses.dataclass(frozen=True)
class UsbBoard:
    """A board recognised by its USB vendor and product id."""

    vid: int
    pid: int
    name: str
    runs_firmware: bool = True


KNOWN_BOARDS: tuple[UsbBoard, ...] = (
    UsbBoard(0x2341, 0x805A, "Arduino Nano 33 BLE"),
    UsbBoard(0x2341, 0x005A, "Arduino Nano 33 BLE in its bootloader", runs_firmware=False),
    UsbBoard(0x303A, 0x1001, "Espressif ESP32-S3 (USB Serial/JTAG)"),
    UsbBoard(0x2886, 0x0056, "Seeed XIAO ESP32S3"),
)


class LinkError(RuntimeError):
    """The link cannot carry requests (no port, port lost for good, no reply)."""


class LinkTimeout(LinkError):
    """No reply within the timeout, after every retry."""


class DeviceReset(LinkError):
    """The device reset (BOOT packet) or its port disappeared and came back."""


class DeviceErrorReply(LinkError):
    """The device answered with ERROR."""

    def __init__(self, command: str, error: protocol.DeviceError) -> None:
        super().__init__(f"{command} refused by the device: {error}")
        self.error = error


def known_board(vid: int | None, pid: int | None) -> UsbBoard | None:
    """The supported board with this USB id, if any."""
    for board in KNOWN_BOARDS:
        if board.vid == vid and board.pid == pid:
            return board
    return None


def find_boards(ports: Sequence[object] | None = None) -> list[tuple[str, UsbBoard]]:
    """Serial ports whose USB id is a supported board: (device, board) pairs."""
    if ports is None:
        ports = serial.tools.list_ports.comports()
    found = []
    for port in ports:
        board = known_board(getattr(port, "vid", None), getattr(port, "pid", None))
        if board is not None:
            found.append((str(getattr(port, "device", "")), board))
    return found


def resolve_port(spec: str, ports: Sequence[object] | None = None) -> str:
    """Turns `auto` into the one connected board's device; other specs pass unchanged.

    Raises LinkError with the list of candidates when none or several boards are found,
    or when the only board is in its bootloader.
    """
    if spec != "auto":
        return spec
    found = find_boards(ports)
    running = [(device, board) for device, board in found if board.runs_firmware]
    if len(running) == 1:
        return running[0][0]
    known = ", ".join(f"{board.name} {board.vid:04X}:{board.pid:04X}" for board in KNOWN_BOARDS)
    if not running:
        if found:
            device, board = found[0]
            raise LinkError(
                f"--port auto: {device} is the {board.name}; "
                "flash the firmware (or reset the board) and try again"
            )
        raise LinkError(
            f"--port auto: no supported board found (looked for {known}); "
            "plug one in, or pass --port /dev/ttyACM0, COM3, socket://host:port, host or qemu"
        )
    listing = "; ".join(f"{device} ({board.name})" for device, board in running)
    raise LinkError(f"--port auto: several boards found: {listing}; choose one with --port")


@dataclasses.dataclass
class LinkStats:
    """Counters of one Link (cumulative across reconnects)."""

    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    reconnects: int = 0
    resets: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    payload_bytes_out: int = 0
    payload_bytes_in: int = 0
    busy_seconds: float = 0.0
    discarded_frames: int = 0
    discarded_bytes: int = 0
    stale_packets: int = 0
    banners: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


READ_TIMEOUT = 0.05
READ_CHUNK = 1 << 16

SerialFactory = Callable[[str, float], serial.SerialBase]


def open_serial(url: str, timeout: float) -> serial.SerialBase:
    """Opens a pyserial URL or device with a short read timeout and a write timeout."""
    port = serial.serial_for_url(url, do_not_open=True)
    port.baudrate = 115200  # Ignored by USB CDC, ptys and sockets; real UARTs use it.
    port.timeout = READ_TIMEOUT
    port.write_timeout = timeout
    port.open()
    return port


class Link:
    """Stop-and-wait requests over one port, with retries and reconnection."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        reopen_timeout: float = 30.0,
        serial_factory: SerialFactory = open_serial,
        on_lost: Callable[[], str | None] | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        """`on_lost` runs when the port fails, before it is reopened: the owner of a
        virtual board restarts it there (returning a note for the reset reason).
        `on_log` receives each LOG line the device sends (also kept in `device_log`)."""
        self.url = url
        self.on_lost = on_lost
        self.on_log = on_log
        self.device_log: list[str] = []
        self.timeout = timeout
        self.retries = retries
        self.reopen_timeout = reopen_timeout
        self.stats = LinkStats()
        self._serial_factory = serial_factory
        self._port: serial.SerialBase | None = None
        self._decoder = protocol.StreamDecoder(max_frame=1 << 16)
        self._queue: collections.deque[protocol.Packet] = collections.deque()
        self._next_id = 1

    # -- opening and closing ------------------------------------------------

    def open(self) -> Link:
        """Opens the port, raising LinkError with the port name if it cannot be opened."""
        try:
            self._port = self._serial_factory(self.url, self.timeout)
        except (*PORT_ERRORS, ValueError) as error:
            raise LinkError(f"cannot open {self.url}: {error}") from error
        self._decoder.reset()
        self._queue.clear()
        return self

    def close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(*PORT_ERRORS):
                self._port.close()
            self._port = None

    def __enter__(self) -> Link:
        return self.open() if self._port is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reopen(self) -> None:
        """Re-opens the port until it is back or `reopen_timeout` passes (then LinkError)."""
        self.close()
        deadline = time.monotonic() + self.reopen_timeout
        last_error: Exception | None = None
        while True:
            try:
                self.open()
                self.stats.reconnects += 1
                return
            except LinkError as error:
                last_error = error
            if time.monotonic() >= deadline:
                raise LinkError(
                    f"{self.url} did not come back within {self.reopen_timeout:.0f} s: {last_error}"
                )
            time.sleep(0.2)

    # -- raw I/O --------------------------------------------------------------

    def _require_port(self) -> serial.SerialBase:
        if self._port is None:
            raise LinkError(f"{self.url} is not open")
        return self._port

    def write_raw(self, data: bytes) -> None:
        """Writes bytes as they are (tests use it for garbage); reopens if the port is gone."""
        port = self._require_port()
        try:
            port.write(data)
            port.flush()
        except PORT_ERRORS as error:
            self._lost(error)
        self.stats.bytes_out += len(data)

    def _lost(self, error: Exception) -> None:
        """The port failed: reopen it and tell the caller the device reset."""
        self.close()
        note = self.on_lost() if self.on_lost is not None else None
        self.reopen()
        self.stats.resets += 1
        detail = f"; {note}" if note else ""
        raise DeviceReset(f"{self.url} disappeared ({error}) and came back{detail}") from error

    def _read_some(self, deadline: float) -> bool:
        """Reads what arrives before `deadline` into the packet queue; False on timeout."""
        port = self._require_port()
        while time.monotonic() < deadline:
            try:
                data = self._read_available(port)
            except PORT_ERRORS as error:
                self._lost(error)
            if not data:
                continue
            self.stats.bytes_in += len(data)
            for item in self._decoder.feed(data):
                if isinstance(item, protocol.Packet) and item.type == protocol.Reply.LOG:
                    self._take_log(item)
                elif isinstance(item, protocol.Packet):
                    self._queue.append(item)
                else:
                    self.stats.discarded_frames += 1
                    self.stats.discarded_bytes += len(item.data) + 1
                    if item.text is not None:
                        self.stats.banners.append(item.text)
            if self._queue:
                return True
        return False

    def _take_log(self, packet: protocol.Packet) -> None:
        # LOG is unprompted text, never a reply: it must not end or disturb a wait.
        line = protocol.parse_log(packet.payload)
        self.device_log.append(line)
        if self.on_log is not None:
            self.on_log(line)

    @staticmethod
    def _read_available(port: serial.SerialBase) -> bytes:
        """Waits up to the port's short timeout for data, then takes all that has arrived."""
        waiting = port.in_waiting
        data = port.read(max(1, min(waiting, READ_CHUNK)))
        if data and waiting <= 1:
            # Some transports (socket://) report only "readable" in in_waiting:
            # take the rest without blocking.
            port.timeout = 0
            try:
                data += port.read(READ_CHUNK)
            finally:
                port.timeout = READ_TIMEOUT
        return data

    def discard_stale(self) -> None:
        """Drops packets that arrived before a request: late replies, a BOOT already past."""
        port = self._require_port()
        try:
            waiting = port.in_waiting
        except PORT_ERRORS as error:
            self._lost(error)
        if waiting:
            self._read_some(time.monotonic() + 0.001)
        self.stats.stale_packets += len(self._queue)
        self._queue.clear()

    def read_packet(self, timeout: float | None = None) -> protocol.Packet | None:
        """The next packet received (unprompted ones included), or None after `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self._queue and not self._read_some(deadline):
            return None
        return self._queue.popleft()

    def drain(self, quiet: float = 0.1) -> list[protocol.Packet]:
        """Reads until the line is quiet for `quiet` seconds; returns the packets seen."""
        packets = list(self._queue)
        self._queue.clear()
        while True:
            packet = self.read_packet(quiet)
            if packet is None:
                return packets
            packets.append(packet)

    # -- requests -------------------------------------------------------------

    def new_request_id(self) -> int:
        """A fresh id in 1..0xFFFE (0 is BOOT's, 0xFFFF the unknown-id ERROR's)."""
        request_id = self._next_id
        self._next_id = request_id % 0xFFFE + 1
        return request_id

    def send(self, packet_type: int, payload: bytes = b"", request_id: int | None = None) -> int:
        """Writes one request packet; returns its id."""
        request_id = self.new_request_id() if request_id is None else request_id
        self.write_raw(protocol.encode_frame(packet_type, request_id, payload))
        self.stats.payload_bytes_out += len(payload)
        return request_id

    def wait_reply(
        self, request_id: int, timeout: float | None = None, *, ignore_boot: bool = False
    ) -> protocol.Packet:
        """The reply with `request_id`; an ERROR with the unknown id 0xFFFF also ends the wait.

        Raises LinkTimeout, or DeviceReset on a BOOT packet unless `ignore_boot`.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if not self._queue and not self._read_some(deadline):
                raise LinkTimeout(f"no reply to request {request_id} from {self.url}")
            packet = self._queue.popleft()
            if packet.type == protocol.Reply.BOOT:
                if ignore_boot:
                    continue
                self.stats.resets += 1
                self._queue.clear()
                raise DeviceReset(f"{self.url} reset (BOOT) while request {request_id} was pending")
            if packet.request_id == request_id or (
                packet.type == protocol.Reply.ERROR
                and packet.request_id == protocol.ERROR_REQUEST_ID
            ):
                self.stats.payload_bytes_in += len(packet.payload)
                return packet
            # A late reply to an abandoned attempt: drop it.

    def request(
        self,
        packet_type: int,
        payload: bytes = b"",
        *,
        timeout: float | None = None,
        retries: int | None = None,
        ignore_boot: bool = False,
    ) -> protocol.Packet:
        """Sends a request and returns its reply, retrying after timeouts.

        Each attempt uses a new request id, so a late reply to an earlier attempt
        is never taken for the current one. An ERROR with id 0xFFFF (the device
        could not read our packet) counts as a failed attempt too.
        """
        attempts = 1 + (self.retries if retries is None else retries)
        self.stats.requests += 1
        last_error: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                self.stats.retries += 1
                # A lone delimiter ends any half-received frame on the device.
                self.write_raw(protocol.DELIMITER)
            started = time.monotonic()
            try:
                self.discard_stale()
                request_id = self.send(packet_type, payload)
                reply = self.wait_reply(request_id, timeout, ignore_boot=ignore_boot)
            except LinkTimeout as error:
                self.stats.timeouts += 1
                last_error = error
                continue
            finally:
                self.stats.busy_seconds += time.monotonic() - started
            if reply.request_id == protocol.ERROR_REQUEST_ID and attempt + 1 < attempts:
                last_error = LinkError(str(protocol.parse_error(reply.payload)))
                continue
            return reply
        raise LinkTimeout(
            f"{protocol.Packet(packet_type, 0).name} to {self.url} failed after "
            f"{attempts} attempt(s): {last_error}"
        )

    def call(
        self,
        command: protocol.Command,
        payload: bytes = b"",
        expect: protocol.Reply = protocol.Reply.INFO,
        **options: object,
    ) -> protocol.Packet:
        """request() that insists on the reply type `expect`; ERROR raises DeviceErrorReply."""
        reply = self.request(command, payload, **options)  # type: ignore[arg-type]
        if reply.type == protocol.Reply.ERROR:
            raise DeviceErrorReply(command.name, protocol.parse_error(reply.payload))
        if reply.type != expect:
            raise protocol.ProtocolError(
                f"{command.name} answered with {reply.name}, expected {expect.name}"
            )
        return reply

    def call_chunked(
        self,
        command: protocol.Command,
        payload: bytes,
        expect: protocol.Reply,
        max_packet: int,
        *,
        timeout: float | None = None,
    ) -> protocol.Packet:
        """call() for a request larger than the device's max_packet, split into CHUNK pieces.

        Pieces before the last get no reply; the last piece's reply is the command's.
        A retry first sends an ECHO, which drops any half-assembled request on the device.
        """
        pieces = protocol.chunk_payloads(command, payload, protocol.max_chunk_data(max_packet))
        attempts = 1 + self.retries
        for attempt in range(attempts):
            if attempt:
                self.stats.retries += 1
                self.write_raw(protocol.DELIMITER)
                self.request(protocol.Command.ECHO, b"", retries=0)
            for piece in pieces[:-1]:
                self.send(protocol.Command.CHUNK, piece)
            try:
                return self.call(
                    protocol.Command.CHUNK, pieces[-1], expect, timeout=timeout, retries=0
                )
            except LinkTimeout:
                if attempt + 1 == attempts:
                    raise
        raise AssertionError("unreachable")
