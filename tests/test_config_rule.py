"""The config rule on a real Hydra tree: every value reaching `run` is named, locked or refused.

The tree recreates Hydra's `6_composition` tutorial (groups `db`, `schema`,
`ui`) with what real projects add to it: `group@package` placements, a nested
group, `_self_`, a `# @package _global_` preset, experiment arguments, `${…}`
references and a ConfigStore node. Each test runs `python -m userpkg` in a
real git repository (conftest.py) and checks names, values and messages.
"""

from __future__ import annotations

import json

import pytest

from mitosis_hydra import list_trials, load_trial_data
from mitosis_hydra.core.naming import trial_name

COMPOSITION = {
    "userpkg/__main__.py": (
        "import mitosis_hydra\n"
        "import userpkg.stored  # registers ConfigStore nodes\n\n"
        'if __name__ == "__main__":\n'
        '    mitosis_hydra.main(config_path="conf", config_name="config")\n'
    ),
    "userpkg/stored.py": (
        "from dataclasses import dataclass\n\n"
        "from hydra.core.config_store import ConfigStore\n\n\n"
        "@dataclass\n"
        "class Cache:\n"
        "    size: int = 64\n"
        "    policy: str = 'lru'\n\n\n"
        "ConfigStore.instance().store(group='cache', name='small', node=Cache)\n"
    ),
    "userpkg/migrate.py": (
        "def migrate(seed, src, dst, schema, ui, batch, cache=None, **others):\n"
        "    return {\n"
        '        "main": float(batch),\n'
        '        "src": src, "dst": dst, "schema": schema, "ui": ui, "cache": cache,\n'
        '        "orders": {"src": list(src), "ui": list(ui)}, "others": others,\n'
        "    }\n"
    ),
    "userpkg/conf/config.yaml": (
        "defaults:\n"
        "  - mitosis_hydra\n"
        "  - _self_\n"
        "  - db@src: mysql\n"
        "  - db@dst: postgresql\n"
        "  - schema: school\n"
        "  - ui: full\n"
    ),
    "userpkg/conf/exp/migrate.yaml": "run: userpkg.migrate:migrate\nbatch: 100\n",
    "userpkg/conf/db/mysql.yaml": "driver: mysql\nuser: omry\npass: secret\n",
    "userpkg/conf/db/postgresql.yaml": (
        "driver: postgresql\nuser: postgres_user\npass: drowssap\ntimeout: 10\npool_seed: ${seed}\n"
    ),
    "userpkg/conf/schema/school.yaml": (
        "defaults:\n  - tables: small\n  - _self_\ndatabase: school\n"
    ),
    "userpkg/conf/schema/support.yaml": "defaults:\n  - tables: small\n  - _self_\ndatabase: sup\n",
    "userpkg/conf/schema/warehouse.yaml": "database: warehouse\n",
    "userpkg/conf/schema/tables/small.yaml": "_value_: [students, exams]\n",
    "userpkg/conf/ui/full.yaml": (
        "windows:\n  create_db: true\n  view: true\ntitle: ${src.driver} to ${dst.driver}\n"
    ),
    "userpkg/conf/ui/view.yaml": "windows:\n  create_db: false\n  view: true\n",
    "userpkg/conf/preset/fast.yaml": (
        "# @package _global_\ndefaults:\n  - override /ui: view\nschema:\n  database: fast_school\n"
    ),
}

VARIANTS = {
    "dst": "postgresql",
    "schema": "school",
    "schema/tables": "small",
    "src": "mysql",
    "ui": "full",
}
BASE = "migrate-dst_postgresql-schema_school-schema.tables_small-src_mysql-ui_full"


def named(iteration: int, **changed: str) -> str:
    """The trial name with some variants replaced (the naming module decides the escaping)."""
    return trial_name("migrate", {**VARIANTS, **changed}, iteration)


@pytest.fixture
def project(make_user_project):
    return make_user_project(files=COMPOSITION)


def _only(project, **filters):
    trials = list_trials(project.trials_folder, **filters)
    assert len(trials) == 1, trials
    return trials[0]


def _names(project) -> list[str]:
    return [t.name for t in list_trials(project.trials_folder)]


