"""The device under test of the HIL tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from tinyxray.bench import link, protocol, runner

REPO = Path(__file__).resolve().parents[2]
CARD = REPO / "models" / "default" / "model_card.json"
SAMPLES = REPO / "models" / "samples"


@dataclasses.dataclass
class Dut:
    """The device under test: its transport, a Link on it and the model it must run."""

    target: str
    url: str
    board: object | None  # tinyxray.virtual_board.VirtualBoard for virtual boards
    model: runner.ModelFacts
    link: link.Link
    info: protocol.DeviceInfo | None = None

    @property
    def virtual(self) -> bool:
        return self.board is not None

    def write(self, data: bytes) -> None:
        self.link.write_raw(data)

    def expect(self, reply: protocol.Reply, timeout: float = 10.0) -> protocol.Packet:
        """The next packet, which must be of type `reply` (BOOT skipped)."""
        while True:
            packet = self.link.read_packet(timeout)
            assert packet is not None, f"no {reply.name} within {timeout} s"
            if packet.type != protocol.Reply.BOOT:
                break
        assert packet.type == reply, f"expected {reply.name}, got {packet.name}: {packet}"
        return packet

    def expect_error(
        self, code: protocol.ErrorCode, request_id: int | None = None, timeout: float = 10.0
    ) -> protocol.DeviceError:
        packet = self.expect(protocol.Reply.ERROR, timeout)
        error = protocol.parse_error(packet.payload)
        assert error.code == code, f"expected {code.name}, got {error}"
        if request_id is not None:
            assert packet.request_id == request_id
        return error

    def handshake(self) -> protocol.DeviceInfo:
        self.info = runner.handshake(self.link, self.model)
        return self.info

    def assert_alive(self) -> None:
        """The link still carries requests after whatever the test did."""
        reply = self.link.call(
            protocol.Command.ECHO, b"alive?", protocol.Reply.ECHO_REPLY, retries=0
        )
        assert reply.payload == b"alive?"

    @contextlib.contextmanager
    def released(self) -> Iterator[str]:
        """Closes the Dut's link so a bench run can own the port; reopens it afterwards."""
        self.link.close()
        try:
            yield self.url
        finally:
            self.link.reopen()
            self.link.drain()

    def restart(self) -> None:
        """Kills and restarts a virtual board, then reconnects and handshakes."""
        assert self.board is not None, "only virtual boards can be restarted by the tests"
        self.link.close()
        self.board.restart()  # type: ignore[attr-defined]
        self.link.reopen()
        self.handshake()
