"""`--help` of a mitosis app lists config groups from one repository copy, and says the same.

The plain Hydra app below registers the same configs and uses the same
config directory, without mitosis's main: its help is the reference.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mitosis_hydra.run.fast_help import asks_for_help

ROOT = Path(__file__).resolve().parents[1]

PLAIN_APP = """
import hydra
from mitosis_hydra.run.config import register_configs

register_configs()


@hydra.main(config_path={conf!r}, config_name="config", version_base="1.3")
def plain(cfg):
    pass


plain()
"""


def _help(command: list[str], flag: str) -> str:
    done = subprocess.run(
        [*command, flag], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


def _groups(text: str) -> str:
    return text[text.index("== Configuration groups ==") : text.index("== Config")]


@pytest.mark.parametrize("flag", ["--help", "--hydra-help"])
def test_help_lists_the_same_groups_as_a_plain_hydra_app(tmp_path: Path, flag: str) -> None:
    script = tmp_path / "plain_app.py"
    script.write_text(PLAIN_APP.format(conf=str(ROOT / "conf")))
    mitosis = _help([sys.executable, "-m", "project_pkg"], flag)
    plain = _help([sys.executable, str(script)], flag)
    assert _groups(mitosis) == _groups(plain)
    if flag == "--help":
        assert "amplitude: big, my_variant" in mitosis
        assert mitosis.splitlines()[1:] == plain.splitlines()[1:]  # line 0 names the app
    else:
        assert "hydra/launcher: basic, joblib, mitosis" in mitosis


def test_only_help_flags_turn_it_on() -> None:
    assert asks_for_help(["--help"]) and asks_for_help(["-h"]) and asks_for_help(["--hydra-help"])
    assert not asks_for_help(["--cfg", "job"]) and not asks_for_help(["amplitude=help"])