def test_each_placement_is_its_own_parameter_named_and_locked(project):
    run = project.run("+exp=migrate")
    assert run.returncode == 0, run.output
    trial = _only(project)
    assert trial.name == f"{BASE}-1"
    assert trial.variants == {
        "db@src": "mysql",
        "db@dst": "postgresql",
        "schema": "school",
        "schema/tables": "small",
        "ui": "full",
    }
    data = load_trial_data(trial.key, project.trials_folder)
    assert data["src"] == {"driver": "mysql", "user": "omry", "pass": "secret"}
    assert data["dst"]["pool_seed"] == 0
    assert data["schema"] == {"tables": ["students", "exams"], "database": "school"}
    assert data["ui"]["title"] == "mysql to postgresql"
    # composed (YAML) order, not sorted
    assert data["orders"] == {"src": ["driver", "user", "pass"], "ui": ["windows", "title"]}
    swapped = project.run("+exp=migrate", "db@src=postgresql", "db@dst=mysql")
    assert swapped.returncode == 0, swapped.output
    assert _names(project)[-1] == (
        "migrate-dst_mysql-schema_school-schema.tables_small-src_postgresql-ui_full-1"
    )
    locks = {(lock.group, lock.name) for lock in _locks(project)}
    assert {("db", "mysql"), ("db", "postgresql"), ("exp", "migrate")} <= locks


def _locks(project):
    from mitosis_hydra.storage.store import TrialStore

    return TrialStore(project.trials_folder).variant_locks()


def test_field_overrides_make_a_modified_variant_and_leave_the_base_lock(project):
    run = project.run("+exp=migrate", "src.user=root", "+src.port=3306")
    assert run.returncode == 0, run.output
    trial = _only(project)
    label = "mysql[port=3306,user=root]"
    assert trial.variants["db@src"] == label
    assert trial.name == named(1, src=label)
    data = load_trial_data(trial.key, project.trials_folder)
    assert data["src"] == {"driver": "mysql", "user": "root", "pass": "secret", "port": 3306}
    mysql = next(lock for lock in _locks(project) if lock.name == "mysql")
    assert json.loads(mysql.canonical) == {"driver": "mysql", "user": "omry", "pass": "secret"}
    # the unmodified variant is another combination, counted from 1, and no conflict
    plain = project.run("+exp=migrate")
    assert plain.returncode == 0, plain.output
    assert _names(project)[-1] == f"{BASE}-1"
    again = project.run("+exp=migrate", "src.user=root", "+src.port=3306")
    assert again.returncode == 0, again.output
    assert _names(project)[-1] == named(2, src=label)


def test_the_primary_configs_own_entries_modify_the_variant_they_write_into(make_user_project):
    files = dict(COMPOSITION)
    files["userpkg/conf/config.yaml"] = (
        COMPOSITION["userpkg/conf/config.yaml"].replace("  - _self_\n", "")
        + "  - _self_\nsrc:\n  user: root\n"
    )
    project = make_user_project(files=files)
    run = project.run("+exp=migrate")
    assert run.returncode == 0, run.output
    assert _only(project).variants["db@src"] == "mysql[user=root]"


def test_references_to_seed_and_parameters_stay_references_in_the_lock(project):
    run = project.run("--multirun", "+exp=migrate", "seed=1,2")
    assert run.returncode == 0, run.output
    assert _names(project) == [f"{BASE}-1", f"{BASE}-2"]
    locks = {lock.name: json.loads(lock.canonical) for lock in _locks(project)}
    assert locks["postgresql"]["pool_seed"] == "${seed}"
    assert locks["full"]["title"] == "${src.driver} to ${dst.driver}"
    # ui=full with another db: the same ui value, no conflict
    other = project.run("+exp=migrate", "db@src=postgresql")
    assert other.returncode == 0, other.output
    data = load_trial_data(list_trials(project.trials_folder)[-1].key, project.trials_folder)
    assert data["ui"]["title"] == "postgresql to postgresql"


def test_a_swept_field_gives_one_label_per_value(project):
    run = project.run("--multirun", "+exp=migrate", "schema.database=a,b")
    assert run.returncode == 0, run.output
    labels = sorted(t.variants["schema"] for t in list_trials(project.trials_folder))
    assert labels == ["school[database=a]", "school[database=b]"]


