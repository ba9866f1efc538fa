"""The experiment's `run` target and signature, checked before anything is recorded.

The unit tests read real modules written into `tmp_path`; the end-to-end tests
run the user's app (`python -m userpkg`) with bad `run:` values and check that
it exits 2 with a message, having recorded nothing.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mitosis_hydra.core.errors import ConfigError
from mitosis_hydra.run.run_check import check_run, split_target

_EXPERIMENT = """
from .impl import moved as reexported

VALUE = 42
run_alias = lambda seed, amplitude: {"main": 1}


def run(seed, amplitude, *, depth, width=3):
    return {"main": 1}


def open_ended(seed, **params):
    return {"main": 1}


def positional_only(seed, /, amplitude):
    return {"main": 1}


def wrap(function):
    return function


@wrap
def decorated(anything):
    return {"main": 1}


class Experiment:
    def __call__(self, seed):
        return {"main": 1}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "labpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "experiment.py").write_text(_EXPERIMENT)
    (package / "starred.py").write_text("from .impl import *\n")
    (package / "impl.py").write_text("def moved(seed, only):\n    return {'main': 1}\n")
    (package / "broken.py").write_text("def run(seed:\n")
    return tmp_path


def check(project: Path, target: str, **supplied: str) -> None:
    check_run(
        target,
        {"seed": "seed", **supplied},
        exp="lab",
        exp_file="labpkg/conf/exp/lab.yaml",
        project_root=project,
    )


def refusal(project: Path, target: str, **supplied: str) -> str:
    with pytest.raises(ConfigError) as caught:
        check(project, target, **supplied)
    return str(caught.value)


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("pkg.mod:run", ("pkg.mod", "run")),
        ("pkg.mod.run", ("pkg.mod", "run")),
        ("pkg.mod:Class.method", ("pkg.mod", "Class.method")),
        ("garbage::::", None),
        ("run", None),
        ("pkg.mod:", None),
        ("1pkg:run", None),
    ],
)
def test_split_target(target, parts):
    assert split_target(target) == parts


def test_a_function_taking_what_is_supplied_passes(project):
    check(project, "labpkg.experiment:run", amplitude="group amplitude", depth="argument depth")
    check(project, "labpkg.experiment.run", amplitude="a", depth="d", width="w")
    check(project, "labpkg.experiment:open_ended", anything="group anything (anything=x)")


def test_malformed_target_is_refused(project):
    message = refusal(project, "garbage::::")
    assert message.splitlines()[0] == (
        "The run target 'garbage::::' of exp=lab is not of the form `module:function`."
    )
    assert "  run: garbage::::   (labpkg/conf/exp/lab.yaml)" in message
    assert message.endswith("Write it as `package.module:function` (or `package.module.function`).")


@pytest.mark.parametrize("target", ["labpkg.nosuch:run", "nosuch_top_level:run"])
def test_missing_module_is_refused_naming_where_it_was_looked_for(project, target):
    module = target.split(":")[0]
    message = refusal(project, target)
    assert (
        message.splitlines()[0] == f"The module `{module}` of exp=lab's run target was not found."
    )
    assert f"searched: {project} (the project root) and the installed packages" in message
    assert f"a file {module.replace('.', '/')}.py under the project root" in message


def test_missing_attribute_is_refused_listing_the_functions_defined(project):
    message = refusal(project, "labpkg.experiment:nosuch")
    assert message.splitlines()[0] == (
        "The module `labpkg.experiment` defines no `nosuch` (exp=lab's run target)."
    )
    assert "functions defined: decorated, open_ended, positional_only, run, wrap" in message
    assert message.endswith("Point run at a function the module defines, or define it and commit.")


def test_a_constant_is_not_callable(project):
    message = refusal(project, "labpkg.experiment:VALUE")
    assert message.splitlines()[0] == (
        "`labpkg.experiment.VALUE` is 42 (of type int), not a function (exp=lab's run target)."
    )
    assert f"{project / 'labpkg' / 'experiment.py'}, line 4" in message


def test_a_parameter_run_cannot_take_and_a_required_argument_nothing_supplies(project):
    message = refusal(
        project, "labpkg.experiment:run", amplitude="a", shape="group shape (shape=grid)"
    )
    lines = message.splitlines()
    assert lines[0] == (
        "The run function of exp=lab cannot take the arguments this trial would pass it."
    )
    assert lines[1].startswith("  signature: run(seed, amplitude, *, depth, width=3)   (")
    assert lines[1].endswith("experiment.py, line 8)")
    assert lines[2] == (
        "  group shape (shape=grid) is passed as `shape=…`, which run has no argument for "
        "(and no **kwargs)"
    )
    assert lines[3] == (
        "  required argument `depth` is given by no config group, experiment argument or seed"
    )
    assert "defaults list of labpkg/conf/exp/lab.yaml" in lines[4]


def test_seed_is_always_passed_so_run_must_take_it(project):
    (project / "labpkg" / "noseed.py").write_text("def run(amplitude):\n    return {}\n")
    message = refusal(project, "labpkg.noseed:run", amplitude="a")
    assert "  seed is passed as `seed=…`, which run has no argument for" in message


def test_positional_only_arguments_cannot_be_passed_by_keyword(project):
    message = refusal(project, "labpkg.experiment:positional_only", amplitude="a")
    assert "seed is passed as `seed=…`, which positional_only has no argument for" in message


