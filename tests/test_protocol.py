"""Tests of tinyxray.bench.protocol: the vectors of docs/protocol.md, round trips, bad input."""

from __future__ import annotations

import random
import struct
import zlib

import numpy as np
import pytest

from tinyxray.bench import protocol

# -- COBS -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoded", "encoded"),
    [
        (bytes.fromhex("00"), bytes.fromhex("0101")),
        (bytes.fromhex("11220033"), bytes.fromhex("0311220233")),
        (b"\x01" * 254, b"\xff" + b"\x01" * 254),
        (b"\x01" * 255, b"\xff" + b"\x01" * 254 + b"\x02\x01"),
        (b"", b"\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x01" * 254 + b"\x00", b"\xff" + b"\x01" * 254 + b"\x01\x01"),
    ],
)
def test_cobs_vectors(decoded: bytes, encoded: bytes) -> None:
    assert protocol.cobs_encode(decoded) == encoded
    assert protocol.cobs_decode(encoded) == decoded


def test_cobs_round_trip_random() -> None:
    generator = random.Random(1234)
    lengths = [0, 1, 2, 253, 254, 255, 256, 507, 508, 509, 762, 9229, *range(3, 40)]
    for length in lengths:
        for zero_rate in (0.0, 0.01, 0.3, 1.0):
            data = bytes(
                0 if generator.random() < zero_rate else generator.randrange(1, 256)
                for _ in range(length)
            )
            encoded = protocol.cobs_encode(data)
            assert 0 not in encoded
            assert len(encoded) <= len(data) + protocol.cobs_max_overhead(len(data))
            assert protocol.cobs_decode(encoded) == data


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "empty"),
        (b"\x05\x01\x02", "not enough input"),
        (b"\x02\x00", "zero byte"),
        (b"\x03\x01\x00", "zero byte"),
        (b"\xff" + b"\x01" * 10, "not enough input"),
    ],
)
def test_cobs_decode_rejects_malformed(frame: bytes, reason: str) -> None:
    with pytest.raises(protocol.PacketError, match=reason) as caught:
        protocol.cobs_decode(frame)
    assert caught.value.code == protocol.ErrorCode.BAD_FRAME


# -- packets ------------------------------------------------------------------


def test_hello_vector() -> None:
    body = bytes.fromhex("01010100")
    expected = body + struct.pack("<I", zlib.crc32(body))
    assert protocol.encode_packet(protocol.Command.HELLO, 1) == expected
    assert expected == bytes.fromhex("010101000fe32181")
    wire = protocol.encode_frame(protocol.Command.HELLO, 1)
    assert wire == protocol.cobs_encode(expected) + b"\x00"
    assert wire.count(0) == 1 and wire.endswith(b"\x00")


def test_packet_round_trip_random() -> None:
    generator = random.Random(99)
    for _ in range(300):
        packet_type = generator.randrange(256)
        request_id = generator.randrange(65536)
        payload = generator.randbytes(generator.choice([0, 1, 5, 253, 254, 600, 9221]))
        wire = protocol.encode_frame(packet_type, request_id, payload)
        packet = protocol.decode_frame(wire[:-1])
        assert packet == protocol.Packet(packet_type, request_id, payload)


@pytest.mark.parametrize(
    ("decoded", "code"),
    [
        (b"", protocol.ErrorCode.BAD_FRAME),
        (bytes(7), protocol.ErrorCode.BAD_FRAME),
        (bytes.fromhex("0101010000000000"), protocol.ErrorCode.BAD_CRC),
        (protocol.encode_packet(1, 1, version=2), protocol.ErrorCode.BAD_VERSION),
        (protocol.encode_packet(1, 1, version=0), protocol.ErrorCode.BAD_VERSION),
    ],
)
def test_decode_packet_rejects(decoded: bytes, code: protocol.ErrorCode) -> None:
    with pytest.raises(protocol.PacketError) as caught:
        protocol.decode_packet(decoded)
    assert caught.value.code == code


