"""Everything recorded about one trial, gathered from its record, its files and the locks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.layout import (
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    LOG_FILE,
    OWN_FILES,
    RESULTS_FILE,
)
from mitosis_hydra.core.modifications import locked_name
from mitosis_hydra.core.records import TrialRecord
from mitosis_hydra.core.spec import unwrap_values
from mitosis_hydra.read.release import RELEASE_ACTION, audit_log
from mitosis_hydra.storage.store import TrialStore
from mitosis_hydra.storage.variants import uses_current_value


def trial_details(store: TrialStore, key: str) -> dict[str, Any]:
    """Record, variant values, config, environment summary, paths and reproductions (JSON-ready)."""
    record = store.get(key)
    config_path = record.folder / CONFIG_FILE
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else None
    env_path = record.folder / ENVIRONMENT_FILE
    env = json.loads(env_path.read_text(encoding="utf-8")) if env_path.exists() else {}
    reproductions = [
        {"key": r.key, "name": r.name, "status": r.status.value, "main": r.main}
        for r in store.list_trials(experiment=record.experiment)
        if r.reproduction_of == record.key
    ]
    return {
        "record": record.to_json(),
        "variants": variant_values(store, record, config_text),
        "config": config_text,
        "environment": environment_summary(env),
        "paths": {
            "folder": str(record.folder),
            "notebook": str(record.notebook) if record.notebook else None,
            "results": _existing(record.folder / RESULTS_FILE),
            "log": _existing(record.folder / LOG_FILE),
            "config": _existing(config_path),
            "environment": _existing(env_path),
        },
        "files": files_of_run(record.folder),
        "reproductions": reproductions,
        # recorded files that are no longer there (deleted or moved since)
        "missing": [
            name
            for name, path in (("notebook", record.notebook),)
            if path is not None and not path.exists()
        ],
    }


def files_of_run(folder: Path) -> list[dict[str, Any]]:
    """Files `run` wrote in its trial's folder (path relative to it, size), beside ours."""
    if not folder.is_dir():
        return []
    files = [path for path in folder.rglob("*") if path.is_file()]
    return [
        {"path": str(path.relative_to(folder)), "bytes": path.stat().st_size}
        for path in sorted(files)
        if str(path.relative_to(folder)) not in OWN_FILES
    ]


def variant_values(
    store: TrialStore, record: TrialRecord, config_text: str | None
) -> dict[str, dict[str, Any]]:
    """For each parameter: the variant name, the value it was locked to then, and how we know."""
    locks = {(lock.group, lock.name): lock for lock in store.variant_locks()}
    released = [entry["detail"] for entry in audit_log(store, RELEASE_ACTION)]
    values = {}
    for key, name in sorted(record.variants.items()):
        group, base = locked_name(key, name)
        lock = locks.get((group, base))
        if name != base:  # a modified variant: what ran, beside the locked base
            shown = _config_value(config_text, _package(key))
            state = f"modified; {base} is locked" if lock is not None else "modified"
            values[key] = {"name": name, "value": shown, "locked": state}
            continue
        if lock is not None and uses_current_value(lock, record.started_at):
            values[key] = {"name": name, "value": lock.canonical, "locked": "locked"}
            continue
        old = [
            d
            for d in released
            if (d["group"], d["name"]) == (group, name)
            and datetime.fromisoformat(d["locked_at"]) <= record.started_at
        ]
        if old:
            values[key] = {"name": name, "value": old[-1]["canonical"], "locked": "released"}
        else:
            shown = _config_value(config_text, _package(key))
            values[key] = {"name": name, "value": shown, "locked": "untracked"}
    return values


def _package(key: str) -> str:
    """Where a choice key's option sits in the config: `db@src` → `src`, `model/opt` → model.opt."""
    group, _, package = key.partition("@")
    return package or group.replace("/", ".")


def environment_summary(env: dict[str, Any]) -> dict[str, Any]:
    """The few environment facts a reader looks for first (the file has everything)."""
    git = env.get("git") or {}
    invocation = env.get("invocation") or {}
    return {
        "python": env.get("python"),
        "platform": env.get("platform"),
        "host": env.get("host"),
        "scheduler_job": env.get("scheduler_job"),
        "packages": len(env.get("packages") or []),
        "git_root": git.get("root"),
        "branch": git.get("branch"),
        "remote": git.get("remote"),
        "command": " ".join(invocation.get("argv") or []),
        "cwd": invocation.get("cwd"),
    }


def _config_value(config_text: str | None, package: str) -> str | None:
    if config_text is None:
        return None
    from omegaconf import OmegaConf

    node: Any = OmegaConf.to_container(OmegaConf.create(config_text))
    for part in package.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return json.dumps(unwrap_values(node), sort_keys=True, default=repr)


def _existing(path: Path) -> str | None:
    return str(path) if path.exists() else None
