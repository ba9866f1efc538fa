"""Trials of a sweep in worker processes: a few long-lived drivers, a fresh kernel per trial.

Each worker process imports the driver code once and then runs trial after
trial, each through Hydra's `run_job` (so callbacks and `HydraConfig` behave
as with Hydra's own launchers) and each in its own new kernel. While one trial
runs, the worker already boots the kernel of its next trial; a kernel is never
reused. Workers take the next job from a shared counter, so a slow trial never
holds up the others, and report `started` / `done` events to the driver.

Ctrl-C belongs to the driver: workers ignore SIGINT, and the driver stops the
sweep by setting a shared flag and sending SIGTERM, which each running trial
turns into an `interrupted` record. A driver that dies without a word (SIGKILL,
OOM) stops its sweep the same way: on Linux the kernel sends each worker
SIGTERM when its parent dies (PR_SET_PDEATHSIG), and every worker checks its
parent before it takes a job, so no trial runs for a sweep nobody waits for.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitosis_hydra.core.errors import Interrupted, MitosisError
from mitosis_hydra.core.outcomes import DONE_BEFORE, NOT_STARTED
from mitosis_hydra.core.records import TrialMain, TrialStatus

_POLL = 0.2  # seconds between checks that the workers are still alive


@dataclass(frozen=True)
class TrialResult:
    """How one job of the sweep ended, as the summary table shows it."""

    position: int
    status: str  # a TrialStatus, or NOT_STARTED / DONE_BEFORE (core/outcomes.py)
    name: str | None = None
    key: str | None = None
    main: Any = None
    notebook: str | None = None
    error: str | None = None


def default_n_jobs() -> int:
    """One worker per usable CPU, at most 4: each trial also runs a kernel process."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


@dataclass
class _Shared:
    """What the driver and every worker share."""

    counter: Any  # multiprocessing.Value: the next job to hand out
    stop: Any  # multiprocessing.Event: hand out no more jobs
    events: Any  # multiprocessing.Queue of (kind, position, payload)
    total: int
    driver: int  # pid of the driver: a worker whose parent is another has lost its sweep


