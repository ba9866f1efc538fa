"""Helpers the generated notebook calls inside the trial's kernel.

Kept tiny and import-light: this module is imported in every kernel.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import json
import logging
import numbers
import random
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from mitosis_hydra.core.layout import HYDRA_FILE, LOG_FILE, RESULTS_FILE, SUMMARY_FILE


def setup(
    *,
    folder: str,
    seed: int,
    debug: bool,
    trial: dict[str, Any] | None = None,
    hydra: bool = False,
) -> Path:
    """Log to the trial's log file, make the project importable, seed `random` and `numpy`.

    `folder` is the trial's folder relative to the kernel's cwd (the project root), so
    the notebook names no path of the machine; it is returned absolute, and every file
    of the trial is found in it. `trial` (key, name, experiment) is what
    `mitosis_hydra.current_trial()` returns; with `hydra`, `HydraConfig.get()` returns
    the job's Hydra config. stdout and stderr are teed into the log file too: the
    notebook keeps only the head and tail of a huge output, the log keeps all of it.
    The experiment's `logging` records (INFO and up, DEBUG for a debug trial) go to the
    log file and, not teed, to the cell's stderr: shown under the cell, logged once.
    """
    project_root = str(Path.cwd())
    if project_root not in sys.path:
        sys.path.insert(0, project_root)
    trial_folder = Path(folder).resolve()
    if trial is not None:
        from mitosis_hydra.run.current import CurrentTrial, set_current

        set_current(CurrentTrial(**trial, folder=trial_folder, debug=debug, seed=seed))
    if hydra:
        hydra_file = str(trial_folder / HYDRA_FILE)
        when_imported(
            "hydra.core.hydra_config", lambda module: _set_hydra_config(module, hydra_file)
        )
    log = open(trial_folder / LOG_FILE, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    to_log = logging.StreamHandler(log)
    to_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_cell = logging.StreamHandler(sys.stderr)  # the kernel's stream, before the tee
    to_cell.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, handlers=[to_log, to_cell], force=True
    )
    sys.stdout = _Tee(sys.stdout, log)
    sys.stderr = _Tee(sys.stderr, log)
    random.seed(seed)
    try:
        import numpy
    except ImportError:  # numpy is a dependency, but a broken install should not hide the trial
        logging.getLogger("mitosis_hydra").warning("numpy not importable; not seeded")
    else:
        numpy.random.seed(seed % 2**32)
    return trial_folder


def when_imported(name: str, then: Callable[[ModuleType], None]) -> None:
    """Call `then(module)` once `name` is imported: now if it is, else right after its import.

    HydraConfig costs ≈0.1 s of imports; a trial whose code never asks for it never pays.
    """
    if name in sys.modules:
        then(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            self.then(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _set_hydra_config(module: ModuleType, hydra_file: str) -> None:
    from omegaconf import OmegaConf

    config = OmegaConf.create({"hydra": OmegaConf.load(hydra_file)})
    OmegaConf.set_readonly(config, True)
    module.HydraConfig.instance().cfg = config


class _Tee:
    """A text stream writing to the kernel's stream (the notebook) and to the log file."""

    def __init__(self, stream: Any, log: Any) -> None:
        self._stream = stream
        self._log = log

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError):  # a full disk must not stop the trial
            self._log.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def build_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Plain values stay as they are; nodes with `_target_` are built here, never pickled."""
    built = {}
    for name, node in arguments.items():
        built[name] = _instantiate(node) if _has_target(node) else node
    return built


# A value whose repr is longer than this is shown by its head and tail.
SHOWN_REPR = 2_000


def show_arguments(params: dict[str, Any]) -> None:
    """Print each argument as `name = repr`; a long repr by its head and tail only.

    The whole value is in the notebook's parameters or in arguments.json beside it:
    printing 1.5 MB of numbers would only fill the notebook, its log and its HTML.
    """
    for name, value in params.items():
        text = repr(value)
        if len(text) > SHOWN_REPR:
            half = SHOWN_REPR // 2
            text = f"{text[:half]} … ({len(text):,} characters in all) … {text[-half:]}"
        print(f"{name} = {text}")


def _has_target(node: Any) -> bool:
    if isinstance(node, dict):
        return "_target_" in node or any(_has_target(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_target(v) for v in node)
    return False


def _instantiate(node: Any) -> Any:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    # The config was resolved before it reached the kernel: escape `${` so that a
    # resolved string is never interpolated a second time.
    return instantiate(OmegaConf.create(_escape(node)), _convert_="all")


def _escape(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("${", "\\${")
    if isinstance(node, dict):
        return {key: _escape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_escape(value) for value in node]
    return node


def load_run(target: str):
    """`package.module:function` (or dotted `package.module.function`) → the callable."""
    import importlib

    module_name, _, attribute = target.partition(":")
    if not attribute:
        module_name, _, attribute = target.rpartition(".")
    module = importlib.import_module(module_name)
    function = module
    for part in attribute.split("."):
        function = getattr(function, part)
    return function


def save_results(result: Any, *, folder: Path) -> Any:
    """Pickle what `run` returned and write the headline numbers for the driver."""
    if not isinstance(result, dict) or "main" not in result:
        found = (
            f"a dict with keys {sorted(map(str, result))}"
            if isinstance(result, dict)
            else f"a {type(result).__name__}"
        )
        raise TypeError(
            f"run() must return a dict with the key 'main' (the headline metric); it returned "
            f"{found}. Return e.g. {{'main': score}}."
        )
    main = real_number(result["main"])
    import cloudpickle

    (folder / RESULTS_FILE).write_bytes(cloudpickle.dumps(result))
    metrics = result.get("metrics") or {}
    summary = {
        "main": main,
        "metrics": {str(k): _jsonable(v) for k, v in dict(metrics).items()},
        "cpu_time": cpu_seconds(),
    }
    (folder / SUMMARY_FILE).write_text(json.dumps(summary))
    return result["main"]


def real_number(main: Any) -> int | float:
    """`main` as a plain int or float (numpy scalars and 0-d arrays too), or a TypeError.

    A bool, text, None or a container is not a headline metric: accepting it in
    silence would record a trial whose main metric cannot be compared.
    """
    value = main
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        value = value.item()  # numpy scalar or 0-d array -> the Python number inside
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"run() returned main={main!r} (a {type(main).__name__}), but main must be a real "
            "number: an int or a float (numpy scalars and 0-d arrays work too; NaN and inf "
            "are kept as such). Return e.g. {'main': 0.93}, and put anything else under "
            "another key."
        )
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def cpu_seconds() -> float:
    """CPU time of this kernel and its finished children, in seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return _jsonable(value.item())  # an int metric stays an int
    try:
        return float(value)  # numpy scalars, 0-d arrays, …
    except (TypeError, ValueError):
        return repr(value)
