"""The sine experiment with a config group of its own: `noise` (see conf/exp/noisy.yaml).

Run as ``python -m project_pkg +exp=noisy noise=quiet``; `exp=sine` never gets `noise`.
"""

import numpy as np


def run(seed: int, amplitude: float, frequency: float = 1.0, noise: float = 0.1) -> dict:
    """Estimate the amplitude of a sine under noise of standard deviation `noise`."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, 200)
    wave = np.sin(frequency * t)
    signal = amplitude * wave + rng.normal(scale=noise, size=t.size)
    estimate = float(wave @ signal / (wave @ wave))
    return {"main": abs(estimate - amplitude), "metrics": {"estimate": estimate}}
