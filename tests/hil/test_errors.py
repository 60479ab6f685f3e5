"""HIL: every error of the protocol gets its ERROR reply, and the link works afterwards.

`fresh_dut` checks after each test that an ECHO still goes through.
"""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from hil_support import Dut

from tinyxray.bench import protocol

Code = protocol.ErrorCode
Command = protocol.Command


def send_packet(dut: Dut, packet_type: int, payload: bytes = b"", version: int = 1) -> int:
    request_id = dut.link.new_request_id()
    dut.write(protocol.encode_frame(packet_type, request_id, payload, version))
    return request_id


def model_frame(dut: Dut) -> np.ndarray:
    assert dut.info is not None
    height, width, _ = dut.info.input_shape
    return np.random.default_rng(2).integers(0, 256, size=(height, width), dtype=np.uint8)


def test_bad_frame_invalid_cobs(fresh_dut: Dut) -> None:
    fresh_dut.write(b"\x05\x01\x02\x00")  # the code byte promises 4 bytes, 2 follow
    fresh_dut.expect_error(Code.BAD_FRAME, protocol.ERROR_REQUEST_ID)


def test_bad_frame_short_packet(fresh_dut: Dut) -> None:
    fresh_dut.write(protocol.frame_bytes(bytes([1, 1, 5, 0, 1, 2, 3])))  # 7 bytes
    fresh_dut.expect_error(Code.BAD_FRAME, protocol.ERROR_REQUEST_ID)


def test_bad_crc(fresh_dut: Dut) -> None:
    decoded = bytearray(protocol.encode_packet(Command.HELLO, 77))
    decoded[-1] ^= 0x40
    fresh_dut.write(protocol.frame_bytes(bytes(decoded)))
    fresh_dut.expect_error(Code.BAD_CRC, protocol.ERROR_REQUEST_ID)


def test_bad_version(fresh_dut: Dut) -> None:
    request_id = send_packet(fresh_dut, Command.HELLO, version=2)
    fresh_dut.expect_error(Code.BAD_VERSION, request_id)


def test_unknown_command(fresh_dut: Dut) -> None:
    request_id = send_packet(fresh_dut, 0x42)
    fresh_dut.expect_error(Code.UNKNOWN_COMMAND, request_id)
    # A reply type sent as a request is unknown too.
    request_id = send_packet(fresh_dut, protocol.Reply.RESULT)
    fresh_dut.expect_error(Code.UNKNOWN_COMMAND, request_id)


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        (Command.HELLO, b"\x00"),
        (Command.BENCH, b"\x01"),
        (Command.BENCH, b"\x01\x00\x00"),
        (Command.INFER, b"\x60\x00\x60"),
        (Command.INFER, struct.pack("<HHB", 4, 4, 0) + bytes(15)),
        (Command.CAMERA, b""),
        (Command.CHUNK, b"\x02\x00"),
    ],
    ids=[
        "hello+byte",
        "bench-short",
        "bench-long",
        "infer-header",
        "infer-pixels",
        "camera",
        "chunk",
    ],
)
def test_bad_length(fresh_dut: Dut, command: int, payload: bytes) -> None:
    request_id = send_packet(fresh_dut, command, payload)
    fresh_dut.expect_error(Code.BAD_LENGTH, request_id)


@pytest.mark.parametrize(
    ("width", "height", "pixel_format"),
    [(10, 10, 1), (96, 96, 2), (0, 0, 0), (1025, 1, 0)],
    ids=["int8-wrong-size", "unknown-format", "empty", "too-wide"],
)
def test_bad_frame_size(fresh_dut: Dut, width: int, height: int, pixel_format: int) -> None:
    payload = struct.pack("<HHB", width, height, pixel_format) + bytes(width * height)
    request_id = send_packet(fresh_dut, Command.INFER, payload)
    fresh_dut.expect_error(Code.BAD_FRAME_SIZE, request_id)


