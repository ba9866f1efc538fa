"""Reading one composed Hydra job: config, group choices and option sources → a trial spec."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .own_values import read_options
from .paths import default_trials_folder
from .spec import TrialSpec, build_spec
from .trial import TrialContext


def spec_and_context(
    cfg: Any, *, reproduction_of: str | None = None
) -> tuple[TrialSpec, TrialContext]:
    """The trial a job's config describes, and where it was invoked from.

    `mitosis-hydra reproduce KEY` re-runs a trial with MITOSIS_REPRODUCTION_OF=KEY set,
    which marks the new record as a reproduction of KEY.
    """
    reproduction_of = reproduction_of or os.environ.get("MITOSIS_REPRODUCTION_OF") or None
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if "mitosis" not in cfg:
        raise ConfigError(
            "The primary config does not include mitosis_hydra's settings.\n"
            "  seed, debug, mitosis.* and where Hydra writes its files come from them\n"
            "Add `- mitosis_hydra` as the first entry of the defaults list of your config.yaml."
        )
    hydra_cfg = HydraConfig.get()
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"The config could not be resolved: {error}\n"
            f"  overrides: {' '.join(hydra_cfg.overrides.task) or '(none)'}\n"
            "Give every `???` a value (in its file or on the command line) and check that "
            "every ${…} interpolation points at an existing key."
        ) from error
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    choices = dict(hydra_cfg.runtime.choices)
    cwd = Path.cwd()
    sources, canonical = read_options(hydra_cfg, choices, unresolved, cwd)
    spec = build_spec(resolved, unresolved, choices, sources, default_trials_folder(cwd), canonical)
    context = TrialContext(
        cwd=cwd,
        config_yaml=config_yaml,
        overrides=tuple(hydra_cfg.overrides.task),
        argv=_user_argv(),
        reproduction_of=reproduction_of,
    )
    return spec, context


def _user_argv() -> tuple[str, ...]:
    """The command the user typed, also inside a launcher's worker process."""
    from .app import USER_ARGV_VARIABLE

    recorded = os.environ.get(USER_ARGV_VARIABLE)
    if recorded:
        return tuple(json.loads(recorded))
    return tuple(getattr(sys, "orig_argv", sys.argv))
