"""Unit tests of tinyxray.bench.link against the in-process fake device (TCP socket)."""

from __future__ import annotations

import time
import types

import pytest
from bench_fake_device import FakeDevice

from tinyxray.bench import link, protocol


@pytest.fixture
def device():
    with FakeDevice() as fake:
        yield fake


def open_link(device: FakeDevice, **options: float) -> link.Link:
    settings = {"timeout": 1.0, "retries": 2, "reopen_timeout": 5.0, **options}
    return link.Link(device.url, **settings).open()


def wait_for_boot(connection: link.Link) -> None:
    """Reads the fake device's boot chatter (banner + BOOT), as a host does after opening."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        packet = connection.read_packet(0.5)
        if packet is not None and packet.type == protocol.Reply.BOOT:
            return
    raise AssertionError("the fake device sent no BOOT packet")


def test_echo_and_byte_counts(device: FakeDevice) -> None:
    with open_link(device) as connection:
        wait_for_boot(connection)
        reply = connection.call(protocol.Command.ECHO, b"ping", protocol.Reply.ECHO_REPLY)
        assert reply.payload == b"ping"
        stats = connection.stats
        assert stats.bytes_out == len(protocol.encode_frame(protocol.Command.ECHO, 1, b"ping"))
        assert stats.payload_bytes_out == 4 and stats.payload_bytes_in == 4
        assert stats.resets == 0


def test_banner_is_recorded_and_boot_ignored_when_asked(device: FakeDevice) -> None:
    with open_link(device) as connection:
        reply = connection.call(
            protocol.Command.HELLO, expect=protocol.Reply.INFO, ignore_boot=True
        )
        assert protocol.parse_info(reply.payload).board == "fake"
        assert connection.stats.banners == ["tinyxray firmware 0.0.0-fake board=fake protocol=1"]


def test_log_lines_reach_the_owner_and_never_end_a_wait(device: FakeDevice) -> None:
    # A LOG packet (request id 0) sent right before every reply, as TFLM's DebugLog would.
    device.faults.garbage_before_reply = protocol.encode_frame(
        protocol.Reply.LOG, 0, b"Failed to allocate tail memory."
    )
    seen: list[str] = []
    with open_link(device) as connection:
        connection.on_log = seen.append
        wait_for_boot(connection)
        for index in range(3):
            reply = connection.call(
                protocol.Command.ECHO, bytes([index]) * 8, protocol.Reply.ECHO_REPLY
            )
            assert reply.payload == bytes([index]) * 8
        assert seen == ["Failed to allocate tail memory."] * 3
        assert connection.device_log == seen
        assert connection.stats.stale_packets == 0


def test_resynchronises_after_garbage(device: FakeDevice) -> None:
    device.faults.garbage_before_reply = b"\x42\x00\x13\x37noise\xff\xfe\x00"
    with open_link(device) as connection:
        wait_for_boot(connection)
        for index in range(5):
            payload = bytes([index]) * 100
            reply = connection.call(protocol.Command.ECHO, payload, protocol.Reply.ECHO_REPLY)
            assert reply.payload == payload
        assert connection.stats.discarded_frames >= 10


def test_retries_after_a_lost_reply(device: FakeDevice) -> None:
    device.faults.drop_replies = 1
    with open_link(device, timeout=0.3) as connection:
        wait_for_boot(connection)
        reply = connection.call(protocol.Command.ECHO, b"again", protocol.Reply.ECHO_REPLY)
        assert reply.payload == b"again"
        assert connection.stats.timeouts == 1 and connection.stats.retries == 1


def test_gives_up_after_the_last_retry(device: FakeDevice) -> None:
    device.faults.drop_replies = 10
    with open_link(device, timeout=0.2, retries=1) as connection:
        wait_for_boot(connection)
        with pytest.raises(link.LinkTimeout, match=r"ECHO .* after 2 attempt"):
            connection.call(protocol.Command.ECHO, b"x", protocol.Reply.ECHO_REPLY)


def test_boot_while_waiting_raises_device_reset(device: FakeDevice) -> None:
    with open_link(device) as connection:
        wait_for_boot(connection)
        device.faults.reset_at_request = device.requests + 1
        with pytest.raises(link.DeviceReset, match="BOOT"):
            connection.call(protocol.Command.ECHO, b"x", protocol.Reply.ECHO_REPLY)
        assert connection.stats.resets == 1
        assert connection.call(protocol.Command.ECHO, b"y", protocol.Reply.ECHO_REPLY).payload
        assert connection.stats.banners  # at least the banner of the reset


def test_reconnects_when_the_port_disappears(device: FakeDevice) -> None:
    with open_link(device) as connection:
        wait_for_boot(connection)
        device.faults.disconnect_at_request = device.requests + 1
        with pytest.raises(link.DeviceReset, match="disappeared"):
            connection.call(protocol.Command.ECHO, b"x", protocol.Reply.ECHO_REPLY)
        assert connection.stats.reconnects == 1
        reply = connection.call(
            protocol.Command.ECHO, b"back", protocol.Reply.ECHO_REPLY, ignore_boot=True
        )
        assert reply.payload == b"back"
        assert device.connections == 2


def test_termios_error_from_a_dead_pty_is_a_reset_not_a_crash(device: FakeDevice) -> None:
    # A killed virtual board can vanish between write() and the drain in flush(); pyserial
    # then raises termios.error, which is not an OSError (seen in a CI run as a traceback).
    termios = pytest.importorskip("termios")
    opened: list[object] = []

    def factory(url: str, timeout: float):
        port = link.open_serial(url, timeout)
        if not opened:

            def dead_drain() -> None:
                raise termios.error(5, "Input/output error")

            port.flush = dead_drain
        opened.append(port)
        return port

    with link.Link(device.url, timeout=1.0, reopen_timeout=5.0, serial_factory=factory) as conn:
        wait_for_boot(conn)
        with pytest.raises(link.DeviceReset, match=r"disappeared.*Input/output error"):
            conn.call(protocol.Command.ECHO, b"x", protocol.Reply.ECHO_REPLY)
        assert conn.stats.reconnects == 1 and len(opened) == 2
        reply = conn.call(
            protocol.Command.ECHO, b"back", protocol.Reply.ECHO_REPLY, ignore_boot=True
        )
        assert reply.payload == b"back"


def test_port_that_never_returns_is_a_clear_error(device: FakeDevice) -> None:
    device.faults.stay_offline = True
    with open_link(device, reopen_timeout=1.0) as connection:
        wait_for_boot(connection)
        device.faults.disconnect_at_request = device.requests + 1
        with pytest.raises(link.LinkError, match="did not come back within 1 s"):
            connection.call(protocol.Command.ECHO, b"x", protocol.Reply.ECHO_REPLY)


def test_error_reply_raises_with_the_error_name(device: FakeDevice) -> None:
    with open_link(device) as connection:
        wait_for_boot(connection)
        with pytest.raises(link.DeviceErrorReply, match="NO_FRAME") as caught:
            connection.call(protocol.Command.BENCH, b"\x01\x00", protocol.Reply.BENCH_RESULT)
        assert caught.value.error.code == protocol.ErrorCode.NO_FRAME


def test_unknown_id_error_is_retried_then_returned(device: FakeDevice) -> None:
    with open_link(device) as connection:
        wait_for_boot(connection)
        # A corrupted request: the device answers ERROR with id 0xFFFF.
        connection.write_raw(b"\x05\x01\x02\x03\x04\x00")
        packet = connection.read_packet(1.0)
        assert packet is not None and packet.type == protocol.Reply.ERROR
        assert packet.request_id == protocol.ERROR_REQUEST_ID
        assert protocol.parse_error(packet.payload).name == "BAD_FRAME"


def test_open_failure_names_the_port() -> None:
    with pytest.raises(link.LinkError, match="cannot open /dev/does-not-exist"):
        link.Link("/dev/does-not-exist").open()


def port(device: str, vid: int | None, pid: int | None) -> types.SimpleNamespace:
    return types.SimpleNamespace(device=device, vid=vid, pid=pid)


def test_resolve_port_auto() -> None:
    nano = port("/dev/ttyACM0", 0x2341, 0x805A)
    esp = port("/dev/ttyACM1", 0x303A, 0x1001)
    xiao = port("/dev/ttyACM2", 0x2886, 0x0056)
    other = port("/dev/ttyUSB0", 0x0403, 0x6001)
    bootloader = port("/dev/ttyACM3", 0x2341, 0x005A)
    assert link.resolve_port("auto", [other, nano]) == "/dev/ttyACM0"
    assert link.resolve_port("auto", [esp]) == "/dev/ttyACM1"
    assert link.resolve_port("auto", [xiao, bootloader]) == "/dev/ttyACM2"
    assert link.resolve_port("/dev/ttyS5", []) == "/dev/ttyS5"
    assert link.resolve_port("socket://127.0.0.1:1", []) == "socket://127.0.0.1:1"
    with pytest.raises(link.LinkError, match="no supported board found"):
        link.resolve_port("auto", [other])
    with pytest.raises(link.LinkError, match=r"several boards found: /dev/ttyACM0 .*ttyACM1"):
        link.resolve_port("auto", [nano, esp])
    with pytest.raises(link.LinkError, match="bootloader"):
        link.resolve_port("auto", [bootloader])


def test_request_ids_skip_reserved_values() -> None:
    connection = link.Link("socket://127.0.0.1:1")
    ids = {connection.new_request_id() for _ in range(70000)}
    assert 0 not in ids and 0xFFFF not in ids
    assert len(ids) == 0xFFFE
