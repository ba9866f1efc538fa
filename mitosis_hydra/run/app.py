"""The Hydra entry point users call from their package's `__main__.py`.

    import mitosis_hydra
    if __name__ == "__main__":
        mitosis_hydra.main(config_path="conf", config_name="config")

It is a plain `hydra.main` app (so `--help`, `--cfg job`, overrides, multirun
and tab completion behave as in any Hydra app) whose task turns each composed
config into a recorded trial.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitosis_hydra.core.command import USER_ARGV_VARIABLE
from mitosis_hydra.core.outcomes import EXIT_REFUSED
from mitosis_hydra.run.fast_help import HELP_FLAGS, asks_for_help, remember_group_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from mitosis_hydra.core.records import TrialMain, TrialRecord
    from mitosis_hydra.run.kernel import TrialKernel
    from mitosis_hydra.run.trial import TrialOutcome
    from mitosis_hydra.storage.store import TrialStore


def main(config_path: str | None = "conf", config_name: str = "config") -> Any:
    """Run the Hydra app of the calling module: one trial per job.

    `config_path` is relative to the file that calls `main` (like `hydra.main`); None
    when every config, the primary one included, is stored in Hydra's ConfigStore.
    """
    # Workers of joblib, submitit or SLURM run their own command line; the trial must
    # record the user's (reproduce re-runs it), so it travels in the environment.
    os.environ[USER_ARGV_VARIABLE] = json.dumps(getattr(sys, "orig_argv", sys.argv))
    if "://" in " ".join(sys.argv):  # a URL on the command line may carry a password
        from mitosis_hydra.core.masking import mask_log_records

        mask_log_records()
    if _is_single_trial(sys.argv[1:]):
        from mitosis_hydra.run.kernel import prestart

        prestart(os.getcwd())
        from mitosis_hydra.run.report import start_export_process

        start_export_process()  # nbconvert warms up in its own process, on the other core
    elif _is_sweep(sys.argv[1:]):
        from mitosis_hydra.run import export_service

        export_service.start()  # warms up on the other core while Hydra composes the sweep
        from mitosis_hydra.run.slurm_jobs import submitit_launchers_never_hang

        submitit_launchers_never_hang()  # hydra/launcher=submitit_slurm: no wait for ever
    import hydra

    if asks_for_help(sys.argv[1:]):
        remember_group_options()

    from mitosis_hydra.run.config import (  # Hydra: after kernel start
        open_primary_config,
        register_configs,
    )

    register_configs()
    open_primary_config(config_name)

    config_dir = None  # structured configs only (ConfigStore), as with hydra.main
    if config_path is not None:
        caller = sys._getframe(1).f_globals.get("__file__")
        base = Path(caller).resolve().parent if caller else Path.cwd()
        config_dir = str((base / config_path).resolve())

    def mitosis_trial(cfg: Any) -> Any:
        return run_job(cfg)

    mitosis_trial.__module__ = "__main__"  # Hydra then takes the (absolute) path as given
    app = hydra.main(config_path=config_dir, config_name=config_name, version_base="1.3")
    try:
        return app(mitosis_trial)()
    except SystemExit as stop:
        if stop.code == 1 and _is_config_error(stop.__context__):
            raise SystemExit(EXIT_BAD_CONFIG) from None  # Hydra printed its message already
        raise
    except Exception as error:  # HYDRA_FULL_ERROR=1: Hydra re-raises instead of printing
        if not _is_config_error(error):
            raise
        import traceback

        traceback.print_exc()
        raise SystemExit(EXIT_BAD_CONFIG) from None


EXIT_BAD_CONFIG = EXIT_REFUSED  # Hydra could not compose the config: nothing ran


def _is_config_error(error: BaseException | None) -> bool:
    """Hydra exits 1 after printing any error; a config it cannot compose is refused (2)."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )

    return isinstance(
        error, ConfigCompositionException | MissingConfigException | OverrideParseException
    )


