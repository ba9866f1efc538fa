"""Reading many trials: storage/reading.py, `list`'s default view, `list --json`, `compare`.

The same trials are read from the SQLite file through the standard library, from
the same file through SQLAlchemy (a `file:` URL), and from a real PostgreSQL
server; the fast paths must give exactly what building whole records gives.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import pickle
import sqlite3
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_store import plan
from test_store_postgres import postgres, url  # noqa: F401  # the server fixtures

from mitosis_hydra.core.errors import UsageError
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read.cli import main
from mitosis_hydra.read.compare import compare_records, stdev
from mitosis_hydra.read.comparing import compare_command, compare_trials
from mitosis_hydra.read.goal import experiment_goals
from mitosis_hydra.storage import reading, rows, schema
from mitosis_hydra.storage.engine import DB_FILENAME
from mitosis_hydra.storage.store import TrialStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COUNT = 25


def record_trials(store: TrialStore) -> None:
    """25 trials a minute apart: two experiments, two amplitudes, every kind of outcome
    (failed, NaN, ±inf, text and boolean mains, missing metrics), the last still running."""
    for i in range(COUNT):
        amplitude = ("small", 4) if i % 2 else ("big", 10.0)
        opened = store.begin_trial(
            plan(
                store.trials_folder,
                {"amplitude": amplitude},
                experiment=("sine", "cosine")[i % 3 == 0],
                started_at=T0 + timedelta(minutes=i),
            )
        )
        if i == COUNT - 1:
            continue  # running, its heartbeat fresh: not lost
        main: object = i * 0.5
        metrics: dict[str, object] = {"loss": i / 3, "steps": i}
        if i == 5:
            main, metrics = math.nan, {"loss": math.inf}
        elif i == 6:
            main = "text"
        elif i == 8:
            main, metrics = True, {"ünïcode": -math.inf}
        failed = i % 7 == 3
        store.finish_trial(
            opened.key,
            status=TrialStatus.FAILED if failed else TrialStatus.FINISHED,
            notebook=None if failed else opened.folder / "notebook.html",
            main=None if failed else main,
            metrics={} if failed else metrics,
            cpu_time=0.25,
            error='ValueError: "quoted"\n  and a second line' if failed else None,
        )


@pytest.fixture(params=["sqlite", "sqlite through sqlalchemy", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> TrialStore:
    folder = tmp_path / "trials"
    address = None
    if request.param == "postgresql":
        address = request.getfixturevalue("url")
    store = TrialStore(folder, address)
    record_trials(store)
    if request.param == "sqlite through sqlalchemy":  # not a plain path: reading.py's fallback
        return TrialStore(folder, f"sqlite:///file:{folder / DB_FILENAME}?uri=true")
    return store


def test_the_columns_reading_names_are_the_schemas() -> None:
    assert tuple(column.name for column in schema.trials.columns) == reading.COLUMNS
    assert reading.SCHEMA_VERSION == schema.SCHEMA_VERSION
    assert {index.name for index in schema.trials.indexes} == reading.INDEXES


def test_records_decoded_on_first_read_equal_records_built_whole(filled: TrialStore) -> None:
    for record in filled.list_trials():
        whole = dataclasses.replace(record)  # __init__ with every value
        assert whole == record and repr(whole) == repr(record)
        assert repr(pickle.loads(pickle.dumps(record))) == repr(record)  # NaN != NaN
        assert record.metrics is record.metrics  # decoded once, then kept
        assert record.folder == filled.trials_folder / record.name
    first = filled.list_trials()[0]
    assert dataclasses.replace(first, main=7.5).main == 7.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.main = 1.0  # type: ignore[misc]


def test_list_json_lines_are_to_json_of_the_records(filled: TrialStore) -> None:
    records = filled.list_trials()
    assert len(records) == COUNT
    lines = list(reading.json_lines(filled))
    assert lines == [json.dumps(record.to_json()) for record in records]
    assert "NaN" in lines[5] and '\\"quoted\\"\\n' in lines[3]
    newest = list(reading.json_lines(filled, last=3))
    assert newest == lines[-3:]
    big = list(reading.json_lines(filled, variants=[("amplitude", "big")]))
    assert big == [json.dumps(r.to_json()) for r in records if r.variants["amplitude"] == "big"]


def test_newest_reads_the_newest_and_counts_them_all(filled: TrialStore) -> None:
    everything = filled.list_trials()
    records, total = reading.newest(filled, 20)
    assert total == COUNT and records == everything[-20:]
    failed, total = reading.newest(filled, 2, status="failed")
    assert total == 3 and [r.key for r in failed] == filled.list_trials(status="failed").keys[-2:]
    small, total = reading.newest(filled, 100, variants=[("amplitude", "small")])
    assert total == 12 and all(r.variants["amplitude"] == "small" for r in small)
    none, total = reading.newest(filled, 5, variants=[("amplitude", "small"), ("amplitude", "big")])
    assert (none, total) == ([], 0)


def test_iterating_reads_every_record_once_and_keeps_none(filled: TrialStore) -> None:
    records = filled.list_trials()
    assert [r.key for r in records] == records.keys
    assert records._pages == {}  # one ordered pass, no page kept
    assert list(records) == [records[i] for i in range(len(records))]


def test_compare_reads_the_same_numbers_as_whole_records(filled: TrialStore) -> None:
    for status in ("finished", None):
        records = filled.list_trials(status=status)
        whole = compare_records(records, experiment_goals(records), "main")
        fast = compare_trials(filled.trials_folder, status=status, db=filled.url)
        shown = [json.dumps(c.to_json()) for c in fast]
        assert shown == [json.dumps(c.to_json()) for c in whole]
    by_loss = compare_command(
        filled, experiment="sine", status=None, sweep=None, variants=["amplitude=big"], sort="loss"
    )
    records = [r for r in filled.list_trials(experiment="sine") if r.variants["amplitude"] == "big"]
    expected = compare_records(records, experiment_goals(records), "loss")
    assert [json.dumps(c.to_json()) for c in by_loss] == [json.dumps(c.to_json()) for c in expected]


def test_compare_refuses_a_sort_key_naming_no_metric(filled: TrialStore) -> None:
    with pytest.raises(UsageError, match="compare cannot sort by 'los'") as refused:
        compare_command(filled, experiment=None, status=None, sweep=None, variants=[], sort="los")
    assert "metrics: loss, steps, ünïcode" in str(refused.value)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=40))
def test_stdev_is_statistics_stdev_to_the_last_bit(numbers: list[float]) -> None:
    try:
        expected = statistics.stdev(numbers)
    except OverflowError:  # statistics' own limit: the variance is beyond the float range
        return
    assert stdev(numbers) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(_JSON, max_size=20))
def test_decoding_a_column_at_once_gives_each_value_as_decoded_alone(values: list) -> None:
    texts = [rows.dumps(value) for value in values]
    at_once = rows.decode_all(texts)
    assert repr(at_once) == repr([rows.decode(text) for text in texts])  # NaN != NaN


def test_texts_that_are_not_one_json_value_each_are_decoded_one_by_one() -> None:
    """Texts no writer of ours makes: joined, they would read as other values."""
    assert rows.decode_all(["1,2", "3"]) == [1, 3]  # as decode reads each: its first value
    assert rows.decode_all([" 4", "NaN", '"a,b"'])[::2] == [4, "a,b"]
    with pytest.raises(json.JSONDecodeError):
        rows.decode_all(["[1", "2]"])


# `mitosis-hydra list`: the default view at scale, as a user sees it


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = TrialStore(tmp_path / "trials")
    record_trials(store)
    return store.trials_folder


def listed(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["list", "--trials-folder", str(folder), *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_list_shows_the_newest_20_and_how_to_see_the_older_ones(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = listed(folder, capsys)
    keys = TrialStore(folder).list_trials().keys
    assert len(lines) == 2 + 20 + 1  # header, rule, rows, count
    assert [line.split()[0] for line in lines[2:-1]] == keys[-20:]
    assert lines[-1] == "20 of 25 trials (the newest); 5 older: add --last N or --all to see them"
    every = listed(folder, capsys, "--all")
    assert [line.split()[0] for line in every[2:-1]] == keys and every[-1] == "25 trials"
    three = listed(folder, capsys, "--last", "3")
    assert three[-1] == "3 of 25 trials (the newest); 22 older: add --last N or --all to see them"
    assert listed(folder, capsys, "--last", "30")[-1] == "25 trials"
    failed = listed(folder, capsys, "--status", "failed", "--last", "1")
    assert failed[-1] == "1 of 3 trials (the newest); 2 older: add --last N or --all to see them"
    small = listed(folder, capsys, "--variant", "amplitude=small")
    assert small[-1] == "12 trials"


def test_list_takes_last_or_all_not_both(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["list", "--trials-folder", str(folder), "--last", "3", "--all"])
    assert stopped.value.code == 2
    assert "argument --all: not allowed with argument --last" in capsys.readouterr().err


def test_list_json_gives_every_trial_one_a_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = listed(folder, capsys, "--json")
    records = TrialStore(folder).list_trials()
    texts = [json.dumps(record.to_json()) for record in records]
    assert lines == ["[", *(f"  {text}," for text in texts[:-1]), f"  {texts[-1]}", "]"]
    assert listed(folder, capsys, "--json", "--status", "interrupted") == ["[]"]


def test_list_and_compare_do_not_import_sqlalchemy_on_sqlite(folder: Path) -> None:
    """Its import alone takes about as long as listing 100,000 keys."""
    for command in (["list"], ["list", "--json"], ["compare", "--status", "all"]):
        script = (
            "import sys\nfrom mitosis_hydra.read.cli import main\n"
            f"code = main({[*command, '--trials-folder', str(folder)]!r})\n"
            "print(code, 'sqlalchemy' in sys.modules, file=sys.stderr)"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        assert done.stderr.strip().splitlines()[-1] == "0 False", (command, done.stderr)


def test_reading_a_folder_without_a_database_writes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "trials"
    folder.mkdir()
    assert listed(folder, capsys)[-1] == "0 trials"
    assert listed(folder, capsys, "--json") == ["[]"]
    assert main(["list", "--trials-folder", str(folder), "--sweep", "s1"]) == 2
    assert capsys.readouterr().err.startswith("No trial of sweep 's1' is recorded.\n")
    assert main(["compare", "--trials-folder", str(folder), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert list(folder.iterdir()) == []


def test_compare_merges_two_texts_of_one_combination_in_listing_order(folder: Path) -> None:
    """A variants column written another way (an older writer, a hand edit) is the same
    combination: its trials join the group in listing order, as compare_records has them."""
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.execute(
            "INSERT INTO trials SELECT 'otherkey01', experiment, name || '-copy', combo, "
            'iteration + 100, status, seed, "commit", \'{"amplitude":"big"}\', '
            "'2026-01-01T00:00:30+00:00', finished_at, wall_time, cpu_time, '41.5', metrics, "
            "folder, notebook, host, error, reproduction_of, pid, pid_start, heartbeat_at, "
            "sweep, scheduler_job FROM trials WHERE variants LIKE '%big%' AND status = 'finished' "
            "ORDER BY started_at LIMIT 1"
        )
    records = TrialStore(folder).list_trials()
    whole = compare_records(records, experiment_goals(records), "main")
    fast = compare_trials(folder, status=None)
    assert [json.dumps(c.to_json()) for c in fast] == [json.dumps(c.to_json()) for c in whole]
    assert any("otherkey01" in row.keys for c in fast for row in c.rows)


@pytest.mark.parametrize(("command", "collector"), [("compare", "False"), ("rebuild", "True")])
def test_the_console_script_reads_with_the_collector_off(
    folder: Path, command: str, collector: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's own process keeps what reading allocates without rescanning it;
    `main`, called in a process that goes on, leaves the collector as it found it."""
    script = (
        "import gc, sys\n"
        f"sys.argv = ['mitosis-hydra', {command!r}, '--trials-folder', {str(folder)!r}]\n"
        "from mitosis_hydra.read.console import run\n"
        "try:\n    run()\nexcept SystemExit as end:\n    print('exit', end.code, gc.isenabled())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1].split()[2] == collector, done.stdout + done.stderr
    assert main(["compare", "--trials-folder", str(folder)]) == 0
    assert "main metric by variant combination" in capsys.readouterr().out
    assert gc.isenabled()
