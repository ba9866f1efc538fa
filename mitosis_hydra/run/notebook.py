"""The notebook a trial runs, built from plain data (no kernel, no files)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


@dataclass(frozen=True)
class NotebookPlan:
    """What the generated notebook needs to know about its trial."""

    name: str
    key: str
    experiment: str
    run_target: str
    seed: int
    debug: bool
    commit: str
    started_at: str
    variants: dict[str, str]
    arguments: dict[str, Any]
    folder: str  # the trial's folder, relative to the kernel's cwd (the project): no absolute path
    hydra: bool = False  # the folder holds the job's Hydra config, for HydraConfig.get()
    # the JSON of `arguments` is in this file of the trial's folder (see `arguments_json`)
    arguments_file: str | None = None


# Arguments whose JSON is longer than this go to a file beside the notebook: a reader
# cannot use a megabyte of numbers in a cell, and the kernel, the notebook and its HTML
# export would each pay for carrying them (highlighting 1.5 MB of code takes ~10 s).
INLINE_ARGUMENTS = 20_000


def arguments_json(arguments: dict[str, Any], *, indent: int | None = 2) -> str:
    """The arguments as the notebook carries them: JSON text, in the order Hydra composed them.

    JSON, not Python literals: NaN and ±inf survive, and nothing is re-interpolated.
    Without `indent` (a file nobody reads by eye), json's C encoder writes it at once.
    """
    return json.dumps(arguments, indent=indent, ensure_ascii=False)


def build_notebook(plan: NotebookPlan, provenance: dict[str, Any]) -> nbformat.NotebookNode:
    """Header, setup, parameters, call, save: each a cell a reader can follow."""
    notebook = new_notebook(
        cells=[
            new_markdown_cell(_header(plan)),
            _code("setup", _setup(plan)),
            _code("parameters", _parameters(plan)),
            _code("run", "result = run(seed=seed, **params)"),
            _code("save", _save(plan)),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["mitosis_hydra"] = provenance
    return notebook


def _code(tag: str, source: str):
    return new_code_cell(source, metadata={"tags": [f"mitosis-{tag}"]})


def _header(plan: NotebookPlan) -> str:
    """The header while the trial runs; `header_cell` replaces it once the outcome is known."""
    return outcome_header(plan, Outcome("running"))


@dataclass(frozen=True)
class Outcome:
    """What the first screen says about how the trial ended."""

    status: str
    main: Any = None
    metrics: dict[str, Any] | None = None
    wall_time: float | None = None
    error: str | None = None


def outcome_header(plan: NotebookPlan, outcome: Outcome) -> str:
    """Did it work, and how well: status and main first, then where it came from."""
    kind = (
        "**Debug trial** (not recorded, code may differ from the commit)\n\n" if plan.debug else ""
    )
    rows = [("status", f"**{outcome.status}**")]
    if outcome.status == "finished" or outcome.main is not None:
        rows.append(("main", f"**{_number(outcome.main)}**"))
    rows += [(f"metric `{k}`", _number(v)) for k, v in (outcome.metrics or {}).items()]
    if outcome.error:
        rows.append(("error", f"`{_one_line(outcome.error)}`"))
    rows += [(f"variant `{group}`", f"`{name}`") for group, name in sorted(plan.variants.items())]
    rows += [
        ("experiment", plan.experiment),
        ("key", f"`{plan.key}`"),
        ("commit", f"`{plan.commit or 'none'}`"),
        ("started", plan.started_at),
        ("wall time", _duration(outcome.wall_time)),
        ("seed", str(plan.seed)),
        ("run", f"`{plan.run_target}`"),
    ]
    table = "\n".join(f"| {field} | {value} |" for field, value in rows)
    return f"# {plan.name}\n\n{kind}| | |\n|---|---|\n{table}\n"


def set_header(notebook: nbformat.NotebookNode, plan: NotebookPlan, outcome: Outcome) -> None:
    """Fill in the executed notebook's first cell, before it is exported."""
    notebook.cells[0].source = outcome_header(plan, outcome)


def _number(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"  # 0.912345, 1e-07, nan; a whole float stays a float: 10.0
        return text + ".0" if text.lstrip("-").isdigit() else text
    return "–" if value is None else str(value).replace("|", "\\|")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else text
    return (line[:200] + "…" if len(line) > 200 else line).replace("`", "'").replace("|", "/")


def _setup(plan: NotebookPlan) -> str:
    return (
        "from mitosis_hydra.run import kernel_side\n"
        "folder = kernel_side.setup(\n"
        f"    folder={plan.folder!r},  # the trial's folder, relative to the project\n"
        f"    seed={plan.seed},\n"
        f"    debug={plan.debug},\n"
        f"    trial={_trial(plan)!r},\n"
        f"    hydra={plan.hydra},\n"
        ")\n"
        f"run = kernel_side.load_run({plan.run_target!r})"
    )


def _trial(plan: NotebookPlan) -> dict[str, str]:
    """What `mitosis_hydra.current_trial()` returns in the kernel (its folder: `folder`)."""
    return {"key": plan.key, "name": plan.name, "experiment": plan.experiment}


def _parameters(plan: NotebookPlan) -> str:
    # In the order Hydra composed them: `run` sees mappings as the YAML wrote them.
    if plan.arguments_file is not None:
        load = (
            f"# too long to show here: the arguments are in {plan.arguments_file}, "
            "beside this notebook\n"
            f"arguments = json.loads((folder / {plan.arguments_file!r}).read_text('utf-8'))\n"
        )
    else:
        text = arguments_json(plan.arguments)
        text = text.replace("'", "\\u0027")  # a JSON escape: the raw string can never close early
        load = f"arguments = json.loads(r'''{text}''')\n"
    return (
        "import json\n"
        f"seed = {plan.seed}\n"
        f"{load}"
        "params = kernel_side.build_arguments(arguments)\n"
        "kernel_side.show_arguments(params)"
    )


def _save(plan: NotebookPlan) -> str:
    return (
        "main = kernel_side.save_results(result, folder=folder)\n"
        "print(f'main = {main!r}')\n"
        "for _name, _value in (result.get('metrics') or {}).items():\n"
        "    print(f'{_name} = {_value!r}')"
    )
