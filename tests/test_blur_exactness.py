"""The firmware's integer blur equals host/preprocess.py's float64 blur on every input.

firmware/lib/core/preprocess.cc blurs with the 2-D weights w_i * w_j in 2^-52 fixed point
and rounds floor(v + 1/2) exactly; the host computes v in float64 (error below 1e-12) and
rounds the same way. The two can differ only where v lies within ~1e-12 of a .5 tie. For the
default 3-tap kernel every output is v = b^2 S0 + a b S1 + a^2 S2, with S0 the centre pixel
(0..255) and S1, S2 the sums of the four edge and four corner neighbours (0..1020 each, border
reflection included). This enumerates all 266 million (S0, S1, S2) and checks the nearest tie.
"""

from __future__ import annotations

import numpy as np

from tinyxray.preprocess import PreprocessConfig, gaussian_kernel

# What the firmware's fixed point and the host's float64 can be off by, with a wide margin.
ERROR_BOUND = 1e-9


def test_default_blur_never_reaches_a_rounding_tie() -> None:
    config = PreprocessConfig()
    assert (config.blur_kernel, config.blur_sigma) == (3, 1.0)
    edge, centre, _ = gaussian_kernel(3, 1.0)
    neighbour_sums = np.arange(0, 4 * 255 + 1, dtype=np.float64)
    nearest = np.inf
    for s0 in range(256):
        values = (
            centre * centre * s0
            + edge * centre * neighbour_sums[:, None]
            + edge * edge * neighbour_sums[None, :]
        )
        nearest = min(nearest, float(np.abs(values - (np.floor(values) + 0.5)).min()))
    assert nearest > ERROR_BOUND, f"a 3x3 neighbourhood comes within {nearest:g} of a tie"