# Hydra flags after which no trial runs in this process (help, inspection, sweeps).
_NO_TRIAL_FLAGS = HELP_FLAGS | {
    "--version",
    "-c",
    "--cfg",
    "-i",
    "--info",
    "-sc",
    "--shell-completion",
    "-m",
    "--multirun",
    "-p",
    "--package",
    "--experimental-rerun",
}


def _is_single_trial(args: list[str]) -> bool:
    return not any(arg.split("=")[0] in _NO_TRIAL_FLAGS for arg in args)


_SWEEP_FLAGS = {"-m", "--multirun"}


def _is_sweep(args: list[str]) -> bool:
    flags = {arg.split("=")[0] for arg in args}
    return bool(flags & _SWEEP_FLAGS) and not flags & (_NO_TRIAL_FLAGS - _SWEEP_FLAGS)


def run_job(cfg: Any) -> Any:
    """The task of one Hydra job run by Hydra's launchers: `trial_task`, reported.

    In a single run, problems end the process with a message and an exit code
    (2 refused, 1 failed, 130 interrupted); in a multirun they are raised, so the
    launcher records the job as failed and goes on with the others.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mitosis_hydra.core.errors import Interrupted, MitosisError
    from mitosis_hydra.core.masking import mask_file, mask_hydra_job_overrides, mask_text
    from mitosis_hydra.core.outcomes import exit_code
    from mitosis_hydra.core.records import TrialMain, TrialStatus
    from mitosis_hydra.run.batch_job import batch_job_signals, in_batch_job, interrupted_job_error
    from mitosis_hydra.run.resume import done_before_line

    single = HydraConfig.get().mode == RunMode.RUN
    if not single:  # Hydra prints and saves the overrides: mitosis.db's password masked
        mask_hydra_job_overrides()
        mask_file(Path(str(HydraConfig.get().sweep.dir)) / "multirun.yaml")
    try:
        with batch_job_signals():
            outcome = trial_task(cfg)
    except MitosisError as error:
        if not single:
            from mitosis_hydra.core.errors import JobRefusedError

            raise JobRefusedError(mask_text(str(error))) from None
        print(mask_text(str(error)), file=sys.stderr)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, Interrupted) as stop:
        if not single and isinstance(stop, Interrupted) and in_batch_job():
            raise interrupted_job_error() from None  # an Exception: submitit writes a result
        if not single:
            raise
        print(
            f"Trial interrupted ({type(stop).__name__}); its record, if any, says so.",
            file=sys.stderr,
        )
        sys.exit(exit_code(stop))
    except Exception as error:
        if not single:
            raise
        # Hydra would print the overrides as typed (a password in mitosis.db included)
        print(mask_text(f"Error executing job:\n{traceback.format_exc()}"), file=sys.stderr)
        sys.exit(exit_code(error))
    if isinstance(outcome, TrialMain):
        print(done_before_line(outcome), flush=True)
        return outcome
    print(outcome.summary(), flush=True)
    if single and outcome.status is not TrialStatus.FINISHED:
        print(outcome.problem(), file=sys.stderr)
        sys.exit(exit_code(outcome.status))
    return outcome.result_or_raise()


def trial_task(
    cfg: Any,
    kernel: TrialKernel | None = None,
    on_record: Callable[[TrialRecord, TrialStore], None] | None = None,
) -> TrialOutcome | TrialMain:
    """What every job does, whoever runs it (Hydra's launchers via `run_job`, or a worker of
    the mitosis launcher's pool): its trial's outcome, or with `mitosis.resume=true` the
    finished trial it need not run again (as a TrialMain with done_before).

    Errors are raised as they are; each caller reports them its own way.
    """
    from mitosis_hydra.core.records import TrialMain
    from mitosis_hydra.run.job import spec_and_context
    from mitosis_hydra.run.resume import current_commit, done_before
    from mitosis_hydra.run.trial import run_trial

    spec, context = spec_and_context(cfg)
    if spec.settings.resume:  # under any launcher: checked as the job starts
        record = done_before(spec, current_commit(context.cwd))
        if record is not None:
            return TrialMain.of(record, done_before=True)
    return run_trial(spec, context, kernel, on_record=on_record)
