"""ARCHITECTURE.md names every module of the package, in its layer, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_architecture_lists_every_module_and_only_those():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `(\w+/\w+\.py)`:", text, re.MULTILINE))
    package = ROOT / "mitosis_hydra"
    real = {
        path.relative_to(package).as_posix()
        for path in package.glob("*/*.py")
        if path.name != "__init__.py"
    }
    assert sorted(real - listed) == [], "modules missing from ARCHITECTURE.md"
    assert sorted(listed - real) == [], "ARCHITECTURE.md lists modules that do not exist"


def test_readme_links_to_the_architecture():
    assert "(ARCHITECTURE.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
