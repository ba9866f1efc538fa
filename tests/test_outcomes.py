"""Outcomes as data: one exit code per status or error, errors that keep their fields."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
from hydra.errors import CompactHydraException

from mitosis_hydra.core import errors
from mitosis_hydra.core.outcomes import (
    DONE_BEFORE,
    NOT_STARTED,
    STATUS_ANSI,
    STATUS_STYLE,
    counts_text,
    exit_code,
    status_counts,
    status_of_exit,
)
from mitosis_hydra.core.records import TrialStatus


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (None, 0),
        (TrialStatus.FINISHED, 0),
        (DONE_BEFORE, 0),
        (TrialStatus.FAILED, 1),
        (TrialStatus.LOST, 1),
        (NOT_STARTED, 1),
        (TrialStatus.INTERRUPTED, 130),
        (KeyboardInterrupt(), 130),
        (errors.Interrupted(), 130),
        (errors.ConfigError("bad"), 2),
        (errors.VariantConflictError("taken"), 2),
        (errors.TrialFailedError("failed", status="failed"), 1),
        (errors.TrialInterruptedError("stopped", status="interrupted"), 130),
        (ValueError("the experiment raised"), 1),
    ],
)
def test_one_exit_code_per_outcome(outcome, code):
    assert exit_code(outcome) == code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.ConfigError("no exp"), 2),
        (errors.RebuildRefusedError("still readable"), 2),
        (errors.ReproductionError("commit missing"), 1),
        (errors.VariantInUseError("3 trials use it"), 1),
        (errors.TrialFailedError("raised", key="k", name="t-1", status="failed"), 1),
        (errors.TrialInterruptedError("SIGTERM", key="k", status="interrupted"), 130),
    ],
)
def test_errors_carry_their_exit_code_across_pickling(error, code):
    back = pickle.loads(pickle.dumps(error))
    assert (error.exit_code, back.exit_code) == (code, code)
    assert exit_code(back) == code


def test_exit_codes_read_back_as_statuses():
    for status in (TrialStatus.FINISHED, TrialStatus.FAILED, TrialStatus.INTERRUPTED):
        assert status_of_exit(exit_code(status)) is status


@pytest.mark.parametrize("name", ["SweepIncompleteError", "JobRefusedError"])
def test_hydra_compact_errors_keep_their_fields_across_pickling(name):
    cls = getattr(errors, name)
    kwargs = {"key": "k1", "name": "t-1", "status": "failed"} if name[0] == "S" else {}
    error = cls("Some trials of the sweep failed.\n  t-1 failed", **kwargs)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and isinstance(back, CompactHydraException)
    assert isinstance(back, errors.MitosisError)
    assert str(back) == "Some trials of the sweep failed.\n  t-1 failed"
    assert {k: getattr(back, k) for k in kwargs} == kwargs


def test_importing_the_errors_does_not_import_hydra():
    code = "import sys, mitosis_hydra.core.errors; print('hydra' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"


def test_an_unknown_error_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchError'"):
        errors.NoSuchError  # noqa: B018


def test_counts_keep_the_order_statuses_appear_in():
    statuses = [TrialStatus.FAILED, TrialStatus.FINISHED, TrialStatus.FAILED, DONE_BEFORE]
    assert counts_text(status_counts(statuses)) == "2 failed, 1 finished, 1 done before"


def test_every_status_has_one_colour_everywhere():
    assert set(STATUS_STYLE) == set(STATUS_ANSI) == {*TrialStatus, NOT_STARTED, DONE_BEFORE}


def test_metrics_show_six_significant_digits_everywhere():
    from mitosis_hydra.core.outcomes import format_metric

    shown = [format_metric(v) for v in (None, 0.123456789, 3, float("nan"), True, "x")]
    assert shown == ["", "0.123457", "3", "nan", "True", "x"]
