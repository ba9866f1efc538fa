"""A hydra-zen project: every config in the ConfigStore (`builds`, `zen_partial`, dataclasses).

hydra-zen's `store(SomeDataclass)` would store `builds(SomeDataclass)` (run gets
an instance); a dataclass stored with Hydra's own ConfigStore is a plain config
(run gets a dict). The project uses both.

No YAML at all: the primary config is a hydra-zen `make_config` with a defaults
list, the experiment is a `make_config(run=...)` node, and the app calls
`mitosis_hydra.main(config_path=None, ...)`. Trials run, lock, refuse a changed
value naming the module that stored it, and reproduce.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mitosis_hydra import load_trial_data

_MODELS = '''
"""What the configs build."""


class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x):
        return self.factor * x


def step(x, lr):
    return x - lr * x
'''

_CONFIGS = '''
"""Every config of the project, stored with hydra-zen."""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_zen import builds, make_config, store

from userpkg.zen_models import Scaler, step

DoubleConf = builds(Scaler, factor=2.0)
TripleConf = builds(Scaler, factor=3.0)
SlowStep = builds(step, lr=0.1, zen_partial=True)


@dataclass
class Data:
    size: int = 10
    offset: float = 0.0


FitConf = make_config(run="userpkg.zen_exp:fit")
Config = make_config(
    hydra_defaults=[
        "mitosis_hydra",
        "_self_",
        {"model": "double"},
        {"optimizer": "slow"},
        {"data": "small"},
    ]
)

store(DoubleConf, group="model", name="double")
store(TripleConf, group="model", name="triple")
store(SlowStep, group="optimizer", name="slow")
# A plain dataclass stored with Hydra's own ConfigStore: run() gets a dict.
ConfigStore.instance().store(group="data", name="small", node=Data)
ConfigStore.instance().store(group="data", name="large", node=Data(size=100))
store(FitConf, group="exp", name="fit")
store(Config, name="config")
store.add_to_hydra_store()
'''

_EXPERIMENT = '''
"""run() receives built objects (a Scaler, a partial function) and a plain dict."""


def fit(seed, model, optimizer, data):
    x = data["size"] + data["offset"]
    return {
        "main": optimizer(model(x)),
        "model": type(model).__name__,
        "optimizer_of_one": optimizer(1.0),  # a partial of step(x, lr=0.1)
        "data": data,
    }
'''

_MAIN = """import mitosis_hydra

from userpkg import zen_configs  # noqa: F401  (stores the configs)

if __name__ == "__main__":
    mitosis_hydra.main(config_path=None, config_name="config")
"""


@pytest.fixture
def zen_project(make_user_project):
    yaml = ("config.yaml", "exp/draw.yaml", "amplitude/small.yaml", "amplitude/big.yaml")
    return make_user_project(
        {
            **{f"userpkg/conf/{path}": None for path in yaml},
            "userpkg/__main__.py": _MAIN,
            "userpkg/zen_models.py": _MODELS.lstrip(),
            "userpkg/zen_configs.py": _CONFIGS.lstrip(),
            "userpkg/zen_exp.py": _EXPERIMENT.lstrip(),
        }
    )


@pytest.mark.kernel
def test_hydra_zen_trials_run_lock_refuse_naming_the_module_and_reproduce(zen_project):
    result = zen_project.run("+exp=fit")
    assert result.returncode == 0, result.output
    (first,) = zen_project.trials()
    assert first.name == "fit-data_small-model_double-optimizer_slow-1"
    assert first.variants == {"data": "small", "model": "double", "optimizer": "slow"}
    seen = load_trial_data(first.key, zen_project.trials_folder)
    assert seen["main"] == pytest.approx(18.0)  # (10 * 2.0) * (1 - 0.1)
    assert seen["model"] == "Scaler"
    assert seen["optimizer_of_one"] == pytest.approx(0.9)
    assert seen["data"] == {"size": 10, "offset": 0.0}

    result = zen_project.run("+exp=fit", "data=large", "model=triple")
    assert result.returncode == 0, result.output
    second = zen_project.trials()[-1]
    assert second.name == "fit-data_large-model_triple-optimizer_slow-1"
    assert second.main == pytest.approx(270.0)  # (100 * 3.0) * 0.9

    configs = zen_project.root / "userpkg" / "zen_configs.py"
    configs.write_text(configs.read_text().replace("factor=2.0", "factor=2.5"))
    zen_project.commit("a different factor under the same name")
    refused = zen_project.run("+exp=fit")
    assert refused.returncode == 2, refused.output
    lines = refused.stderr.splitlines()
    assert lines[0] == "Variant model=double is already locked to a different value.", (
        refused.output
    )
    assert "ConfigStore node model/double, registered by module userpkg.zen_configs" in (
        refused.stderr
    )
    assert "2.0" in refused.stderr and "2.5" in refused.stderr
    assert len(zen_project.trials()) == 2

    reproduced = subprocess.run(  # at the first trial's commit, in a worktree of its own
        [sys.executable, "-m", "mitosis_hydra.read.cli", "reproduce", first.key],
        cwd=zen_project.root,
        env=zen_project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "Result: MATCH" in reproduced.stdout
    copy = zen_project.trials()[-1]
    assert copy.reproduction_of == first.key and copy.main == first.main