def test_too_large(fresh_dut: Dut) -> None:
    assert fresh_dut.info is not None
    payload = bytes(range(1, 256)) * (fresh_dut.info.max_packet // 255 + 1)
    send_packet(fresh_dut, Command.ECHO, payload)
    fresh_dut.expect_error(Code.TOO_LARGE, protocol.ERROR_REQUEST_ID)


def test_pending_chunk_interrupted(fresh_dut: Dut) -> None:
    payload = bytes(600)
    first = protocol.chunk_payloads(Command.ECHO, payload, 200)[0]
    send_packet(fresh_dut, Command.CHUNK, first)  # no reply until the last piece
    request_id = send_packet(fresh_dut, Command.ECHO, b"cut in")
    fresh_dut.expect_error(Code.PENDING, request_id)


def test_chunk_bad_arguments(fresh_dut: Dut) -> None:
    header = protocol.CHUNK_HEADER
    request_id = send_packet(fresh_dut, Command.CHUNK, header.pack(Command.ECHO, 10, 4) + b"ab")
    fresh_dut.expect_error(Code.BAD_ARGUMENT, request_id)  # first piece not at offset 0
    request_id = send_packet(fresh_dut, Command.CHUNK, header.pack(Command.ECHO, 2, 0) + b"abc")
    fresh_dut.expect_error(Code.BAD_ARGUMENT, request_id)  # runs past total
    request_id = send_packet(fresh_dut, Command.CHUNK, header.pack(0x80, 2, 0) + b"ab")
    fresh_dut.expect_error(Code.BAD_ARGUMENT, request_id)  # not a command


def test_chunk_total_beyond_max_request(fresh_dut: Dut) -> None:
    assert fresh_dut.info is not None
    if fresh_dut.info.max_request is None:
        pytest.skip("the device does not report max_request")
    total = fresh_dut.info.max_request + 1
    piece = protocol.CHUNK_HEADER.pack(Command.ECHO, total, 0) + b"x"
    request_id = send_packet(fresh_dut, Command.CHUNK, piece)
    fresh_dut.expect_error(Code.TOO_LARGE, request_id)


def test_chunked_infer_equals_single_packet_infer(fresh_dut: Dut) -> None:
    frame = model_frame(fresh_dut)
    payload = protocol.infer_payload(frame, frame.shape[1], frame.shape[0])
    direct = fresh_dut.link.call(Command.INFER, payload, protocol.Reply.RESULT)
    chunked = fresh_dut.link.call_chunked(Command.INFER, payload, protocol.Reply.RESULT, 1000)
    assert (
        protocol.parse_result(chunked.payload).scores
        == protocol.parse_result(direct.payload).scores
    )


def test_bench_bad_argument(fresh_dut: Dut) -> None:
    for count in (0, 1001):
        request_id = send_packet(fresh_dut, Command.BENCH, struct.pack("<H", count))
        fresh_dut.expect_error(Code.BAD_ARGUMENT, request_id)


def test_no_frame_after_reset(fresh_dut: Dut) -> None:
    if not fresh_dut.virtual:
        pytest.skip("needs a freshly reset board; the tests reset only virtual boards")
    fresh_dut.restart()
    request_id = send_packet(fresh_dut, Command.BENCH, struct.pack("<H", 1))
    fresh_dut.expect_error(Code.NO_FRAME, request_id)


def test_camera_unsupported_without_camera(fresh_dut: Dut) -> None:
    assert fresh_dut.info is not None
    if fresh_dut.info.camera:
        pytest.skip("this board has a camera")
    request_id = send_packet(fresh_dut, Command.CAMERA, b"\x01")
    fresh_dut.expect_error(Code.UNSUPPORTED, request_id)


# -- garbage and truncated frames ----------------------------------------------------


def test_garbage_without_delimiter_then_flush(fresh_dut: Dut) -> None:
    noise = bytes(random.Random(1).randrange(1, 256) for _ in range(500))
    fresh_dut.write(noise + b"\x00")
    error = fresh_dut.expect(protocol.Reply.ERROR)
    assert error.request_id == protocol.ERROR_REQUEST_ID
    assert protocol.parse_error(error.payload).code in (Code.BAD_FRAME, Code.BAD_CRC)


def test_random_noise_burst_then_requests_work(fresh_dut: Dut) -> None:
    generator = random.Random(2)
    fresh_dut.write(generator.randbytes(20000) + b"\x00")
    errors = fresh_dut.link.drain(quiet=1.0)
    assert errors, "the noise produced no ERROR at all"
    assert all(packet.type == protocol.Reply.ERROR for packet in errors)
    assert all(packet.request_id == protocol.ERROR_REQUEST_ID for packet in errors)
    assert len(errors) <= 20000 // 2


def test_truncated_infer_then_flush(fresh_dut: Dut) -> None:
    frame = model_frame(fresh_dut)
    wire = protocol.encode_frame(
        Command.INFER, 5, protocol.infer_payload(frame, frame.shape[1], frame.shape[0])
    )
    fresh_dut.write(wire[: len(wire) // 2] + protocol.DELIMITER)  # as if the cable were pulled
    error = fresh_dut.expect(protocol.Reply.ERROR)
    assert protocol.parse_error(error.payload).code in (Code.BAD_FRAME, Code.BAD_CRC)


def test_truncated_frame_merged_with_the_next_request(fresh_dut: Dut) -> None:
    hello = protocol.encode_frame(Command.HELLO, 9)
    fresh_dut.write(hello[:4])  # no delimiter: the next request merges into this frame
    before = fresh_dut.link.stats.retries
    reply = fresh_dut.link.call(Command.ECHO, b"resend me", protocol.Reply.ECHO_REPLY)
    assert reply.payload == b"resend me"
    assert fresh_dut.link.stats.retries == before + 1  # the bench's resend recovered it


def test_empty_frames_are_ignored(fresh_dut: Dut) -> None:
    fresh_dut.write(b"\x00" * 50)
    assert fresh_dut.link.drain(quiet=0.5) == []
