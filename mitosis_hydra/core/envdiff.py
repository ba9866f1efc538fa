"""What changed between the environments of two trials (pure: two environment.json dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_FIELDS = ("python", "python_implementation", "platform", "machine", "host")


@dataclass(frozen=True)
class EnvironmentDiff:
    """Changed fields (name, old, new) and packages added, removed or at another version."""

    fields: tuple[tuple[str, str, str], ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[tuple[str, str, str], ...]

    @property
    def unchanged(self) -> bool:
        return not (self.fields or self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "fields": {name: {"original": old, "now": new} for name, old, new in self.fields},
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": {name: {"original": old, "now": new} for name, old, new in self.changed},
        }


def package_versions(lines: list[str]) -> dict[str, str]:
    """`name==1.2` → {name: 1.2}; `name @ url` → {name: url}; `-e url` → {url: editable}."""
    versions = {}
    for line in lines:
        if line.startswith("-e "):
            versions[line[3:].strip()] = "editable"
        elif " @ " in line:
            name, _, url = line.partition(" @ ")
            versions[name.strip().lower()] = url.strip()
        else:
            name, _, version = line.partition("==")
            versions[name.strip().lower()] = version.strip()
    return versions


def diff_environments(original: dict[str, Any], now: dict[str, Any]) -> EnvironmentDiff:
    """Python, platform, host and packages that differ between two captured environments."""
    fields = tuple(
        (name, str(original.get(name)), str(now.get(name)))
        for name in _FIELDS
        if original.get(name) != now.get(name)
    )
    old = package_versions(original.get("packages") or [])
    new = package_versions(now.get("packages") or [])
    return EnvironmentDiff(
        fields=fields,
        added=tuple(f"{name} {new[name]}" for name in sorted(set(new) - set(old))),
        removed=tuple(f"{name} {old[name]}" for name in sorted(set(old) - set(new))),
        changed=tuple(
            (name, old[name], new[name])
            for name in sorted(set(old) & set(new))
            if old[name] != new[name]
        ),
    )