class WorkerPool:
    """`n_jobs` worker processes running the composed jobs `configs` of one sweep."""

    def __init__(self, hydra_context: Any, configs: list[Any], n_jobs: int) -> None:
        from hydra.core.singleton import Singleton

        method = "fork" if sys.platform == "linux" else "spawn"
        self._mp = multiprocessing.get_context(method)
        self._shared = _Shared(
            self._mp.Value("i", 0), self._mp.Event(), self._mp.Queue(), len(configs), os.getpid()
        )
        payload: Any = (hydra_context, Singleton.get_state(), configs)
        if method != "fork":  # spawned workers receive it pickled; forked ones inherit it
            import cloudpickle

            payload = cloudpickle.dumps(payload)
        self._workers = [
            self._mp.Process(target=_work, args=(payload, self._shared), name=f"mitosis-{n}")
            for n in range(max(1, min(n_jobs, len(configs))))
        ]
        self._started: dict[int, int] = {}
        self._opened: dict[int, tuple[str, str, str]] = {}  # position -> key, folder, db url
        self.results: dict[int, TrialResult] = {}
        self.interrupted = False

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def collect(self, on_event: Callable[[str, int, TrialResult | None], None]) -> None:
        """Wait for every job; on Ctrl-C, stop the sweep and wait for the running trials."""
        try:
            self._collect(on_event)
        except KeyboardInterrupt:
            self.interrupted = True
            self._shared.stop.set()
            for worker in self._workers:
                if worker.is_alive() and worker.pid is not None:
                    os.kill(worker.pid, signal.SIGTERM)
            try:
                self._collect(on_event)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                for worker in self._workers:
                    worker.kill()
        finally:
            for worker in self._workers:
                worker.join(timeout=30)
                if worker.is_alive():
                    worker.kill()
                    worker.join()
        self._fill_missing()

    def _collect(self, on_event: Callable[[str, int, TrialResult | None], None]) -> None:
        events = self._shared.events
        while len(self.results) < self._shared.total:
            try:
                kind, position, payload = events.get(timeout=_POLL)
            except queue.Empty:
                if any(worker.is_alive() for worker in self._workers):
                    continue
                try:  # the last events of workers that just exited
                    kind, position, payload = events.get(timeout=_POLL)
                except queue.Empty:
                    return
            if kind == "opened":
                self._opened[position] = payload
            elif kind == "started":
                self._started[position] = payload
                on_event(kind, position, None)
            else:
                self.results[position] = payload
                on_event(kind, position, payload)

    def _fill_missing(self) -> None:
        for position in range(self._shared.total):
            if position in self.results:
                continue
            key = None
            if position in self._started:
                status = TrialStatus.INTERRUPTED if self.interrupted else TrialStatus.FAILED
                error = "its worker process ended before the trial reported its outcome"
                key = self._close_orphan(position, status, error)
            else:
                status, error = NOT_STARTED, "the sweep was stopped before this job started"
            self.results[position] = TrialResult(position, status, key=key, error=error)

    def _close_orphan(self, position: int, status: TrialStatus, error: str) -> str | None:
        """A record its dead worker left `running` gets the status the summary shows."""
        if position not in self._opened:
            return None
        from mitosis_hydra.storage.store import TrialStore

        key, folder, url = self._opened[position]
        store = TrialStore(Path(folder), url)
        # A reader may have closed it as `lost` already (its pid is gone): the pool knows more.
        if store.get(key).status in (TrialStatus.RUNNING, TrialStatus.LOST):
            store.finish_trial(key, status=status, notebook=None, error=error)
        return key


def warm_up() -> None:
    """Import and prime what every trial's driver needs, once, before workers are forked.

    Forked workers inherit it, instead of each paying ~1 s of imports and
    template loading for its first trial.
    """
    import nbclient  # noqa: F401

    from mitosis_hydra.run import environment, export_service, report, trial  # noqa: F401  (and its imports)
    from mitosis_hydra.run.kernel import _client_class, _limited_client_class

    _client_class()
    _limited_client_class()
    environment.remember_packages()  # read once for every trial of the sweep
    if not export_service.available():  # else the service exports, warmed in its process
        report.warm_up()  # the first export's costs; forked workers inherit the warm exporter


# -- inside a worker process ------------------------------------------------------