def test_a_stray_top_level_key_is_refused_before_anything_is_recorded(project):
    run = project.run("+exp=migrate", "+C=0.5")
    assert run.returncode == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert lines[0] == "The top-level key `C` is not a parameter, so `run` would never see it."
    assert lines[1].startswith("  C = 0.5")
    assert "an experiment argument" in lines[-1] and "mitosis.untracked=[C]" in lines[-1]
    assert list_trials(project.trials_folder) == []
    # listed in mitosis.untracked, it is passed, unlocked and out of the name
    passed = project.run("+exp=migrate", "+C=0.5", "mitosis.untracked=[C]")
    assert passed.returncode == 0, passed.output
    trial = _only(project)
    assert trial.name == f"{BASE}-1"
    assert load_trial_data(trial.key, project.trials_folder)["others"] == {"C": 0.5}


def test_an_unknown_untracked_name_is_refused(project):
    run = project.run("+exp=migrate", "mitosis.untracked=[nosuch]")
    assert run.returncode == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert lines[0] == "mitosis.untracked names nosuch, which is no parameter of this trial."
    assert (
        lines[1] == "  parameters (by argument or group): db, dst, schema, schema/tables, src, ui"
    )
    assert list_trials(project.trials_folder) == []


def test_a_preset_is_named_and_locked_but_not_passed(project):
    run = project.run("+exp=migrate", "+preset=fast")
    assert run.returncode == 0, run.output
    trial = _only(project)
    assert trial.variants["preset"] == "fast"
    assert trial.variants["ui"] == "view"
    assert trial.variants["schema"] == "school[database=fast_school]"
    assert "-preset_fast-" in trial.name
    data = load_trial_data(trial.key, project.trials_folder)
    assert "preset" not in data["others"]
    preset = next(lock for lock in _locks(project) if lock.group == "preset")
    assert json.loads(preset.canonical) == {
        "defaults": ["override /ui: view"],
        "values": {"schema": {"database": "fast_school"}},
    }


def test_experiment_arguments_are_passed_and_the_experiment_is_locked(project):
    run = project.run("+exp=migrate", "exp.batch=20")
    assert run.returncode == 0, run.output
    trial = _only(project)
    assert trial.variants["exp"] == "migrate[batch=20]"
    assert trial.name == named(1, exp="migrate[batch=20]")
    assert load_trial_data(trial.key, project.trials_folder)["main"] == 20.0
    exp = next(lock for lock in _locks(project) if lock.group == "exp")
    assert json.loads(exp.canonical) == {"run": "userpkg.migrate:migrate", "batch": 100}
    project.write("userpkg/migrate.py", COMPOSITION["userpkg/migrate.py"] + "\nother = migrate\n")
    project.write("userpkg/conf/exp/migrate.yaml", "run: userpkg.migrate:other\nbatch: 100\n")
    project.commit("point the experiment at another function")
    changed = project.run("+exp=migrate")
    assert changed.returncode == 2, changed.output
    lines = changed.stderr.strip().splitlines()
    assert lines[0] == "Variant exp=migrate is already locked to a different value."
    assert "userpkg/conf/exp/migrate.yaml" in changed.stderr
    assert "e.g. userpkg/conf/exp/migrate_v2.yaml" in lines[-1]


def test_a_conflict_names_the_file_that_changed_not_a_modified_variant(project):
    assert project.run("+exp=migrate").returncode == 0
    modified = project.run("+exp=migrate", "src.pass=other")
    assert modified.returncode == 0, modified.output
    project.write("userpkg/conf/db/mysql.yaml", "driver: mysql\nuser: omry\npass: changed\n")
    project.commit("change mysql")
    run = project.run("+exp=migrate")
    assert run.returncode == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert lines[0] == "Variant db=mysql is already locked to a different value."
    assert "userpkg/conf/db/mysql.yaml" in run.stderr
    assert "e.g. userpkg/conf/db/mysql_v2.yaml" in lines[-1]


