"""A huge printed output: the notebook keeps its head and tail and says what was cut;
the trial's log keeps all of it (benchmarks/huge_output.py measures the driver's memory)."""

from __future__ import annotations

import json

import pytest

from mitosis_hydra.core.output_limit import StreamLimiter

kernel = pytest.mark.kernel


def shown(limiter: StreamLimiter, chunks: list[tuple[str, str]]) -> dict[str, str]:
    """What the notebook gets per stream: the parts shown at once, then the cell's end."""
    out: dict[str, str] = {}
    for name, text in chunks:
        out[name] = out.get(name, "") + limiter.take(name, text)
    for name, text in limiter.finish():
        out[name] = out.get(name, "") + text
    return out


def test_output_under_the_limit_passes_unchanged():
    limiter = StreamLimiter(100, "/t/trial.log")
    assert shown(limiter, [("stdout", "a" * 60), ("stderr", "b" * 100), ("stdout", "c" * 40)]) == {
        "stdout": "a" * 60 + "c" * 40,
        "stderr": "b" * 100,
    }


def test_head_and_tail_are_kept_with_a_marker_for_the_cut():
    limiter = StreamLimiter(10, "/t/trial.log")
    text = "".join(f"{i:03d}" for i in range(100))  # 300 characters, in pieces of all sizes
    chunks = [("stdout", text[i : i + n]) for i, n in zip(range(0, 300, 7), [7] * 43, strict=False)]

    out = shown(limiter, chunks)["stdout"]

    assert out.startswith(text[:5])
    assert out.endswith(text[-5:])
    marker = out[5:-5]
    assert "[… 290 characters of stdout cut here by mitosis_hydra" in marker
    assert (
        "(mitosis.max_output=10 per cell); the whole stream is in the trial's log file, " in marker
    )
    assert "/t/trial.log …]" in marker


@pytest.mark.parametrize("sizes", [[1000], [3, 997], [995, 1, 1, 1, 1, 1], [1] * 1000])
def test_the_cut_is_counted_exactly_however_the_stream_arrives(sizes):
    limiter = StreamLimiter(64, None)
    text = "".join(chr(65 + i % 26) for i in range(sum(sizes)))
    pieces, start = [], 0
    for size in sizes:
        pieces.append(("stderr", text[start : start + size]))
        start += size

    out = shown(limiter, pieces)["stderr"]

    head, _marker, tail = out.partition("\n[…")[0], None, out.rpartition("…]\n")[2]
    assert head == text[:32] and tail == text[-32:]
    assert f"[… {1000 - 64:,} characters of stderr cut" in out


def test_a_new_cell_starts_counting_afresh():
    limiter = StreamLimiter(4, None)
    assert shown(limiter, [("stdout", "abcdefgh")])["stdout"].endswith("gh")
    assert shown(limiter, [("stdout", "xy")]) == {"stdout": "xy"}


_LOUD = '''
"""Prints a lot."""


def loud(seed, amplitude):
    for i in range(40_000):
        print(f"line {i:06d} " + "x" * 40)
    return {"main": 1.0}
'''


@kernel
def test_a_huge_output_is_cut_in_the_notebook_and_whole_in_the_log(make_user_project):
    project = make_user_project(
        {
            "userpkg/loud.py": _LOUD.lstrip(),
            "userpkg/conf/exp/loud.yaml": "run: userpkg.loud:loud\n",
        }
    )

    result = project.run("+exp=loud", "mitosis.max_output=20000", "mitosis.format=both")

    assert result.returncode == 0, result.output
    [record] = project.trials()
    notebook = json.loads((record.folder / "notebook.ipynb").read_text())
    [run_cell] = [c for c in notebook["cells"] if "mitosis-run" in c["metadata"].get("tags", [])]
    outputs = run_cell["outputs"]
    assert {(o["output_type"], o["name"]) for o in outputs} == {("stream", "stdout")}
    text = "".join(o["text"] if isinstance(o["text"], str) else "".join(o["text"]) for o in outputs)
    whole = 40_000 * len("line 000000 " + "x" * 40 + "\n")
    assert text.startswith("line 000000 xxx")
    assert text.endswith("line 039999 " + "x" * 40 + "\n")
    assert f"[… {whole - 20_000:,} characters of stdout cut here by mitosis_hydra" in text
    log_file = record.folder.relative_to(project.root) / "trial.log"  # no absolute path
    assert f"the whole stream is in the trial's log file, {log_file}" in text
    assert len(text) < 21_000
    html = (record.folder / "notebook.html").stat().st_size
    assert html < 200_000, html
    log = (record.folder / "trial.log").read_text()
    assert log.count("line ") == 40_000  # every line, in order
    assert "line 000000 " in log and "line 020000 " in log and "line 039999 " in log
    assert "INFO" in log.splitlines()[0]  # the driver's first line is still there


def test_max_output_is_a_positive_count_and_no_config_difference(tmp_path):
    from mitosis_hydra.core.errors import ConfigError
    from mitosis_hydra.core.spec import _settings
    from mitosis_hydra.read.reproduction_checks import diff_configs

    assert _settings({"max_output": 5}, tmp_path).max_output == 5
    assert _settings({}, tmp_path).max_output == 1_000_000
    for bad in (0, -1, "1MB", True, 2.5):
        with pytest.raises(ConfigError, match=r"mitosis\.max_output must be a positive number"):
            _settings({"max_output": bad}, tmp_path)
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("seed: 1\nmitosis:\n  format: html\n")  # before the setting existed
    new.write_text("seed: 1\nmitosis:\n  format: html\n  max_output: 1000000\n")
    assert diff_configs(old, new) == ""
