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
    log_file: str
    results_file: str
    summary_file: str
    project_root: str
    trial_folder: str = ""
    hydra_file: str | None = None  # the job's Hydra config, for HydraConfig.get() in the kernel


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
    kind = "**Debug trial** (not recorded, code may differ from the commit)" if plan.debug else ""
    rows = [
        ("key", plan.key),
        ("experiment", plan.experiment),
        ("run", f"`{plan.run_target}`"),
        ("commit", f"`{plan.commit or 'none'}`"),
        ("started", plan.started_at),
        ("seed", str(plan.seed)),
    ]
    rows += [(f"variant `{group}`", f"`{name}`") for group, name in sorted(plan.variants.items())]
    table = "\n".join(f"| {field} | {value} |" for field, value in rows)
    return f"# {plan.name}\n\n{kind}\n\n| | |\n|---|---|\n{table}\n"


def _setup(plan: NotebookPlan) -> str:
    return (
        "from mitosis_hydra.run import kernel_side\n"
        "kernel_side.setup(\n"
        f"    seed={plan.seed},\n"
        f"    log_file={plan.log_file!r},\n"
        f"    debug={plan.debug},\n"
        f"    project_root={plan.project_root!r},\n"
        f"    trial={_trial(plan)!r},\n"
        f"    hydra_file={plan.hydra_file!r},\n"
        ")\n"
        f"run = kernel_side.load_run({plan.run_target!r})"
    )


def _trial(plan: NotebookPlan) -> dict[str, str]:
    """What `mitosis_hydra.current_trial()` returns in the kernel."""
    return {
        "key": plan.key,
        "name": plan.name,
        "folder": plan.trial_folder,
        "experiment": plan.experiment,
    }


def _parameters(plan: NotebookPlan) -> str:
    # JSON text, not Python literals: NaN and ±inf survive, and nothing is re-interpolated.
    # In the order Hydra composed them: `run` sees mappings as the YAML wrote them.
    text = json.dumps(plan.arguments, indent=2, ensure_ascii=False)
    text = text.replace("'", "\\u0027")  # a JSON escape, so the raw string can never close early
    return (
        "import json\n"
        f"seed = {plan.seed}\n"
        f"arguments = json.loads(r'''{text}''')\n"
        "params = kernel_side.build_arguments(arguments)\n"
        "for _name, _value in params.items():\n"
        "    print(f'{_name} = {_value!r}')"
    )


def _save(plan: NotebookPlan) -> str:
    return (
        "main = kernel_side.save_results(\n"
        "    result,\n"
        f"    results_file={plan.results_file!r},\n"
        f"    summary_file={plan.summary_file!r},\n"
        ")\n"
        "print(f'main = {main!r}')\n"
        "for _name, _value in (result.get('metrics') or {}).items():\n"
        "    print(f'{_name} = {_value!r}')"
    )