def test_a_configstore_conflict_names_the_registering_module(project):
    assert project.run("+exp=migrate", "+cache=small").returncode == 0
    stored = COMPOSITION["userpkg/stored.py"].replace("size: int = 64", "size: int = 128")
    project.write("userpkg/stored.py", stored)
    project.commit("bigger cache")
    run = project.run("+exp=migrate", "+cache=small")
    assert run.returncode == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert lines[0] == "Variant cache=small is already locked to a different value."
    assert "ConfigStore node cache/small, registered by module userpkg.stored" in run.stderr
    assert "structured://" not in run.stderr
    assert "name='small_v2'" in lines[-1] and ".yaml" not in lines[-1]


def _cli(project, *args: str):
    return project.cli(*args)


def test_placed_and_modified_variants_count_as_uses_of_their_lock(project):
    run = project.run("+exp=migrate", "db@src=postgresql", "src.timeout=5")
    assert run.returncode == 0, run.output
    trial = _only(project)
    assert trial.variants["db@src"] == "postgresql[timeout=5]"
    counts = {(lock.group, lock.name): lock.trial_count for lock in _locks(project)}
    assert counts[("db", "postgresql")] == 1
    shown = _cli(project, "show", trial.key, "--json")
    assert shown.returncode == 0, shown.stderr
    variants = json.loads(shown.stdout)["variants"]
    assert variants["db@src"]["name"] == "postgresql[timeout=5]"
    assert variants["db@src"]["locked"] == "modified; postgresql is locked"
    assert json.loads(variants["db@src"]["value"])["timeout"] == 5
    assert variants["db@dst"]["locked"] == "locked"
    release = _cli(project, "variants", "release", "db/postgresql", "--yes")
    assert release.returncode == 1, release.stdout + release.stderr
    assert "db/postgresql is still used by 1 recorded trial" in release.stderr


def test_a_reference_to_an_untracked_parameter_is_resolved_in_the_lock(project):
    run = project.run("+exp=migrate", "mitosis.untracked=[src]")
    assert run.returncode == 0, run.output
    full = next(lock for lock in _locks(project) if lock.name == "full")
    assert json.loads(full.canonical)["title"] == "mysql to ${dst.driver}"
    other = project.run("+exp=migrate", "mitosis.untracked=[src]", "db@src=postgresql")
    assert other.returncode == 2, other.output
    assert other.stderr.startswith("Variant ui=full is already locked to a different value.")


def test_an_experiment_takes_groups_of_its_own_through_its_defaults_list(make_user_project):
    files = {
        **COMPOSITION,
        "userpkg/conf/exp/cached.yaml": (
            "defaults:\n  - /cache: small\nrun: userpkg.migrate:migrate\nbatch: 5\n"
        ),
    }
    project = make_user_project(files=files)
    run = project.run("+exp=cached", "exp.cache.size=32")
    assert run.returncode == 0, run.output
    trial = _only(project)
    assert trial.variants["cache@exp.cache"] == "small[size=32]"  # Hydra's choice key
    assert trial.name == trial_name("cached", {**VARIANTS, "cache": "small[size=32]"}, 1)
    data = load_trial_data(trial.key, project.trials_folder)
    assert data["cache"] == {"size": 32, "policy": "lru"} and data["main"] == 5.0
    locks = {(lock.group, lock.name): json.loads(lock.canonical) for lock in _locks(project)}
    assert locks[("cache", "small")] == {"size": 64, "policy": "lru"}
    assert locks[("exp", "cached")] == {"run": "userpkg.migrate:migrate", "batch": 5}


def test_the_mitosis_launcher_validates_and_names_modified_variants(project):
    run = project.run(
        "--multirun", "hydra/launcher=mitosis", "+exp=migrate", "src.user=a,b", "+preset=fast"
    )
    assert run.returncode == 0, run.output
    labels = sorted(t.variants["db@src"] for t in list_trials(project.trials_folder))
    assert labels == ["mysql[user=a]", "mysql[user=b]"]
    project.write(
        "userpkg/conf/preset/fast.yaml",
        COMPOSITION["userpkg/conf/preset/fast.yaml"] + "  extra: 1\n",
    )
    project.commit("the preset writes more")
    refused = project.run("--multirun", "hydra/launcher=mitosis", "+exp=migrate", "+preset=fast")
    assert refused.returncode == 2, refused.output
    assert "Variant preset=fast is already locked to a different value." in refused.stderr
    assert "userpkg/conf/preset/fast.yaml" in refused.stderr
