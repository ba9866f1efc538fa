"""One trial, from a trial specification to a complete record: the recipe.

Each step is a call into a module with one job (git, store, notebook, kernel,
report); this module only decides the order and what happens on failure. The
kernel boots first, so that the bookkeeping hides behind its start-up time.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.errors import TrialFailedError, TrialInterruptedError, TrialNotFinishedError
from mitosis_hydra.core.layout import (
    ARGUMENTS_FILE,
    CONFIG_FILE,
    DIFF_FILE,
    ENVIRONMENT_FILE,
    HYDRA_FILE,
    LOG_FILE,
    SUMMARY_FILE,
)
from mitosis_hydra.core.masking import mask_text
from mitosis_hydra.core.records import TrialMain, TrialPlan, TrialRecord, TrialStatus
from mitosis_hydra.core.spec import TrialSpec
from mitosis_hydra.run import environment, gitinfo
from mitosis_hydra.run.kernel import (
    ExecutionOutcome,
    ExecutionResult,
    TrialKernel,
    sigterm_as_exception,
    sigterm_deferred,
    take_prestarted,
)
from mitosis_hydra.run.notebook import (
    INLINE_ARGUMENTS,
    NotebookPlan,
    Outcome,
    arguments_json,
    build_notebook,
    set_header,
)
from mitosis_hydra.run.paths import prepare_trials_folder
from mitosis_hydra.run.recorder import Recorder, recorder_for
from mitosis_hydra.run.report import export_notebook
from mitosis_hydra.storage import faults, liveness
from mitosis_hydra.storage.store import TrialStore, new_key


@dataclass(frozen=True)
class TrialContext:
    """Where and how the trial was invoked; recorded beside it."""

    cwd: Path
    config_yaml: str
    overrides: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    reproduction_of: str | None = None
    hydra: dict[str, Any] | None = None  # the job's `hydra` node, resolved
    sweep: str | None = None  # id of the multirun this job belongs to
    config_paths: tuple[Path, ...] = ()  # the config folders Hydra composed from


@dataclass(frozen=True)
class TrialOutcome:
    record: TrialRecord
    debug: bool
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> TrialStatus:
        return self.record.status

    def summary(self) -> str:
        """The few lines a researcher reads when the trial ends."""
        record = self.record
        label = "debug trial" if self.debug else "trial"
        lines = [f"{label} {record.name} (key {record.key}): {record.status.value}"]
        if record.status is TrialStatus.FINISHED:
            lines.append(f"  main: {record.main!r}")
            lines += [f"  {name}: {value!r}" for name, value in sorted(record.metrics.items())]
        if record.wall_time is not None:
            lines.append(f"  wall time: {record.wall_time:.2f} s")
        lines.append(f"  notebook: {record.notebook}")
        return "\n".join(lines)

    def problem(self) -> str:
        """`NAME (key KEY) failed:` and the error (the experiment's traceback)."""
        record = self.record
        return f"{record.name} (key {record.key}) {record.status.value}:\n{self.error or ''}"

    def result_or_raise(self) -> TrialMain:
        """The main metric as a Hydra job's return value, or the job's error (naming the trial)."""
        if self.status is TrialStatus.FINISHED:
            return TrialMain.of(self.record)
        error: type[TrialNotFinishedError] = (
            TrialInterruptedError if self.status is TrialStatus.INTERRUPTED else TrialFailedError
        )
        record = self.record
        raise error(
            self.problem(),
            key=record.key,
            name=record.name,
            status=record.status.value,
            notebook=str(record.notebook) if record.notebook else None,
        )


def run_trial(
    spec: TrialSpec,
    context: TrialContext,
    kernel: TrialKernel | None = None,
    on_record: Callable[[TrialRecord, TrialStore], None] | None = None,
) -> TrialOutcome:
    """Check, lock, record, execute, export, close the record — in that order.

    `kernel` may be one already booting (see `kernel.prestart`); it serves this trial only.
    `on_record` hears of the record as soon as it is opened, so that whoever runs this
    process can close the record if the process dies without doing so.
    """
    kernel = kernel or take_prestarted(str(context.cwd)) or new_kernel(context.cwd)
    faults.arm(kernel.process)
    threading.Thread(target=_import_exporter, daemon=True).start()  # while the kernel boots
    stopped = True  # by a signal, or by an error: the kernel is killed, not asked
    try:
        with sigterm_as_exception():
            outcome = _checked_and_recorded(spec, context, kernel, on_record)
        stopped = False
        return outcome
    finally:
        kernel.shutdown(now=stopped)


def _checked_and_recorded(
    spec: TrialSpec,
    context: TrialContext,
    kernel: TrialKernel,
    on_record: Callable[[TrialRecord, TrialStore], None] | None,
) -> TrialOutcome:
    folder = prepare_trials_folder(spec.settings.trials_folder)  # before git looks
    git = gitinfo.read_state(context.cwd)
    if not spec.debug:
        gitinfo.require_clean(git, context.cwd)
        gitinfo.require_committed(git, gitinfo.config_files(list(context.config_paths), folder))
    recorder = recorder_for(spec, folder)
    faults.inject("before-locks")
    record = None
    try:
        with sigterm_deferred():  # written and assigned whole, or not written at all
            record = recorder.open(_plan(spec, context, git, folder))
        recorder.announce(record, on_record)
        faults.inject("record-opened")
        with recorder.alive(record):
            return _execute(spec, context, git, record, recorder, kernel)
    except BaseException as error:  # never leave a record `running` (SIGTERM included)
        if record is not None:
            with sigterm_deferred():  # a second SIGTERM waits until the record is closed
                recorder.abandon(record, error)
        raise


def _plan(spec: TrialSpec, context: TrialContext, git: gitinfo.GitState, folder: Path) -> TrialPlan:
    return TrialPlan(
        key=new_key(),
        experiment=spec.experiment,
        variants=spec.variants,
        tracked=spec.tracked,
        commit=git.commit,
        seed=spec.seed,
        host=socket.gethostname(),
        started_at=datetime.now(UTC),
        trials_folder=folder,
        reproduction_of=context.reproduction_of,
        pid=os.getpid(),
        pid_start=liveness.process_start(os.getpid()),
        sweep=context.sweep,
        named=spec.tracked_variants,
    )


def _execute(
    spec: TrialSpec,
    context: TrialContext,
    git: gitinfo.GitState,
    record: TrialRecord,
    recorder: Recorder,
    kernel: TrialKernel,
) -> TrialOutcome:
    trial_dir = record.folder
    trial_dir.mkdir(parents=True, exist_ok=True)  # a recorded trial's store made it already
    _write_files(spec, context, git, record, trial_dir)
    plan = _notebook_plan(spec, context, record, _arguments_file(spec, trial_dir))
    notebook = build_notebook(plan, _provenance(spec, record))
    log_file = os.path.join(plan.folder, LOG_FILE)  # named in the notebook: no absolute path
    result = kernel.execute(notebook, max_output=spec.settings.max_output, log_file=log_file)
    if git.is_repo:
        _warn_of_leftovers(record, git, gitinfo.read_state(context.cwd), trial_dir)
    status, summary, error = _judge(result, trial_dir)
    wall_time = (datetime.now(UTC) - record.started_at).total_seconds()
    outcome = Outcome(status.value, summary.get("main"), summary.get("metrics"), wall_time, error)
    set_header(notebook, plan, outcome)
    faults.inject("exporting")
    notebook_path = export_notebook(notebook, trial_dir, spec.settings.format)
    finished = recorder.close(record, status, notebook_path, summary, error)
    return TrialOutcome(finished, spec.debug, error)


def _warn_of_leftovers(
    record: TrialRecord, before: gitinfo.GitState, after: gitinfo.GitState, trial_dir: Path
) -> None:
    """Name the files the trial left in the working tree: the next trial would refuse to run."""
    left = [entry for entry in after.dirty if entry not in before.dirty]
    if not left:
        return
    shown = "\n".join(f"  {entry}" for entry in left[:20])
    more = f"\n  … and {len(left) - 20} more" if len(left) > 20 else ""
    print(
        f"Warning: trial {record.name} left files in the git working tree; the next recorded "
        "trial will refuse to run until they are committed, git-ignored or removed:\n"
        f"{shown}{more}\n"
        f"Write a trial's files to its folder, {trial_dir}: "
        "mitosis_hydra.current_trial().folder or HydraConfig.get().runtime.output_dir.",
        file=sys.stderr,
        flush=True,
    )


def _judge(result: ExecutionResult, trial_dir: Path) -> tuple[TrialStatus, dict, str | None]:
    summary_path = trial_dir / SUMMARY_FILE
    if result.outcome is ExecutionOutcome.INTERRUPTED:
        return TrialStatus.INTERRUPTED, {}, result.error
    if result.outcome is ExecutionOutcome.ERROR or not summary_path.exists():
        return TrialStatus.FAILED, {}, result.error or "the notebook ended without results"
    return TrialStatus.FINISHED, json.loads(summary_path.read_text()), None


def _write_files(
    spec: TrialSpec,
    context: TrialContext,
    git: gitinfo.GitState,
    record: TrialRecord,
    trial_dir: Path,
) -> None:
    # A database password (mitosis.db, a git remote with a token) is never written.
    (trial_dir / CONFIG_FILE).write_text(mask_text(context.config_yaml), encoding="utf-8")
    if context.hydra is not None:
        hydra_text = mask_text(hydra_yaml(context.hydra, trial_dir))
        (trial_dir / HYDRA_FILE).write_text(hydra_text, encoding="utf-8")
    env = environment.capture(git)
    env["invocation"] = {
        "cwd": str(context.cwd),
        "argv": list(context.argv),
        "overrides": list(context.overrides),
    }
    # the sweep id too: a database rebuilt from these files keeps it
    env["trial"] = {
        "key": record.key,
        "name": record.name,
        "debug": spec.debug,
        "sweep": context.sweep,
    }
    (trial_dir / ENVIRONMENT_FILE).write_text(mask_text(json.dumps(env, indent=2)), "utf-8")
    if spec.debug and git.root is not None:
        (trial_dir / DIFF_FILE).write_text(gitinfo.diff(git.root), encoding="utf-8")
    level = "DEBUG" if spec.debug else "INFO"
    (trial_dir / LOG_FILE).write_text(
        f"{datetime.now(UTC).isoformat()} {level} mitosis_hydra: trial {record.name} "
        f"(key {record.key}) at commit {git.commit or 'none'}, seed {spec.seed}, "
        f"variants {spec.variants}\n",
        encoding="utf-8",
    )


def hydra_yaml(hydra: dict[str, Any], trial_dir: Path) -> str:
    """The job's Hydra config as the kernel sees it: the trial's folder is its output dir."""
    from omegaconf import OmegaConf

    runtime = {**(hydra.get("runtime") or {}), "output_dir": str(trial_dir)}
    return OmegaConf.to_yaml(OmegaConf.create({**hydra, "runtime": runtime}))


def _arguments_file(spec: TrialSpec, trial_dir: Path) -> str | None:
    """Arguments too long to show in the notebook go to a file beside it: its name, or None."""
    text = arguments_json(spec.arguments, indent=None)
    if len(text) <= INLINE_ARGUMENTS:
        return None
    (trial_dir / ARGUMENTS_FILE).write_text(text, encoding="utf-8")
    return ARGUMENTS_FILE


def _notebook_plan(
    spec: TrialSpec, context: TrialContext, record: TrialRecord, arguments_file: str | None
) -> NotebookPlan:
    trial_dir = record.folder
    return NotebookPlan(
        name=record.name,
        key=record.key,
        experiment=spec.experiment,
        run_target=spec.run_target,
        seed=spec.seed,
        debug=spec.debug,
        commit=record.commit,
        started_at=record.started_at.isoformat(timespec="seconds"),
        variants=spec.variants,
        arguments=spec.arguments,
        folder=os.path.relpath(trial_dir, context.cwd),
        hydra=context.hydra is not None,
        arguments_file=arguments_file,
    )


def _provenance(spec: TrialSpec, record: TrialRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "name": record.name,
        "experiment": spec.experiment,
        "iteration": record.iteration,
        "commit": record.commit,
        "seed": spec.seed,
        "variants": spec.variants,
        "debug": spec.debug,
        "started_at": record.started_at.isoformat(),
        "run": spec.run_target,
    }


def _import_exporter() -> None:
    from mitosis_hydra.run.report import warm_up

    warm_up()  # nbconvert's import and first-export costs (~1 s), paid while the kernel boots


def new_kernel(cwd: Path, zygote: Any = None) -> TrialKernel:
    """A fresh kernel for one trial, already booting (forked from `zygote` if given)."""
    kernel = TrialKernel(cwd=str(cwd), zygote=zygote)
    kernel.start()
    return kernel