def test_every_single_bit_flip_is_caught() -> None:
    decoded = protocol.encode_packet(protocol.Command.ECHO, 7, b"tinyxray")
    for bit in range(len(decoded) * 8):
        corrupted = bytearray(decoded)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(protocol.PacketError):
            protocol.decode_packet(bytes(corrupted))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((256, 1), "type"), ((1, 65536), "request id"), ((1, -1), "request id")],
)
def test_encode_packet_rejects_out_of_range(arguments: tuple[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protocol.encode_packet(*arguments)


def test_packet_names() -> None:
    assert protocol.Packet(0x02, 1).name == "INFER"
    assert protocol.Packet(0x83, 1).name == "BENCH_RESULT"
    assert protocol.Packet(0x42, 1).name == "0x42"


# -- request builders ----------------------------------------------------------


def test_infer_payload_layout_and_overhead() -> None:
    frame = np.random.default_rng(5).integers(0, 256, size=(96, 96), dtype=np.uint8)
    payload = protocol.infer_payload(frame, 96, 96)
    assert payload[:5] == struct.pack("<HHB", 96, 96, 0)
    assert payload[5:] == frame.tobytes()
    for pixels in (frame, np.zeros((96, 96), np.uint8), np.full((96, 96), 255, np.uint8)):
        wire = protocol.encode_frame(
            protocol.Command.INFER, 0x1234, protocol.infer_payload(pixels, 96, 96)
        )
        overhead = len(wire) - pixels.size
        # docs/protocol.md: 4 header + 4 CRC + 1 delimiter + 5 INFER header + <= 37 COBS.
        assert overhead <= 51
        assert overhead / pixels.size <= 0.01


@pytest.mark.parametrize(
    ("pixels", "width", "height", "message"),
    [
        (bytes(10), 4, 4, "pixel bytes"),
        (bytes(0), 0, 0, "out of range"),
        (bytes(4), 70000, 1, "out of range"),
    ],
)
def test_infer_payload_rejects(pixels: bytes, width: int, height: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protocol.infer_payload(pixels, width, height)


def test_bench_and_camera_payloads() -> None:
    assert protocol.bench_payload(1) == b"\x01\x00"
    assert protocol.bench_payload(1000) == struct.pack("<H", 1000)
    for bad in (0, 1001, -1):
        with pytest.raises(ValueError, match="BENCH"):
            protocol.bench_payload(bad)
    assert protocol.camera_payload(True) == b"\x01"
    assert protocol.camera_payload(False) == b"\x00"


def test_chunk_payloads_reassemble() -> None:
    payload = bytes(range(256)) * 40
    pieces = protocol.chunk_payloads(protocol.Command.INFER, payload, 1000)
    assembled = bytearray()
    for piece in pieces:
        command, total, offset = protocol.CHUNK_HEADER.unpack_from(piece)
        assert command == protocol.Command.INFER and total == len(payload)
        assert offset == len(assembled)
        assembled += piece[protocol.CHUNK_HEADER.size :]
    assert bytes(assembled) == payload
    assert protocol.max_chunk_data(1024) == 1024 - 8 - 9
    with pytest.raises(ValueError):
        protocol.chunk_payloads(protocol.Command.INFER, payload, 0)


# -- reply parsers --------------------------------------------------------------

INFO_FIELDS = {
    "board": "host",
    "firmware": "0.1.0",
    "protocol": "1",
    "backend": "aot",
    "model_sha256": "AB" * 32,
    "labels": "Covid,Normal,Pneumonia",
    "input": "96x96x1",
    "input_scale": "1.0",
    "input_zero_point": "-128",
    "output_scale": "0.00390625",
    "output_zero_point": "-128",
    "uncertain_threshold": "0.6",
    "arena_bytes": "40000",
    "flash_bytes": "120000",
    "ram_bytes": "50000",
    "max_packet": "9240",
    "cost_unit": "instructions",
    "camera": "0",
}


def test_parse_info() -> None:
    text = protocol.format_info({**INFO_FIELDS, "future_key": "x=y"})
    info = protocol.parse_info(b"\n" + text)
    assert info.board == "host"
    assert info.protocol == 1
    assert info.model_sha256 == "ab" * 32
    assert info.labels == ["Covid", "Normal", "Pneumonia"]
    assert info.input_shape == (96, 96, 1)
    assert info.input_zero_point == -128
    assert info.output_scale == pytest.approx(1 / 256)
    assert info.max_packet == 9240
    assert info.cost_unit == "instructions"
    assert info.camera is False
    assert info.max_request is None
    assert (
        protocol.parse_info(
            protocol.format_info({**INFO_FIELDS, "max_request": "32768"})
        ).max_request
        == 32768
    )
    assert info.fields["future_key"] == "x=y"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (protocol.format_info({k: v for k, v in INFO_FIELDS.items() if k != "backend"}), "lacks"),
        (protocol.format_info(INFO_FIELDS) + b"no separator\n", "not key=value"),
        (protocol.format_info(INFO_FIELDS) + b"=value\n", "not key=value"),
        (b"\xff\xfe", "UTF-8"),
        (protocol.format_info({**INFO_FIELDS, "max_packet": "big"}), "integer"),
        (protocol.format_info({**INFO_FIELDS, "input": "96x96"}), "HxWxC"),
    ],
)
def test_parse_info_rejects(payload: bytes, message: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.parse_info(payload)


def test_result_round_trip() -> None:
    payload = protocol.result_payload(2, True, 0.5, 1234, 567890, (-128, 5, 127))
    result = protocol.parse_result(payload)
    assert result.label == 2 and result.uncertain
    assert result.top_prob == pytest.approx(0.5, abs=1 / 65535)
    assert (result.preprocess_cost, result.infer_cost) == (1234, 567890)
    assert result.scores == (-128, 5, 127)
    assert len(payload) == 13 + 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (bytes(12), "expected >= 13"),
        (protocol.result_payload(0, False, 1.0, 0, 0, (1, 2, 3))[:-1], "announces 3"),
        (protocol.result_payload(0, False, 1.0, 0, 0, (1, 2, 3)) + b"\x00", "announces 3"),
        (protocol.result_payload(3, False, 1.0, 0, 0, (1, 2, 3)), "out of range"),
    ],
)
def test_parse_result_rejects(payload: bytes, message: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.parse_result(payload)


def test_bench_result() -> None:
    result = protocol.parse_bench_result(struct.pack("<HIII", 10, 5, 6, 9))
    assert result == protocol.BenchResult(10, 5, 6, 9)
    with pytest.raises(protocol.ProtocolError, match="expected 14"):
        protocol.parse_bench_result(bytes(13))
    with pytest.raises(protocol.ProtocolError, match="not ordered"):
        protocol.parse_bench_result(struct.pack("<HIII", 10, 7, 6, 9))


def test_frame_reply() -> None:
    pixels = np.arange(-6, 6, dtype=np.int8)
    frame = protocol.parse_frame(struct.pack("<HH", 4, 3) + pixels.tobytes())
    assert (frame.width, frame.height) == (4, 3)
    assert np.array_equal(frame.pixels, pixels.reshape(3, 4))
    with pytest.raises(protocol.ProtocolError, match="too short"):
        protocol.parse_frame(b"\x01")
    with pytest.raises(protocol.ProtocolError, match="carries"):
        protocol.parse_frame(struct.pack("<HH", 4, 3) + bytes(11))


def test_error_reply() -> None:
    error = protocol.parse_error(protocol.error_payload(protocol.ErrorCode.NO_FRAME, "no INFER"))
    assert error.name == "NO_FRAME" and error.message == "no INFER"
    assert str(error) == "NO_FRAME (9): no INFER"
    assert protocol.parse_error(b"\xc8").name == "ERROR_200"
    with pytest.raises(protocol.ProtocolError, match="without a code"):
        protocol.parse_error(b"")


# -- stream decoder -------------------------------------------------------------


def test_stream_decoder_skips_banner_and_garbage() -> None:
    hello = protocol.encode_frame(protocol.Command.HELLO, 3)
    boot = protocol.encode_frame(protocol.Reply.BOOT, 0)
    stream = (
        b"tinyxray firmware 0.1.0 board=host protocol=1\n\x00"
        + boot
        + b"\x00\x00"  # empty frames are ignored silently
        + b"\x13\x37garbage\xff\x00"
        + hello[: len(hello) // 2]  # a frame cut short by a reset ...
        + hello  # ... merges with the next one, fails, and the decoder resyncs
        + hello
    )
    decoder = protocol.StreamDecoder()
    items = list(decoder.feed(stream))
    packets = [item for item in items if isinstance(item, protocol.Packet)]
    discarded = [item for item in items if isinstance(item, protocol.Discarded)]
    assert [packet.type for packet in packets] == [protocol.Reply.BOOT, protocol.Command.HELLO]
    assert discarded[0].text == "tinyxray firmware 0.1.0 board=host protocol=1"
    assert len(discarded) == 3
    assert all(item.text is None for item in discarded[1:])
    assert decoder.stats.empty_frames == 2
    assert decoder.stats.bytes_in == len(stream)


def test_stream_decoder_byte_by_byte() -> None:
    generator = random.Random(7)
    frames = [
        protocol.encode_frame(0x82, index, generator.randbytes(generator.randrange(0, 600)))
        for index in range(20)
    ]
    decoder = protocol.StreamDecoder()
    received = []
    for byte in b"".join(frames):
        received += list(decoder.feed(bytes([byte])))
    assert [packet.request_id for packet in received] == list(range(20))
    assert decoder.pending == 0


def test_stream_decoder_drops_oversized_frames() -> None:
    decoder = protocol.StreamDecoder(max_frame=100)
    good = protocol.encode_frame(0x85, 1, b"ok")
    items = list(decoder.feed(b"\x01" * 150))
    assert items == [] and decoder.pending == 150
    items = list(decoder.feed(b"\x01" * 50 + b"\x00" + good))
    assert isinstance(items[0], protocol.Discarded) and "exceeds" in items[0].reason
    assert items[1] == protocol.Packet(0x85, 1, b"ok")
    assert decoder.stats.discarded_bytes == 201


def test_stream_decoder_random_noise_never_raises() -> None:
    generator = random.Random(3)
    decoder = protocol.StreamDecoder(max_frame=4096)
    good = protocol.encode_frame(0x85, 9, b"after noise")
    for _ in range(200):
        list(decoder.feed(generator.randbytes(generator.randrange(1, 300))))
    items = list(decoder.feed(b"\x00" + good))
    assert items[-1] == protocol.Packet(0x85, 9, b"after noise")


def test_info_fields_of_the_real_boards() -> None:
    """bit_exact, ram_free_bytes and rx_window_bytes: typed, optional for older firmware."""
    old = protocol.parse_info(protocol.format_info(INFO_FIELDS))
    assert (old.bit_exact, old.ram_free_bytes, old.rx_window_bytes) == (False, None, 0)
    new = protocol.parse_info(
        protocol.format_info(
            {**INFO_FIELDS, "bit_exact": "1", "ram_free_bytes": "31000", "rx_window_bytes": "300"}
        )
    )
    assert (new.bit_exact, new.ram_free_bytes, new.rx_window_bytes) == (True, 31000, 300)
    with pytest.raises(protocol.ProtocolError, match="integer"):
        protocol.parse_info(protocol.format_info({**INFO_FIELDS, "rx_window_bytes": "lots"}))


def test_request_wire_bytes_is_what_goes_on_the_wire() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 9000, 9232, 9233, 20000, 32768):
        payload = bytes(rng.integers(1, 256, size, dtype=np.uint8))  # no zeros: worst case
        if size + protocol.MIN_PACKET_BYTES <= 9240:
            wire = len(protocol.encode_frame(protocol.Command.INFER, 1, payload))
        else:
            pieces = protocol.chunk_payloads(protocol.Command.INFER, payload, 9240 - 17)
            wire = sum(len(protocol.encode_frame(protocol.Command.CHUNK, 1, p)) for p in pieces)
        assert protocol.request_wire_bytes(size, 9240) == wire


def test_receive_window_is_honoured() -> None:
    info = protocol.parse_info(protocol.format_info({**INFO_FIELDS, "rx_window_bytes": "1000"}))
    info.check_request_fits(1000)
    with pytest.raises(protocol.ProtocolError, match="receive window of 1000"):
        info.check_request_fits(1001)
    unlimited = protocol.parse_info(protocol.format_info(INFO_FIELDS))
    unlimited.check_request_fits(10**9)


def test_log_packet() -> None:
    packet = protocol.decode_frame(
        protocol.encode_frame(protocol.Reply.LOG, 0, b"Failed to allocate tail memory.")[:-1]
    )
    assert packet.name == "LOG"
    assert protocol.parse_log(packet.payload) == "Failed to allocate tail memory."
