"""`mitosis-hydra reproduce`: re-running real trials at their commit in a temporary worktree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from reading_project import cli, cli_json, commit, git, make_project, run_trials

from mitosis_hydra import list_trials, reproduce_trial
from mitosis_hydra.core.envdiff import diff_environments, package_versions
from mitosis_hydra.core.errors import ReproductionError
from mitosis_hydra.read.reproduce import quote_override
from mitosis_hydra.read.reproduction_checks import compare_values, values_match


def only_trial(project: Path, **filters):
    records = list_trials(project / "trials", **filters)
    assert len(records) == 1, records
    return records[0]


@pytest.mark.kernel
def test_deterministic_trial_matches_and_is_recorded_as_reproduction(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave", "scale=big", "seed=3")
    original = only_trial(project)

    result = cli(project, "reproduce", original.key[:5])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Reproduction of {original.name} (key {original.key})" in result.stdout
    assert "config: identical" in result.stdout
    assert "environment: unchanged" in result.stdout
    assert "Result: MATCH (values compared exactly)" in result.stdout
    assert "| trial wave-scale_big-shift_zero-2" in result.stderr  # the re-run's own output

    copy = list_trials(project / "trials")[-1]
    assert copy.reproduction_of == original.key
    assert (copy.commit, copy.seed, copy.variants) == (original.commit, 3, original.variants)
    assert copy.main == original.main and copy.metrics == original.metrics
    assert git(project, "worktree", "list").count("\n") == 0  # the worktree is gone
    assert git(project, "status", "--porcelain") == ""
    shown = cli_json(project, "show", original.key)
    assert [r["key"] for r in shown["reproductions"]] == [copy.key]


@pytest.mark.kernel
def test_no_record_runs_a_debug_trial(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave", "seed=5")
    original = only_trial(project)
    data = cli_json(project, "reproduce", original.key, "--no-record")
    assert data["matches"] is True and data["recorded"] is False
    assert "-debug-" in data["name"]
    assert "debug=true" in data["command"]
    assert [c["name"] for c in data["checks"]] == ["main", "metrics.double"]
    assert len(list_trials(project / "trials")) == 1


@pytest.mark.kernel
def test_nondeterministic_trial_mismatch_exits_1(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=noisy")
    original = only_trial(project)

    result = cli(project, "reproduce", original.key)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MISMATCH" in result.stdout
    assert "Result: MISMATCH (values compared exactly)" in result.stdout
    # Within a tolerance wider than the noise (1e-9 relative), the values agree.
    tolerant = cli_json(project, "reproduce", original.key, "--rtol", "1e-6")
    assert tolerant["matches"] is True and tolerant["rtol"] == 1e-6
    copies = [r for r in list_trials(project / "trials") if r.reproduction_of == original.key]
    assert len(copies) == 2 and all(c.main != original.main for c in copies)


@pytest.mark.kernel
def test_trial_from_an_older_commit_runs_the_old_code(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave", "seed=7")
    old = only_trial(project)
    experiment = project / "wave_pkg/experiment.py"
    experiment.write_text(experiment.read_text().replace("OFFSET = 0.0", "OFFSET = 100.0"))
    new_commit = commit(project, "move the code on")
    run_trials(project, "+exp=wave", "seed=7")
    moved = list_trials(project / "trials")[-1]
    assert moved.commit == new_commit and moved.main == pytest.approx(old.main + 100)

    result = reproduce_trial(old.key, project / "trials")
    assert result.matches, result.output
    copy = list_trials(project / "trials")[-1]
    assert copy.reproduction_of == old.key
    assert copy.commit == old.commit != new_commit
    assert copy.main == old.main
    assert git(project, "rev-parse", "HEAD") == new_commit  # the checkout was not touched
    assert "OFFSET = 100.0" in experiment.read_text()


@pytest.mark.kernel
def test_missing_repository_is_explained(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave")
    record = only_trial(project)
    env_file = record.folder / "environment.json"
    env = json.loads(env_file.read_text())
    env["git"]["root"] = str(tmp_path / "moved-away")
    env_file.write_text(json.dumps(env))
    with pytest.raises(ReproductionError, match=r"git repository is not at .*moved-away"):
        reproduce_trial(record.key, project / "trials")
    result = cli(project, "reproduce", record.key)
    assert result.returncode == 1
    assert "Try again from a clone at that path" in result.stderr


def test_values_match_exactly_or_within_rtol():
    assert values_match(0.1, 0.1) and not values_match(0.1, 0.1 + 1e-15)
    assert values_match(0.1, 0.1 + 1e-15, rtol=1e-9)
    assert values_match(math.nan, math.nan)
    assert not values_match(1, True) and values_match("a", "a")
    checks = compare_values(1.0, {"a": 2.0}, 1.0, {"a": 2.5, "b": 1.0}, 0.0)
    assert [(c.name, c.matches) for c in checks] == [
        ("main", True),
        ("metrics.a", False),
        ("metrics.b", False),
    ]


def test_environment_diff_names_python_and_packages():
    before = {"python": "3.11.7", "host": "a", "packages": ["numpy==1.26.0", "six==1.16", "-e x"]}
    after = {"python": "3.12.1", "host": "a", "packages": ["numpy==2.0.0", "rich==13.7", "-e x"]}
    diff = diff_environments(before, after)
    assert diff.fields == (("python", "3.11.7", "3.12.1"),)
    assert diff.changed == (("numpy", "1.26.0", "2.0.0"),)
    assert diff.added == ("rich 13.7",) and diff.removed == ("six 1.16",)
    assert diff_environments(before, before).unchanged
    assert package_versions(["Foo @ git+https://x@abc"]) == {"foo": "git+https://x@abc"}


def test_override_values_are_quoted_for_hydra():
    assert quote_override("/tmp/trials") == "/tmp/trials"
    assert quote_override("/tmp/my trials") == "'/tmp/my trials'"
    assert quote_override("it's") == "'it\\'s'"
