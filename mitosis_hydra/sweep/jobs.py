"""A whole sweep, composed and checked before any of its trials runs.

The mitosis launcher composes every job of a `--multirun`, turns each into a
trial spec, checks the git tree once and every variant lock (against the
database and between the jobs themselves), and refuses the whole sweep with
every problem listed if anything is wrong. Nothing here writes a record.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitosis_hydra.core.conflicts import conflict_message, display_value
from mitosis_hydra.core.errors import MitosisError, SweepRefusedError
from mitosis_hydra.core.records import VariantValue
from mitosis_hydra.core.spec import TrialSpec
from mitosis_hydra.run import gitinfo
from mitosis_hydra.run.trial import TrialContext
from mitosis_hydra.storage.store import TrialStore


@dataclass(frozen=True)
class SweepJob:
    """One composed job: its number, its overrides, its full config (with `hydra`) and its trial."""

    index: int
    overrides: tuple[str, ...]
    config: Any  # DictConfig, `hydra` node included
    spec: TrialSpec | None
    context: TrialContext | None
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"job #{self.index} ({' '.join(self.overrides) or 'no overrides'})"


def compose_jobs(
    hydra_context: Any, config: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[SweepJob]:
    """Compose every job as Hydra's launchers do, and read the trial each one describes.

    Job numbers continue from `initial_job_idx`, so a sweeper that sends its jobs in
    batches gets them numbered across the whole sweep.
    """
    from omegaconf import OmegaConf, open_dict, read_write

    loader = hydra_context.config_loader
    compose = getattr(loader, "mitosis_take_composition", loader.load_sweep_config)
    jobs = []
    for offset, overrides in enumerate(job_overrides):
        index = initial_job_idx + offset
        sweep_config = compose(config, list(overrides))
        if OmegaConf.is_readonly(sweep_config.hydra):  # someone else's: write on a copy
            sweep_config = copy.deepcopy(sweep_config)
        with read_write(sweep_config.hydra), open_dict(sweep_config):
            sweep_config.hydra.job.id = index
            sweep_config.hydra.job.num = index
        jobs.append(_read_job(index, tuple(overrides), sweep_config))
    return jobs


def _read_job(index: int, overrides: tuple[str, ...], sweep_config: Any) -> SweepJob:
    """The trial of one composed job, read with Hydra's config set as it is inside `run_job`."""
    from hydra.core.hydra_config import HydraConfig

    from mitosis_hydra.run.job import spec_and_context

    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(sweep_config)
    try:
        spec, context = spec_and_context(task_config(sweep_config))
    except MitosisError as error:
        return SweepJob(index, overrides, sweep_config, None, None, str(error))
    finally:
        HydraConfig.instance().cfg = previous
    return SweepJob(index, overrides, sweep_config, spec, context)


def task_config(sweep_config: Any) -> Any:
    """The config the task function sees: the job's config without its `hydra` node."""
    from omegaconf import open_dict, read_write

    task_cfg = copy.deepcopy(sweep_config)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return task_cfg


def validate(jobs: Sequence[SweepJob], cwd: Path) -> None:
    """Refuse the sweep, listing every problem, unless every job can run as a trial."""
    problems = [f"{job.label}:\n{_indent(job.problem)}" for job in jobs if job.problem]
    recorded = [job for job in jobs if job.spec is not None and not job.spec.debug]
    if recorded:
        try:
            state = gitinfo.read_state(cwd)
            gitinfo.require_clean(state, cwd)
            for folder, paths in _config_paths(recorded).items():
                gitinfo.require_committed(state, gitinfo.config_files(paths, folder))
        except MitosisError as error:
            problems.append(str(error))
    for store, group in _by_store(recorded):
        problems += sweep_conflicts(group)
        variants = _distinct_variants(group)
        try:
            conflicts = store.check_locks(variants)
        except MitosisError as error:  # the database cannot be read: say so with the rest
            problems.append(str(error))
            continue
        if conflicts:
            problems.append(conflict_message(conflicts))
    if problems:
        raise SweepRefusedError(refusal_message(len(jobs), problems))


def refusal_message(job_count: int, problems: list[str]) -> str:
    """What stopped the sweep, every problem as its own paragraph."""
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return (
        f"The sweep of {job_count} job{'s' if job_count != 1 else ''} was refused ({count}); "
        "no trial ran and nothing was recorded.\n\n"
        + "\n\n".join(problems)
        + "\n\nFix every problem above, then run the sweep again."
    )


def sweep_conflicts(jobs: Sequence[SweepJob]) -> list[str]:
    """Variant names that two jobs of this sweep would lock to two different values."""
    seen: dict[tuple[str, str], dict[str, list[tuple[SweepJob, VariantValue]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for job in jobs:
        for variant in job.spec.tracked:
            seen[(variant.group, variant.name)][variant.canonical].append((job, variant))
    problems = []
    for (group, name), values in sorted(seen.items()):
        if len(values) < 2:
            continue
        lines = [f"Variant {group}={name} would be locked to different values by this sweep."]
        for canonical, users in values.items():
            labels = ", ".join(job.label for job, _ in users)
            shown = display_value(canonical).replace("\n", "\n      ")
            lines.append(f"  {shown}    from {labels}")
        source = next(iter(values.values()))[0][1].source_path
        hint = f" ({source} depends on a swept setting)" if source else ""
        lines.append(f"Give each value its own name{hint}, or list {group} in mitosis.untracked.")
        problems.append("\n".join(lines))
    return problems


def _by_store(jobs: Sequence[SweepJob]) -> list[tuple[TrialStore, list[SweepJob]]]:
    groups: dict[tuple[Path, str | None], list[SweepJob]] = defaultdict(list)
    for job in jobs:
        settings = job.spec.settings
        groups[(Path(settings.trials_folder).resolve(), settings.db)].append(job)
    return [(TrialStore(folder, db), group) for (folder, db), group in groups.items()]


def _config_paths(jobs: Sequence[SweepJob]) -> dict[Path, list[Path]]:
    """Per trials folder (skipped when walking), the config folders its jobs read."""
    found: dict[Path, set[Path]] = defaultdict(set)
    for job in jobs:
        folder = Path(job.spec.settings.trials_folder).resolve()
        found[folder].update(job.context.config_paths)
    return {folder: sorted(paths) for folder, paths in found.items()}


def _distinct_variants(jobs: Sequence[SweepJob]) -> list[VariantValue]:
    distinct: dict[tuple[str, str, str], VariantValue] = {}
    for job in jobs:
        for variant in job.spec.tracked:
            distinct.setdefault((variant.group, variant.name, variant.canonical), variant)
    return list(distinct.values())


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
