"""A tiny experiment: fit the amplitude of a noisy sine wave.

Run as a trial with ``python -m project_pkg +exp=sine`` (see conf/exp/sine.yaml);
`amplitude` and `frequency` are the chosen options of the groups of the same name.
"""

import logging

import numpy as np

log = logging.getLogger(__name__)


def run(seed: int, amplitude: float, frequency: float = 1.0, samples: int = 200) -> dict:
    """Sample a noisy sine, estimate its amplitude by least squares, report the error.

    `main` is the absolute error of the estimate; the noisy signal itself is saved
    with the results (read it back with `mitosis_hydra.load_trial_data`). `samples`
    is an experiment argument: set in conf/exp/sine.yaml, overridden with exp.samples=N.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, samples)
    wave = np.sin(frequency * t)
    signal = amplitude * wave + rng.normal(scale=0.1, size=t.size)
    estimate = float(wave @ signal / (wave @ wave))
    error = abs(estimate - amplitude)
    log.info("estimated amplitude %.4f (true %.4f)", estimate, amplitude)
    return {"main": error, "metrics": {"estimate": estimate}, "signal": signal}
