"""`hydra/launcher=mitosis`: a thin shim Hydra imports at every start.

It registers the launcher's config and imports the engine
(`mitosis_hydra.sweep.launcher`) only when a sweep is launched, so Hydra's start-up
stays fast for every app that merely has this package installed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class MitosisLauncherConf:
    """Settings of `hydra/launcher=mitosis` (set as `hydra.launcher.<name>=…`)."""

    _target_: str = "hydra_plugins.mitosis_launcher.mitosis_launcher.MitosisLauncher"
    _recursive_: bool = False  # `inner` stays a config until the sweep is validated
    # worker processes; null means one per CPU, at most 4
    n_jobs: Optional[int] = None  # noqa: UP045  (OmegaConf reads the annotation)
    # progress bar: null means only when stderr is a terminal
    progress: Optional[bool] = None  # noqa: UP045
    # another Hydra launcher to hand the validated jobs to, e.g.
    # +hydra/launcher@hydra.launcher.inner=submitit_slurm
    inner: Any = None
    # skip every job that already has a finished trial (same experiment, variants,
    # seed, at the current commit); the same as mitosis.resume=true
    resume: bool = False
    # false: submit every job to the inner (submitit) launcher's scheduler, record the
    # trials `queued`, print their keys and return without waiting for them
    wait: bool = True


ConfigStore.instance().store(
    group="hydra/launcher", name="mitosis", node=MitosisLauncherConf, provider="mitosis_hydra"
)


class MitosisLauncher(Launcher):
    """Validates the whole sweep, then runs each job as a trial (mitosis_hydra.sweep.launcher)."""

    def __init__(
        self,
        n_jobs: int | None = None,
        progress: bool | None = None,
        inner: Any = None,
        resume: bool = False,
        wait: bool = True,
    ) -> None:
        self.n_jobs = n_jobs
        self.progress = progress
        self.inner = inner
        self.resume = resume
        self.wait = wait
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        if self.inner is None:  # jobs composed here are run here: compose each once
            from mitosis_hydra.sweep.launcher import reuse_compositions

            reuse_compositions(hydra_context)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from mitosis_hydra.sweep.launcher import launch

        return launch(self, job_overrides, initial_job_idx)
