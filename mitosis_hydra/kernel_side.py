"""Helpers the generated notebook calls inside the trial's kernel.

Kept tiny and import-light: this module is imported in every kernel.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import logging
import random
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def setup(
    *,
    seed: int,
    log_file: str,
    debug: bool,
    project_root: str,
    trial: dict[str, Any] | None = None,
    hydra_file: str | None = None,
) -> None:
    """Log to the trial's log file, make the project importable, seed `random` and `numpy`.

    `trial` (key, name, folder, experiment) is what `mitosis_hydra.current_trial()`
    returns; `hydra_file` is the job's Hydra config, which `HydraConfig.get()` returns.
    """
    if project_root not in sys.path:
        sys.path.insert(0, project_root)
    if trial is not None:
        from .current import CurrentTrial, set_current

        set_current(
            CurrentTrial(**{**trial, "folder": Path(trial["folder"])}, debug=debug, seed=seed)
        )
    if hydra_file is not None:
        when_imported(
            "hydra.core.hydra_config", lambda module: _set_hydra_config(module, hydra_file)
        )
    logging.basicConfig(
        filename=log_file,
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    random.seed(seed)
    try:
        import numpy
    except ImportError:  # numpy is a dependency, but a broken install should not hide the trial
        logging.getLogger("mitosis_hydra").warning("numpy not importable; not seeded")
    else:
        numpy.random.seed(seed % 2**32)


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


def build_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Plain values stay as they are; nodes with `_target_` are built here, never pickled."""
    built = {}
    for name, node in arguments.items():
        built[name] = _instantiate(node) if _has_target(node) else node
    return built


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


def save_results(result: Any, *, results_file: str, summary_file: str) -> Any:
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
    import cloudpickle

    Path(results_file).write_bytes(cloudpickle.dumps(result))
    metrics = result.get("metrics") or {}
    summary = {
        "main": _jsonable(result["main"]),
        "metrics": {str(k): _jsonable(v) for k, v in dict(metrics).items()},
        "cpu_time": cpu_seconds(),
    }
    Path(summary_file).write_text(json.dumps(summary))
    return result["main"]


def cpu_seconds() -> float:
    """CPU time of this kernel and its finished children, in seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return float(value)  # numpy scalars, 0-d arrays, …
    except (TypeError, ValueError):
        return repr(value)
