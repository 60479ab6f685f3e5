"""HIL: the handshake and the device's metadata match the exported model card."""

from __future__ import annotations

import pytest
from hil_support import CARD, Dut

from tinyxray import model_card
from tinyxray.bench import protocol


def test_info_matches_the_model_card(fresh_dut: Dut) -> None:
    info = fresh_dut.handshake()  # raises HandshakeError on any mismatch
    card = model_card.load(CARD)
    assert info.protocol == protocol.PROTOCOL_VERSION
    assert info.model_sha256 == card.sha256
    assert info.labels == list(card.labels)
    assert info.input_shape == tuple(card.input.shape[1:])
    assert info.input_scale == pytest.approx(card.input.scale)
    assert info.input_zero_point == card.input.zero_point
    assert info.output_scale == pytest.approx(card.output.scale)
    assert info.output_zero_point == card.output.zero_point
    assert info.uncertain_threshold == pytest.approx(card.uncertain_threshold, abs=1e-6)
    assert info.arena_bytes > 0
    height, width, _ = info.input_shape
    # One model-sized INFER fits in a packet (else the bench uses CHUNK).
    assert (
        info.max_packet >= protocol.MIN_PACKET_BYTES + protocol.INFER_HEADER.size + height * width
    )
    assert info.backend in ("aot", "tflm")
    if fresh_dut.virtual:
        assert info.backend == "aot"
        assert info.cost_unit == fresh_dut.board.cost_unit  # type: ignore[union-attr]
        assert info.board in ("host", "qemu_m4")
        assert not info.camera


@pytest.mark.parametrize("size", [0, 1, 253, 254, 255, 1000])
def test_echo_round_trips(fresh_dut: Dut, size: int) -> None:
    payload = bytes((index * 7 + 1) % 256 for index in range(size))
    reply = fresh_dut.link.call(protocol.Command.ECHO, payload, protocol.Reply.ECHO_REPLY)
    assert reply.payload == payload


def test_largest_packet_is_accepted(fresh_dut: Dut) -> None:
    assert fresh_dut.info is not None
    payload = bytes(range(256)) * (fresh_dut.info.max_packet // 256)
    payload = payload[: fresh_dut.info.max_packet - protocol.MIN_PACKET_BYTES]
    reply = fresh_dut.link.call(protocol.Command.ECHO, payload, protocol.Reply.ECHO_REPLY)
    assert reply.payload == payload


def test_banner_and_boot_after_a_restart(fresh_dut: Dut) -> None:
    if not fresh_dut.virtual:
        pytest.skip("a real board is not reset by the tests")
    before = len(fresh_dut.link.stats.banners)
    fresh_dut.restart()
    banners = fresh_dut.link.stats.banners[before:]
    assert any(line.startswith("tinyxray firmware ") and "protocol=1" in line for line in banners)
