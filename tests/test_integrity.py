"""Nothing lost, nothing leaked, nothing hidden: hostile inputs against a real project.

Each test runs the user's app (`python -m userpkg`) or `mitosis-hydra` as a
subprocess in a real git repository, and checks the message, the exit code
and that a refusal wrote nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mitosis_hydra.core.layout import RECORD_FILE

pytestmark = pytest.mark.kernel


def cli(project, *args: str) -> subprocess.CompletedProcess:
    """`mitosis-hydra <args>` from the project's root, as a user runs it."""
    return project.cli(*args)


def db_rows(project, table: str) -> list[tuple]:
    """Every row of a table of the project's SQLite database, in a stable order."""
    with sqlite3.connect(project.trials_folder / "mitosis.sqlite") as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def delete_database(project) -> None:
    for suffix in ("", "-wal", "-shm"):
        (project.trials_folder / f"mitosis.sqlite{suffix}").unlink(missing_ok=True)


# -- 1. the trials folder and the config files a trial reads --------------------------------


def test_a_trials_folder_holding_tracked_files_is_refused_before_anything_is_written(
    user_project,
):
    conf = user_project.root / "userpkg" / "conf"
    before = sorted(p.name for p in conf.iterdir())
    run = user_project.run("+exp=draw", "mitosis.trials_folder=userpkg/conf")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials folder holds files tracked by git"), run.output
    assert "tracked: userpkg/conf/" in run.stderr
    assert "Traceback" not in run.stderr
    sweep = user_project.run(
        "--multirun", "hydra/launcher=mitosis", "+exp=draw", "mitosis.trials_folder=userpkg/conf"
    )
    assert sweep.returncode == 2, sweep.output
    assert sweep.stderr.startswith("The trials folder holds files tracked by git"), sweep.output
    assert sorted(p.name for p in conf.iterdir()) == before  # no .gitignore, no .hydra
    assert user_project.status() == ""


def test_the_repository_root_and_a_file_are_refused_as_trials_folders(user_project):
    for folder in (".", str(user_project.root.parent)):
        run = user_project.run("+exp=draw", f"mitosis.trials_folder={folder}")
        assert run.returncode == 2, run.output
        assert run.stderr.startswith("The trials folder would hold the git repository itself"), (
            run.output
        )
    assert not (user_project.root / ".gitignore").exists()
    (user_project.root / "notes.txt").write_text("the user's notes\n")
    user_project.commit("notes")
    run = user_project.run("+exp=draw", "mitosis.trials_folder=notes.txt")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials folder is a file, not a folder."), run.output
    untracked = user_project.root.parent / "data"
    untracked.mkdir()
    (untracked / "results.csv").write_text("1,2\n")
    run = user_project.run("+exp=draw", f"mitosis.trials_folder={untracked}")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials folder already holds files mitosis_hydra did not")
    assert "found: results.csv" in run.stderr
    assert sorted(p.name for p in untracked.iterdir()) == ["results.csv"]
    assert user_project.status() == ""


