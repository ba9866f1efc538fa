"""`compare` sorted by the experiment's goal, best row marked, narrowed by variant.

Real trials of wave_pkg (tests/reading_project.py) in a tmp_path git repository;
`loss` runs the same function as `wave` but declares `goal: minimize`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reading_project import cli, cli_json, commit, make_project, run_trials

from mitosis_hydra import compare_trials

kernel = pytest.mark.kernel


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """`wave` (goal left out: maximize) and `loss` (goal: minimize), scale small and big."""
    project = make_project(tmp_path_factory.mktemp("goal"))
    (project / "wave_pkg/conf/exp/loss.yaml").write_text(
        "name: loss\nrun: wave_pkg.experiment:run\ngoal: minimize\n"
    )
    commit(project, "a loss experiment")
    run_trials(project, "--multirun", "+exp=wave,loss", "scale=small,big")
    return project


def _column(data: list[dict], experiment: str) -> list[str]:
    (comparison,) = [c for c in data if c["experiment"] == experiment]
    return [row["variants"]["scale"] for row in comparison["rows"]]


@kernel
def test_rows_are_best_first_by_goal_and_the_best_is_named(project: Path):
    data = cli_json(project, "compare")
    assert data == [c.to_json() for c in compare_trials(project / "trials")]
    goals = {c["experiment"]: (c["goal"], c["best"]) for c in data}
    assert goals == {"loss": ("minimize", 0), "wave": ("maximize", 0)}
    assert _column(data, "wave") == ["big", "small"]  # higher main first
    assert _column(data, "loss") == ["small", "big"]  # lower main first
    for comparison in data:
        mains = [row["main"]["mean"] for row in comparison["rows"]]
        assert mains == sorted(mains, reverse=comparison["goal"] == "maximize")

    table = cli(project, "compare", "--experiment", "loss")
    assert table.returncode == 0, table.stderr
    assert "lower main is better" in table.stdout
    (starred,) = [line for line in table.stdout.splitlines() if "★" in line]
    assert "small" in starred and "big" not in starred


@kernel
def test_sort_by_name_or_metric_and_filter_by_variant(project: Path):
    by_name = cli_json(project, "compare", "--experiment", "loss", "--sort", "name")
    assert _column(by_name, "loss") == ["big", "small"]
    assert by_name[0]["best"] == 1  # still the best row, wherever it sorts
    by_metric = cli_json(project, "compare", "-e", "loss", "--sort", "double")
    assert _column(by_metric, "loss") == ["big", "small"]  # a metric: highest first
    small = cli_json(project, "compare", "--variant", "scale=small")
    assert [_column(small, name) for name in ("loss", "wave")] == [["small"], ["small"]]


@kernel
def test_unknown_sort_key_is_a_usage_error_naming_the_choices(project: Path):
    result = cli(project, "compare", "--sort", "accuracy")
    assert result.returncode == 2
    first = result.stderr.strip().splitlines()[0]
    assert first == (
        "compare cannot sort by 'accuracy': it is neither a column nor a metric of these trials."
    )
    assert "metrics: double" in result.stderr and "--sort main" in result.stderr


@kernel
def test_a_goal_other_than_maximize_or_minimize_is_refused(project: Path):
    (project / "wave_pkg/conf/exp/vague.yaml").write_text(
        "run: wave_pkg.experiment:run\ngoal: best\n"
    )
    commit(project, "a vague goal")
    before = compare_trials(project / "trials")
    result = run_trials(project, "+exp=vague", check=False)
    assert result.returncode != 0
    assert (
        "The experiment exp=vague has `goal: 'best'`, which is neither maximize nor minimize."
        in result.stderr
    )
    assert "Write `goal: maximize` or `goal: minimize`" in result.stderr
    assert compare_trials(project / "trials") == before
