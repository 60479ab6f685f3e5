"""Benchmarks of the bench's protocol codec (pytest-benchmark; --benchmark-enable to record)."""

from __future__ import annotations

import numpy as np

from tinyxray.bench import protocol

FRAME = np.random.default_rng(0).integers(0, 256, size=(96, 96), dtype=np.uint8)


def test_encode_infer_frame_throughput(benchmark) -> None:
    payload = protocol.infer_payload(FRAME, 96, 96)
    wire = benchmark(protocol.encode_frame, protocol.Command.INFER, 1, payload)
    assert protocol.decode_frame(wire[:-1]).payload == payload
    benchmark.extra_info["wire_bytes"] = len(wire)
    benchmark.extra_info["overhead_bytes"] = len(wire) - FRAME.size
    if benchmark.stats is not None:
        benchmark.extra_info["MB_per_s"] = len(wire) / benchmark.stats.stats.mean / 1e6


def test_stream_decode_throughput(benchmark) -> None:
    wire = protocol.encode_frame(protocol.Command.INFER, 1, protocol.infer_payload(FRAME, 96, 96))
    stream = wire * 10

    def decode() -> int:
        return sum(1 for _ in protocol.StreamDecoder().feed(stream))

    assert benchmark(decode) == 10
    if benchmark.stats is not None:
        benchmark.extra_info["MB_per_s"] = len(stream) / benchmark.stats.stats.mean / 1e6