def test_a_trials_folder_that_cannot_be_created_is_refused(user_project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = user_project.run("+exp=draw", f"mitosis.trials_folder={blocker}/trials")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials folder cannot be created"), run.output
    assert "Traceback" not in run.stderr


def test_a_config_file_hidden_by_an_ignore_rule_is_refused(user_project):
    user_project.write(".gitignore", "sneaky.yaml\n")
    user_project.commit("ignore sneaky files")
    user_project.write("userpkg/conf/amplitude/sneaky.yaml", "_value_: 99\n")
    assert user_project.status() == ""  # git status does not see it
    run = user_project.run("+exp=draw", "amplitude=sneaky")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("A config file this trial reads is not in its commit"), run.output
    assert "not committed: userpkg/conf/amplitude/sneaky.yaml" in run.stderr
    assert user_project.trial_folders() == set()
    sweep = user_project.run("--multirun", "hydra/launcher=mitosis", "+exp=draw", "amplitude=big")
    assert sweep.returncode == 2, sweep.output
    assert "not committed: userpkg/conf/amplitude/sneaky.yaml" in sweep.stderr
    debug = user_project.run("+exp=draw", "amplitude=sneaky", "debug=true")
    assert debug.returncode == 0, debug.output


def test_an_option_file_inside_a_trials_folder_is_refused(user_project):
    vault = "mitosis.trials_folder=userpkg/conf/vault"
    first = user_project.run("+exp=draw", vault)
    assert first.returncode == 0, first.output
    user_project.write("userpkg/conf/vault/sneaky.yaml", "_value_: 99\n")
    assert user_project.status() == ""  # the trials folder's .gitignore hides it
    run = user_project.run("+exp=draw", "+vault=sneaky", vault)
    assert run.returncode == 2, run.output
    assert "not committed: userpkg/conf/vault/sneaky.yaml" in run.stderr


def test_a_changed_config_file_hidden_from_git_status_is_refused(user_project):
    user_project.git("update-index", "--assume-unchanged", "userpkg/conf/amplitude/big.yaml")
    user_project.write("userpkg/conf/amplitude/big.yaml", "_value_: 11\n")
    assert user_project.status() == ""
    run = user_project.run("+exp=draw", "amplitude=small")
    assert run.returncode == 2, run.output
    assert "changed since the commit: userpkg/conf/amplitude/big.yaml" in run.stderr


# -- 2. injective names, all-or-nothing refusals -------------------------------------------


def test_names_that_sanitise_alike_get_their_own_trials(make_user_project):
    project = make_user_project(
        {
            "userpkg/conf/amplitude/sub/deep.yaml": "_value_: 1\n",
            "userpkg/conf/amplitude/sub_deep.yaml": "_value_: 2\n",
        }
    )
    nested = project.run("+exp=draw", "amplitude=sub/deep")
    flat = project.run("+exp=draw", "amplitude=sub_deep")
    assert nested.returncode == 0, nested.output
    assert flat.returncode == 0, flat.output
    records = {record.variants["amplitude"]: record for record in project.trials()}
    assert records["sub_deep"].name == "draw-amplitude_sub_deep-1"
    assert records["sub/deep"].name.startswith("draw-amplitude_sub_deep-h")
    assert len(project.trial_folders()) == 2
    for record in records.values():
        by_key = json.loads(cli(project, "show", record.key, "--json").stdout)
        by_name = json.loads(cli(project, "show", record.name, "--json").stdout)
        assert by_key == by_name
        assert by_key["record"]["variants"] == record.variants


def test_a_deleted_database_gives_a_clear_refusal_that_writes_nothing(user_project):
    first = user_project.run("+exp=draw")
    assert first.returncode == 0, first.output
    delete_database(user_project)
    again = user_project.run("+exp=draw")
    assert again.returncode == 2, again.output
    assert again.stderr.startswith(
        "The trials database is missing, but the trials folder holds recorded trials."
    ), again.output
    assert "mitosis-hydra rebuild --trials-folder" in again.stderr
    assert not (user_project.trials_folder / "mitosis.sqlite").exists()
    # a database that does not know the folders (here: an empty one) refuses too
    (user_project.trials_folder / "mitosis.sqlite").write_bytes(b"")
    replaced = user_project.run("+exp=draw")
    assert replaced.returncode == 2, replaced.output
    assert replaced.stderr.startswith(
        "The folder for trial draw-amplitude_small-1 already exists, but this trials database"
    ), replaced.output
    assert "mitosis-hydra rebuild" in replaced.stderr
    assert db_rows(user_project, "trials") == []
    assert db_rows(user_project, "variants") == []
    rebuilt = cli(user_project, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith(f"Rebuilt {user_project.trials_folder / 'mitosis.sqlite'}")
    third = user_project.run("+exp=draw")
    assert third.returncode == 0, third.output
    assert [r.iteration for r in user_project.trials()] == [1, 2]


# -- 3. secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "first_line"),
    [
        (
            "postgresql+psycopg://u:SECRET@127.0.0.1:1/db",
            "The trials database server cannot be reached.",
        ),
        ("mysql://u:SECRET@host/db", "The trials database URL cannot be used."),
    ],
)
def test_a_database_password_appears_nowhere(user_project, url, first_line):
    run = user_project.run("+exp=draw", f"mitosis.db={url}")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith(first_line), run.output
    assert "u:***@" in run.stderr
    sweep = user_project.run("--multirun", "+exp=draw", "amplitude=small,big", f"mitosis.db={url}")
    assert sweep.returncode != 0, sweep.output
    assert first_line in sweep.stderr and "Traceback" not in sweep.stderr, sweep.output
    mitosis = user_project.run(
        "--multirun", "hydra/launcher=mitosis", "+exp=draw", f"mitosis.db={url}"
    )
    assert mitosis.returncode == 2, mitosis.output
    assert first_line in mitosis.stderr
    for output in (run, sweep, mitosis):
        assert "SECRET" not in output.stdout + output.stderr, output.output
    for path in user_project.trials_folder.rglob("*"):
        if path.is_file():
            assert b"SECRET" not in path.read_bytes(), path


def test_the_database_url_can_come_from_the_environment(user_project):
    db = user_project.root.parent / "shared.sqlite"
    run = user_project.run(
        "+exp=draw", "mitosis.db=${oc.env:MITOSIS_DB}", env={"MITOSIS_DB": f"sqlite:///{db}"}
    )
    assert run.returncode == 0, run.output
    from mitosis_hydra import list_trials

    assert [r.name for r in list_trials(user_project.trials_folder, db=f"sqlite:///{db}")] == [
        "draw-amplitude_small-1"
    ]


# -- 4. raw tracebacks become messages -----------------------------------------------------


def test_a_damaged_database_is_reported_by_trials_and_every_command(user_project):
    first = user_project.run("+exp=draw")
    assert first.returncode == 0, first.output
    key = user_project.trials()[0].key
    delete_database(user_project)
    (user_project.trials_folder / "mitosis.sqlite").write_bytes(b"not a database\0" * 300)
    run = user_project.run("+exp=draw")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials database is damaged and cannot be read."), run.output
    assert "mitosis-hydra rebuild --trials-folder" in run.stderr
    assert "Traceback" not in run.stderr
    for command in (
        ["list"],
        ["show", key],
        ["compare"],
        ["variants"],
        ["index"],
        ["reproduce", key],
    ):
        result = cli(user_project, *command)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("The trials database is damaged"), (command, result.stderr)
    rebuilt = cli(user_project, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "the previous database is kept as" in rebuilt.stdout
    kept = [p for p in user_project.trials_folder.iterdir() if ".replaced-" in p.name]
    assert kept and kept[0].read_bytes().startswith(b"not a database")
    assert [r.key for r in user_project.trials()] == [key]


def test_a_read_only_database_and_a_huge_seed_are_refused(user_project):
    first = user_project.run("+exp=draw")
    assert first.returncode == 0, first.output
    path = user_project.trials_folder / "mitosis.sqlite"
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    run = user_project.run("+exp=draw", f"mitosis.db='{read_only}'")
    assert run.returncode == 2, run.output
    assert run.stderr.startswith("The trials database cannot be written: it is read-only."), (
        run.output
    )
    seed = user_project.run("+exp=draw", "seed=9223372036854775808")
    assert seed.returncode == 2, seed.output
    assert seed.stderr.startswith(
        "seed 9223372036854775808 is outside the range a trial record can hold."
    ), seed.output
    assert len(user_project.trials()) == 1


# -- 5. rebuild ----------------------------------------------------------------------------


def test_rebuild_recreates_every_row_and_lock(user_project):
    sweep = user_project.run(
        "--multirun", "hydra/launcher=mitosis", "+exp=draw", "amplitude=small,big", "seed=1,2"
    )
    assert sweep.returncode == 0, sweep.output
    failed = user_project.run("+exp=boom")
    assert failed.returncode == 1, failed.output
    assert user_project.run("+exp=draw", "debug=true").returncode == 0
    trials, variants = db_rows(user_project, "trials"), db_rows(user_project, "variants")
    assert len(trials) == 5 and {row[5] for row in trials} == {"finished", "failed"}
    refused = cli(user_project, "rebuild")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(
        "The trials database can still be read and holds 5 trials; rebuild would replace it."
    )
    delete_database(user_project)
    rebuilt = cli(user_project, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "5 trials, 4 variant locks" in rebuilt.stdout  # amplitude small/big, exp draw/boom
    assert "skipped draw-amplitude_small-debug-" in rebuilt.stdout  # debug: never recorded
    assert db_rows(user_project, "trials") == trials
    assert db_rows(user_project, "variants") == variants
    record_file = json.loads(next(user_project.trials_folder.glob(f"*/{RECORD_FILE}")).read_text())
    assert record_file["record"]["status"] in {"finished", "failed"}
    forced = cli(user_project, "rebuild", "--force")
    assert forced.returncode == 0, forced.stderr
    assert db_rows(user_project, "trials") == trials
    assert not list(user_project.trials_folder.glob("*.rebuilding*"))
    assert user_project.status() == ""


def test_installed_packages_configs_are_not_the_projects_even_in_a_venv_inside_the_repo(
    monkeypatch, tmp_path
):
    """`make demo` keeps `.venv` in the repository: Hydra's own `pkg://hydra.conf` is then
    inside the working tree (git-ignored), but it is installed code, not a config of
    the project, so the committed-config check must not ask to commit it."""
    from mitosis_hydra.run import gitinfo, job

    monkeypatch.setattr(gitinfo, "find_root", lambda _start: Path("/"))
    (tmp_path / "conf").mkdir()
    sources = [
        {"schema": "pkg", "path": "hydra/conf", "provider": "hydra"},
        {"schema": "file", "path": str(tmp_path / "conf"), "provider": "main"},
    ]

    folders = job.config_folders(sources, tmp_path)

    assert folders == ((tmp_path / "conf").resolve(),)
