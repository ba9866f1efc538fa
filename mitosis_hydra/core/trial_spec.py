"""What a trial is, as plain frozen data: its parameters, settings and specification.

Kept apart from spec.py (which builds these from a composed config) so that
modules checking a config, such as top_level.py, can name them without
importing the builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.output_limit import DEFAULT_MAX_OUTPUT
from mitosis_hydra.core.records import VariantValue


@dataclass(frozen=True)
class OptionSource:
    """What `job.py` knows about one chosen option, beyond the composed config.

    `package` is where Hydra placed it ("" for `# @package _global_`, a preset);
    `own` is its own value (its source loaded alone, without its `defaults`, in
    canonical view: references to `seed` or parameters kept as text, the rest
    resolved), or `UNKNOWN` when it could not be read (then the composed value
    counts as its own). `path` is where it comes from, as shown in messages, and
    `new_name` what to suggest when its name is taken by another value.
    """

    package: str | None = None
    own: Any = None
    path: str | None = None
    text: str | None = None
    new_name: str | None = None
    known: bool = False
    selects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Parameter:
    """A chosen config group: passed to `run` under `argument`, recorded under `group`.

    `key` is Hydra's choice key (`db@src`), `variant` the option's name (what is
    locked) and `label` the variant as named and counted (`ridge[alpha=0.5]` when
    modified). `locked` is the option's own canonical value.
    """

    group: str
    variant: str
    package: str
    argument: str
    value: Any
    tracked: bool
    source: str | None = None
    source_path: str | None = None
    key: str = ""
    label: str = ""
    locked: Any = None
    new_name: str | None = None
    preset: bool = False

    @property
    def name_part(self) -> str:
        """How the parameter appears in a trial name: its package (`src`), or a preset's group.

        Written as a group path (`model/optimizer` for the package `model.optimizer`):
        naming.py shows nested groups with dots.
        """
        if self.preset or not self.package:
            return self.group
        return self.package.removeprefix("exp.").replace(".", "/")

    def variant_value(self) -> VariantValue:
        text = canonical_string(self.value if self.locked is None else self.locked)
        return VariantValue(
            self.group,
            self.variant,
            text,
            canonical_hash(text),
            self.source,
            self.source_path,
            self.new_name,
        )


@dataclass(frozen=True)
class Settings:
    """The `mitosis:` block of the config, validated."""

    trials_folder: Path
    untracked: tuple[str, ...] = ()
    db: str | None = None
    format: str = "html"
    max_output: int = DEFAULT_MAX_OUTPUT  # characters per cell and stream in the notebook
    resume: bool = False  # skip a sweep's jobs that already have a finished trial


@dataclass(frozen=True)
class TrialSpec:
    experiment: str
    run_target: str
    seed: int
    debug: bool
    parameters: tuple[Parameter, ...]
    arguments: dict[str, Any]
    settings: Settings
    experiment_variant: Parameter | None = None

    @property
    def _named(self) -> tuple[Parameter, ...]:
        exp = self.experiment_variant
        modified = (exp,) if exp is not None and exp.label != exp.variant else ()
        return (*self.parameters, *modified)

    @property
    def variants(self) -> dict[str, str]:
        """Choice key (`db@src`) → variant label, every parameter and preset."""
        return {p.key or p.group: p.label or p.variant for p in self._named}

    @property
    def tracked(self) -> tuple[VariantValue, ...]:
        """The locks this trial takes: one per (group, option), the experiment's included."""
        locks: dict[tuple[str, str], VariantValue] = {}
        every = (
            *self.parameters,
            *(() if self.experiment_variant is None else (self.experiment_variant,)),
        )
        for p in every:
            if p.tracked:
                locks.setdefault((p.group, p.variant), p.variant_value())
        return tuple(locks.values())

    @property
    def tracked_variants(self) -> dict[str, str]:
        """Name part → variant label of what names and counts the trial (untracked left out)."""
        return {p.name_part: p.label or p.variant for p in self._named if p.tracked}

    @property
    def name_parts(self) -> dict[str, str]:
        """Name part → variant label of every parameter (a debug trial's name shows them all)."""
        return {p.name_part: p.label or p.variant for p in self._named}
