"""Kernels forked from a zygote: each trial a fresh process, seen dying, never outliving it."""

from __future__ import annotations

import os
import signal

import nbformat
import pytest

from mitosis_hydra.run import zygote
from mitosis_hydra.run.kernel import TrialKernel, kernel_env

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not zygote.available(), reason="kernels are forked on Linux only"),
]


def _notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.outputs)


def test_every_kernel_is_a_fresh_process_in_its_cwd(tmp_path):
    parent = zygote.KernelZygote(str(tmp_path), kernel_env())
    try:
        seen = []
        for _ in range(2):
            notebook = _notebook(
                "import os, sys\nprint(os.getpid(), os.getcwd(), 'leftover' in globals())",
                "leftover = 1",
            )
            with TrialKernel(cwd=str(tmp_path), zygote=parent) as kernel:
                assert kernel.execute(notebook).outcome == "ok"
            seen.append(_text(notebook.cells[0]).split())
    finally:
        parent.close()
    (pid_a, cwd_a, left_a), (pid_b, cwd_b, left_b) = seen
    assert pid_a != pid_b
    assert cwd_a == cwd_b == str(tmp_path)
    assert left_a == left_b == "False"


def test_forked_kernels_have_numpy_working_and_their_own_random_state(tmp_path):
    # numpy is imported once in the zygote; BLAS (its threads restart after fork) and
    # the global generators (reseeded per child) must behave as in a kernel of its own.
    parent = zygote.KernelZygote(str(tmp_path), kernel_env())
    cell = (
        "import random, sys\nalready = 'numpy' in sys.modules\nimport numpy as np\n"
        "a = np.arange(250_000, dtype=float).reshape(500, 500) / 250_000\n"
        "print(already, bool(np.allclose(a @ np.eye(500), a)), np.random.random(), random.random())"
    )
    try:
        seen = []
        for _ in range(2):
            notebook = _notebook(cell)
            with TrialKernel(cwd=str(tmp_path), zygote=parent) as kernel:
                assert kernel.execute(notebook).outcome == "ok"
            seen.append(_text(notebook.cells[0]).split())
    finally:
        parent.close()
    (preloaded_a, blas_a, np_a, py_a), (preloaded_b, blas_b, np_b, py_b) = seen
    assert preloaded_a == preloaded_b == blas_a == blas_b == "True"
    assert np_a != np_b and py_a != py_b


def test_a_kernel_that_dies_is_reported(tmp_path):
    parent = zygote.KernelZygote(str(tmp_path), kernel_env())
    try:
        with TrialKernel(cwd=str(tmp_path), zygote=parent) as kernel:
            result = kernel.execute(_notebook("import os\nos._exit(3)"))
        assert result.outcome == "interrupted"
        assert result.error == "the kernel died while running the trial"
    finally:
        parent.close()


def test_closing_the_zygote_kills_its_kernels(tmp_path):
    parent = zygote.KernelZygote(str(tmp_path), kernel_env())
    process = parent.fork_kernel(str(tmp_path), kernel_env(), str(tmp_path / "none.json"))
    pid = process.pid
    parent.close()
    assert process.wait(timeout=10) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    pytest.fail(f"kernel {pid} outlived its zygote")  # pragma: no cover


def test_sigterm_default_in_forked_kernels(tmp_path):
    """The child does not inherit the zygote's SIGCHLD handler."""
    parent = zygote.KernelZygote(str(tmp_path), kernel_env())
    try:
        notebook = _notebook("import signal\nprint(signal.getsignal(signal.SIGCHLD))")
        with TrialKernel(cwd=str(tmp_path), zygote=parent) as kernel:
            assert kernel.execute(notebook).outcome == "ok"
        assert _text(notebook.cells[0]).strip() == str(signal.SIG_DFL)
    finally:
        parent.close()