def test_a_lambda_and_a_reexported_function_are_checked_where_they_are_defined(project):
    check(project, "labpkg.experiment:run_alias", amplitude="a")
    message = refusal(project, "labpkg.experiment:reexported")
    assert "signature: moved(seed, only)" in message
    assert str(project / "labpkg" / "impl.py") in message
    assert "required argument `only`" in message


@pytest.mark.parametrize(
    "target",
    [
        "labpkg.experiment:decorated",  # a decorator may change the signature
        "labpkg.experiment:Experiment",  # a class: its call is known only when imported
        "labpkg.experiment:Experiment.__call__",
        "labpkg.starred:anything",  # a star import: names appear at run time
        "math:sqrt",  # a C extension has no source to read
    ],
)
def test_what_the_source_cannot_tell_is_left_to_the_kernel(project, target):
    check(project, target, unexpected="group unexpected (unexpected=x)")


def test_a_binding_that_depends_on_run_time_is_left_to_the_kernel(project):
    (project / "labpkg" / "fallback.py").write_text(
        "try:\n"
        "    from fastlib import run\n"
        "except ImportError:\n"
        "    def run(seed):\n"
        "        return {'main': 1}\n"
    )
    check(project, "labpkg.fallback:run", amplitude="group amplitude (amplitude=small)")


def test_a_function_defined_once_inside_an_if_is_checked(project):
    (project / "labpkg" / "guarded.py").write_text(
        "import sys\n\nif sys.platform:\n    def run(seed):\n        return {'main': 1}\n"
    )
    message = refusal(project, "labpkg.guarded:run", amplitude="group amplitude (amplitude=small)")
    assert "signature: run(seed)" in message


def test_a_syntax_error_is_refused_with_its_line(project):
    message = refusal(project, "labpkg.broken:run")
    assert message.splitlines()[0].startswith(
        "The module of exp=lab's run target has a syntax error: "
    )
    assert f"{project / 'labpkg' / 'broken.py'}, line 1" in message


def test_the_users_module_is_not_imported(project):
    (project / "labpkg" / "loud.py").write_text(
        textwrap.dedent(
            """
            raise RuntimeError("imported!")

            def run(seed):
                return {"main": 1}
            """
        )
    )
    check(project, "labpkg.loud:run")
    assert "labpkg.loud" not in sys.modules and "labpkg" not in sys.modules


# --- end to end: the app refuses before anything is recorded --------------------------------

_BAD_RUNS = {
    "missing_module": (
        "run: userpkg.nosuch:run",
        "The module `userpkg.nosuch` of exp=bad's run target was not found.",
    ),
    "missing_attribute": (
        "run: userpkg.experiments:nosuch",
        "The module `userpkg.experiments` defines no `nosuch` (exp=bad's run target).",
    ),
    "an_int": (
        "run: 42",
        "The experiment exp=bad has `run: 42`, which is not a `module:function` target.",
    ),
    "garbage": (
        "run: 'garbage::::'",
        "The run target 'garbage::::' of exp=bad is not of the form `module:function`.",
    ),
    "a_constant": (
        "run: userpkg.experiments:LIMIT",
        "`userpkg.experiments.LIMIT` is 3 (of type int), not a function (exp=bad's run target).",
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD_RUNS))
def test_bad_run_values_exit_2_before_anything_is_recorded(make_user_project, case):
    line, first = _BAD_RUNS[case]
    project = make_user_project({"userpkg/conf/exp/bad.yaml": f"{line}\n"})
    experiments = project.root / "userpkg" / "experiments.py"
    experiments.write_text(experiments.read_text() + "\nLIMIT = 3\n")
    project.commit("a constant")

    result = project.run("+exp=bad")

    assert result.returncode == 2, result.output
    assert result.stderr.splitlines()[0] == first, result.output
    assert project.trial_folders() == set()
    assert not (project.trials_folder / "mitosis.sqlite").exists()
    assert project.status() == ""


def test_a_group_run_cannot_take_exits_2_naming_the_group_and_the_signature(user_project):
    result = user_project.run("+exp=boom", "+shape=grid")

    assert result.returncode == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "The run function of exp=boom cannot take the arguments this trial would pass it."
    ), result.output
    assert lines[1].startswith("  signature: boom(seed, amplitude)   (")
    assert "userpkg/experiments.py, line" in lines[1]
    assert lines[2] == (
        "  group shape (shape=grid) is passed as `shape=…`, which boom has no argument for "
        "(and no **kwargs)"
    )
    assert "defaults list of userpkg/conf/exp/boom.yaml" in lines[3]
    assert user_project.trial_folders() == set()


def test_a_required_argument_nothing_supplies_exits_2(user_project):
    result = user_project.run("+exp=boom", "~amplitude")

    assert result.returncode == 2, result.output
    assert "  required argument `amplitude` is given by no config group" in result.stderr
    assert user_project.trial_folders() == set()


def test_a_sweep_whose_run_cannot_take_a_group_is_refused_before_any_trial(user_project):
    result = user_project.run(
        "--multirun", "hydra/launcher=mitosis", "+exp=boom", "+shape=grid", "amplitude=small,big"
    )

    assert result.returncode == 2, result.output
    assert "The sweep of 2 jobs was refused (2 problems); no trial ran" in result.stderr
    assert result.stderr.count("The run function of exp=boom cannot take the arguments") == 2
    assert "group shape (shape=grid) is passed as `shape=…`" in result.stderr
    assert user_project.trial_folders() == set()
