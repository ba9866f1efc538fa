"""Make `--help` of a user's app cost one listing of the config groups, not one per group.

Hydra builds the help text by asking its config loader for the options of
every config group (39 distinct questions in an app with the mitosis, joblib
and submitit launchers installed), and each question deep-copies the whole
config repository, ConfigStore included: ~0.7 s of a 1.4 s `--help` here.
Listing groups reads that copy and never changes it, so in a help process the
loader makes one copy for all the listings. Only the help flags turn this on;
a trial or a sweep never runs with it. If Hydra's internals move, the help is
simply slower.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

HELP_FLAGS = frozenset({"-h", "--help", "--hydra-help"})


def asks_for_help(args: Sequence[str]) -> bool:
    """True when Hydra will print a help text and exit."""
    return any(arg in HELP_FLAGS for arg in args)


def remember_group_options() -> bool:
    """Let Hydra's config loader list groups from one repository copy in this (help) process.

    Returns False, changing nothing, when this Hydra has no such method.
    """
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
    except ImportError:
        return False
    make_repository = getattr(ConfigLoaderImpl, _REPOSITORY_FOR, None)
    if make_repository is None or getattr(make_repository, "_mitosis_shared", False):
        return make_repository is not None

    listing_repositories: dict[int, Any] = {}

    @functools.wraps(make_repository)
    def shared(self: Any, config_name: str | None, overrides: list[str]) -> Any:
        # Group listing asks with no primary config and no overrides; loading a
        # config (which fills the repository's cache) still gets its own copy.
        if config_name is not None or overrides:
            return make_repository(self, config_name, overrides)
        if id(self) not in listing_repositories:
            listing_repositories[id(self)] = make_repository(self, config_name, overrides)
        return listing_repositories[id(self)]

    shared._mitosis_shared = True  # type: ignore[attr-defined]
    setattr(ConfigLoaderImpl, _REPOSITORY_FOR, shared)
    return True


_REPOSITORY_FOR = "_parse_overrides_and_create_caching_repo"
