"""HIL benchmarks (pytest-benchmark; run with --benchmark-enable to record figures).

- frames/s end to end against the host virtual board (INFER round trips);
- the QEMU instruction count per inference (BENCH), kept in extra_info so that
  `pytest-benchmark compare` shows regressions of the firmware's cost.
"""

from __future__ import annotations

import numpy as np
import pytest
from hil_support import Dut

from tinyxray.bench import protocol


def sample_payload(dut: Dut) -> bytes:
    assert dut.info is not None
    height, width, _ = dut.info.input_shape
    frame = np.random.default_rng(4).integers(0, 256, size=(height, width), dtype=np.uint8)
    return protocol.infer_payload(frame, width, height)


def test_end_to_end_frames_per_second(dut: Dut, benchmark) -> None:
    if dut.target != "host":
        pytest.skip("frames/s is benchmarked against the host virtual board")
    payload = sample_payload(dut)
    dut.link.drain()

    def infer() -> protocol.InferResult:
        reply = dut.link.call(protocol.Command.INFER, payload, protocol.Reply.RESULT)
        return protocol.parse_result(reply.payload)

    result = benchmark.pedantic(infer, rounds=30, iterations=1, warmup_rounds=2)
    assert len(result.scores) == len(dut.model.labels)
    wire = len(protocol.encode_frame(protocol.Command.INFER, 1, payload))
    benchmark.extra_info["request_wire_bytes"] = wire
    benchmark.extra_info["infer_cost_ns"] = result.infer_cost
    if benchmark.stats is not None:
        benchmark.extra_info["frames_per_s"] = 1.0 / benchmark.stats.stats.mean


def test_qemu_instructions_per_inference(dut: Dut, benchmark) -> None:
    if dut.target != "qemu":
        pytest.skip("the instruction count comes from the QEMU board (-icount)")
    assert dut.info is not None and dut.info.cost_unit == "instructions"
    dut.link.drain()
    dut.link.call(protocol.Command.INFER, sample_payload(dut), protocol.Reply.RESULT)

    def bench() -> protocol.BenchResult:
        reply = dut.link.call(
            protocol.Command.BENCH,
            protocol.bench_payload(3),
            protocol.Reply.BENCH_RESULT,
            timeout=120.0,
        )
        return protocol.parse_bench_result(reply.payload)

    result = benchmark.pedantic(bench, rounds=1, iterations=1)
    # The emulator counts instructions (-icount): runs of one frame differ only by
    # the few instructions of the timer interrupts that fall inside them.
    assert result.minimum > 0
    assert result.maximum - result.minimum <= 0.001 * result.median
    benchmark.extra_info["instructions_per_inference"] = result.median
    print(f"\nQEMU Cortex-M4: {result.median:,} instructions per inference")