def _work(payload: Any, shared: _Shared) -> None:
    """A worker's life: take jobs until none is left, one fresh kernel per trial."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what Ctrl-C means
    signal.signal(signal.SIGTERM, _raise_interrupted)
    _end_with_driver()
    cwd = Path.cwd()
    zygote = None
    ready = None
    try:
        zygote = _start_zygote(cwd)
        hydra_context, configs = _unpack(payload)
        while (position := _claim(shared)) is not None:
            kernel, ready = ready or _new_kernel(cwd, zygote), None
            shared.events.put(("started", position, os.getpid()))
            if _jobs_left(shared):
                ready = _new_kernel(cwd, zygote)  # boots while this trial runs; serves the next
            result = _run_one(position, hydra_context, configs[position], kernel, shared)
            shared.events.put(("done", position, result))
    except Interrupted:
        pass
    finally:
        if ready is not None:
            ready.shutdown()
        if zygote is not None:
            zygote.close()
        if _orphaned(shared):  # nobody reads the events: do not wait to flush them at exit
            shared.events.cancel_join_thread()


def _end_with_driver() -> None:
    """Ask Linux to send this worker SIGTERM when the driver dies, however it dies."""
    if sys.platform != "linux":
        return  # elsewhere _claim's check of the parent is what stops the worker
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _orphaned(shared: _Shared) -> bool:
    return os.getppid() != shared.driver


def _unpack(payload: Any) -> tuple[Any, list[Any]]:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import setup_globals

    from mitosis_hydra.run.config import register_configs

    if isinstance(payload, bytes):
        import cloudpickle

        payload = cloudpickle.loads(payload)
    hydra_context, singletons, configs = payload
    Singleton.set_state(singletons)
    setup_globals()
    register_configs()
    return hydra_context, configs


def _raise_interrupted(_signum: int, _frame: object) -> None:
    raise Interrupted()


def _claim(shared: _Shared) -> int | None:
    if shared.stop.is_set() or _orphaned(shared):  # also a driver that died before prctl
        return None
    with shared.counter.get_lock():
        position = shared.counter.value
        if position >= shared.total:
            return None
        shared.counter.value = position + 1
    return position


def _jobs_left(shared: _Shared) -> bool:
    return (
        not shared.stop.is_set() and not _orphaned(shared) and shared.counter.value < shared.total
    )


def _start_zygote(cwd: Path) -> Any:
    """The process this worker forks its kernels from (see zygote.py), where fork is safe."""
    from mitosis_hydra.run import zygote
    from mitosis_hydra.run.kernel import kernel_env

    if not zygote.available():
        return None
    return zygote.KernelZygote(str(cwd), kernel_env())


def _new_kernel(cwd: Path, zygote: Any) -> Any:
    from mitosis_hydra.run.trial import new_kernel

    return new_kernel(cwd, zygote)


def _run_one(
    position: int, hydra_context: Any, config: Any, kernel: Any, shared: _Shared
) -> TrialResult:
    """One job through Hydra's `run_job`, its trial in `kernel`; never raises but Interrupted."""
    from hydra.core.utils import JobStatus, run_job

    outcomes: list[Any] = []

    def opened(record: Any, store: Any) -> None:  # the driver closes it if we die
        shared.events.put(("opened", position, (record.key, str(store.trials_folder), store.url)))

    def mitosis_trial(cfg: Any) -> Any:
        return _trial_task(cfg, kernel, outcomes, opened)

    error: BaseException | None = None
    try:
        ret = run_job(
            hydra_context=hydra_context,
            task_function=mitosis_trial,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
            configure_logging=False,
        )
        if ret.status is not JobStatus.COMPLETED:
            error = ret._return_value
    except Interrupted as stop:
        error = stop
    finally:
        kernel.shutdown()
    return _result(position, outcomes, error)


def _trial_task(cfg: Any, kernel: Any, outcomes: list[Any], opened: Any) -> Any:
    """The task of one job: app.trial_task in `kernel`, keeping how it ended for the driver."""
    from mitosis_hydra.run.app import trial_task

    outcome = trial_task(cfg, kernel, on_record=opened)
    outcomes.append(outcome)
    return outcome if isinstance(outcome, TrialMain) else outcome.result_or_raise()


def _result(position: int, outcomes: list[Any], error: BaseException | None) -> TrialResult:
    if outcomes and isinstance(outcomes[0], TrialMain):  # finished since the launcher looked
        done = outcomes[0]
        return TrialResult(position, DONE_BEFORE, done.name, done.key, float(done), done.notebook)
    if outcomes:
        outcome = outcomes[0]
        record = outcome.record
        return TrialResult(
            position,
            record.status.value,
            name=record.name,
            key=record.key,
            main=record.main,
            notebook=str(record.notebook) if record.notebook else None,
            error=outcome.error,
        )
    status = TrialStatus.INTERRUPTED if isinstance(error, Interrupted) else TrialStatus.FAILED
    return TrialResult(position, status, error=_describe(error))


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "the job ended without a trial"
    if isinstance(error, MitosisError):
        return str(error)
    if isinstance(error, Interrupted):
        return "the trial was stopped by SIGTERM"
    return "".join(traceback.format_exception(error)).rstrip()
