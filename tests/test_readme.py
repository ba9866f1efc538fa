"""The README's console examples, run for real in a fresh copy of the quick-start project.

A console block preceded by `<!-- readme-test: NAME -->` is run; blocks of the
same NAME share one project, in README order. Lines starting with `$ ` are
commands (run by bash); the lines after one are its expected output, each of
which must match a later line of the real output (stdout and stderr), in
order. `...` stands for any text within a line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!-- readme-test: (\S+) -->\n```console\n(.*?)```", re.DOTALL)


def readme_blocks() -> dict[str, list[tuple[str, list[str]]]]:
    """NAME -> [(command, expected lines)] in README order."""
    sessions: dict[str, list[tuple[str, list[str]]]] = {}
    for name, body in MARKER.findall((ROOT / "README.md").read_text()):
        steps = sessions.setdefault(name, [])
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
    return sessions


def line_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.split("...")]
    return re.compile(".*".join(parts))


def assert_output_matches(command: str, expected: list[str], output: str) -> None:
    actual = output.splitlines()
    position = 0
    for wanted in (line for line in expected if line.strip() != "..."):
        pattern = line_pattern(wanted)
        while position < len(actual) and not pattern.fullmatch(actual[position]):
            position += 1
        assert position < len(actual), (
            f"README command `{command}`: expected a line like\n  {wanted}\n"
            f"in its output:\n{output}"
        )
        position += 1


def quickstart_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "conf", project / "conf")
    shutil.copytree(
        ROOT / "project_pkg", project / "project_pkg", ignore=shutil.ignore_patterns("__pycache__")
    )
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "readme@example.com"],
        ["git", "config", "user.name", "README test"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "quick-start project"],
    ):
        subprocess.run(command, cwd=project, check=True)
    return project


def test_readme_has_runnable_examples():
    sessions = readme_blocks()
    assert "quickstart" in sessions
    assert sum(len(steps) for steps in sessions.values()) >= 5


@pytest.mark.kernel
@pytest.mark.parametrize("session", sorted(readme_blocks()))
def test_readme_session(session: str, tmp_path: Path):
    project = quickstart_copy(tmp_path)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    for name in ("COLUMNS", "LINES"):  # tables are shown as the README captured them
        env.pop(name, None)
    for command, expected in readme_blocks()[session]:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert_output_matches(command, expected, result.stdout + result.stderr)


# A number with this many significant digits depends on the CPU's BLAS (summation order).
_TOO_PRECISE = re.compile(r"(?<![\w.])\d*\.\d+(?![\d.]*\.\.\.)")


def test_readme_outputs_compare_no_last_digit_floats():
    """0.00010589033938401826 on one machine is 0.00010589033938579462 on another: the
    12th significant digit already differs. Expected outputs elide digits with `...`."""
    too_precise = []
    for steps in readme_blocks().values():
        for _command, expected in steps:
            for line in expected:
                for number in _TOO_PRECISE.findall(line):
                    digits = number.replace(".", "").lstrip("0")
                    if len(digits) > 10:
                        too_precise.append((number, line))
    assert too_precise == [], too_precise
