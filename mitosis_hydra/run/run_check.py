"""Checking an experiment's `run` target and its signature before anything is recorded.

A bad `run:` (no such module or function, not a function, arguments it cannot
take) would otherwise be found inside the kernel, after the trial was recorded
and its iteration used up. The driver reads the module's *source* with `ast`:
it finds the module with the import system's path finders (the project root
first, as the kernel has it) and never imports or runs the user's module.

What the source cannot say is accepted, and the kernel finds out: a function
bound dynamically (`run = make_run()`, `functools.partial`, `from x import *`,
a module `__getattr__`), a decorated function (a decorator may change the
signature), a class, a method, or a module without Python source (a C
extension). A name imported from another module (`from .impl import run`) is
followed to that module's source.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mitosis_hydra.core.errors import ConfigError

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_FOLLOW_LIMIT = 5  # re-exports followed from module to module before giving up


@dataclass(frozen=True)
class Signature:
    """The keyword interface of a `def`, as the notebook calls it: run(seed=…, **params)."""

    text: str
    where: str
    accepted: frozenset[str]
    required: frozenset[str]
    any_keyword: bool


def split_target(target: str) -> tuple[str, str] | None:
    """`pkg.mod:func` (or dotted `pkg.mod.func`) → (module, attribute); None if malformed."""
    module, colon, attribute = target.partition(":")
    if not colon:
        module, _, attribute = target.rpartition(".")
    if not (_DOTTED.match(module) and _DOTTED.match(attribute)):
        return None
    return module, attribute


def check_run(
    target: str,
    supplied: Mapping[str, str],
    *,
    exp: str,
    exp_file: str | None,
    project_root: Path,
) -> None:
    """Raise ConfigError unless `target` names a function that takes exactly what is supplied.

    `supplied` maps each keyword the notebook passes (seed, every parameter and
    experiment argument) to how a user would recognise it (`group model (model=ridge)`).
    """
    where = f"  run: {target}   ({exp_file or f'exp={exp}'})"
    parts = split_target(target)
    if parts is None:
        raise ConfigError(
            f"The run target {target!r} of exp={exp} is not of the form `module:function`.\n"
            f"{where}\n"
            "Write it as `package.module:function` (or `package.module.function`)."
        )
    module, attribute = parts
    path = _module_source(module, project_root)
    if path is None:
        raise ConfigError(
            f"The module `{module}` of exp={exp}'s run target was not found.\n"
            f"{where}\n"
            f"  searched: {project_root} (the project root) and the installed packages\n"
            f"Check the module's name (a file {module.replace('.', '/')}.py under the project "
            "root), or install the package that provides it."
        )
    if not path:  # no Python source (C extension, frozen, namespace package): cannot be read
        return
    signature = _find_function(module, path, attribute, exp, where, project_root)
    if signature is not None:
        _check_signature(signature, supplied, target, exp, exp_file)


def _module_source(module: str, project_root: Path) -> Path | str | None:
    """The `.py` file of `module`; "" when it exists without readable source; None if absent."""
    search = [str(project_root), *(p for p in sys.path if p)]
    spec = None
    locations: list[str] = search
    parts = module.split(".")
    for index in range(len(parts)):
        if index and not locations:
            return None  # a plain module has no submodules
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: index + 1]), locations)
        if spec is None:
            return _found_by_hooks(module)
        locations = list(spec.submodule_search_locations or [])
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ""
    return Path(spec.origin)


def _found_by_hooks(module: str) -> str | None:
    """Editable installs and other import hooks: ask the full import system (imports parents)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return None if spec is None else ""


@lru_cache(maxsize=64)
def _parse(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _tree(path: Path, exp: str, where: str) -> ast.Module:
    try:
        return _parse(path, path.stat().st_mtime_ns)
    except SyntaxError as error:
        raise ConfigError(
            f"The module of exp={exp}'s run target has a syntax error: {error.msg}.\n"
            f"{where}\n"
            f"  {path}, line {error.lineno}\n"
            "Fix the syntax error, commit, and run again."
        ) from error


def _find_function(
    module: str, path: Path, attribute: str, exp: str, where: str, project_root: Path
) -> Signature | None:
    """The signature of `attribute` in `module`, None if the source cannot tell; or refuse."""
    first, _, rest = attribute.partition(".")
    for _ in range(_FOLLOW_LIMIT):
        tree = _tree(path, exp, where)
        binding = _last_binding(tree, first)
        if binding is None:
            if _is_open_ended(tree):
                return None
            functions = sorted(
                n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            raise ConfigError(
                f"The module `{module}` defines no `{first}` (exp={exp}'s run target).\n"
                f"{where}\n"
                f"  {path}: functions defined: {', '.join(functions) or '(none)'}\n"
                "Point run at a function the module defines, or define it and commit."
            )
        if rest:
            return None  # a method or an attribute of an object: known only when imported
        if isinstance(binding, ast.FunctionDef | ast.AsyncFunctionDef):
            return None if binding.decorator_list else _signature(binding, path)
        if isinstance(binding, ast.Lambda):
            return _signature(binding, path)
        if isinstance(binding, ast.Constant):
            kind = type(binding.value).__name__
            raise ConfigError(
                f"`{module}.{first}` is {binding.value!r} (of type {kind}), not a function "
                f"(exp={exp}'s run target).\n"
                f"{where}\n"
                f"  {path}, line {binding.lineno}\n"
                "Point run at a function: def run(seed, ...) returning a dict with 'main'."
            )
        if not isinstance(binding, ast.ImportFrom):
            return None  # a class, an assignment computed at import time, …
        source = _imported_module(binding, module, path)
        found = _module_source(source, project_root) if source else None
        if not found:
            return None
        alias = next(a for a in binding.names if (a.asname or a.name) == first)
        module, path, first = source, found, alias.name
    return None


def _last_binding(tree: ast.Module, name: str) -> ast.AST | None:
    """What `name` is bound to at module level by the last statement that binds it.

    Bound more than once with one of them inside `if`/`try`/`with`, which binding wins
    is known only at run time: an `ast.Pass` then stands for "cannot tell".
    """
    bindings = [
        (_binding(node, name), conditional)
        for node, conditional in _top_level(tree.body, conditional=False)
    ]
    bindings = [(found, conditional) for found, conditional in bindings if found is not None]
    if len(bindings) > 1 and any(conditional for _found, conditional in bindings):
        return ast.Pass()
    return bindings[-1][0] if bindings else None


def _binding(node: ast.stmt, name: str) -> ast.AST | None:
    """What `node` binds `name` to, if it binds it."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node if node.name == name else None
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = node.value
            return value if isinstance(value, ast.Constant | ast.Lambda) else node
        if any(name in _names(t) for t in targets):
            return node  # unpacking: bound, but to what is known only at run time
    if isinstance(node, ast.Import | ast.ImportFrom) and any(
        (a.asname or a.name.split(".")[0]) == name for a in node.names
    ):
        return node
    return None


def _names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _top_level(body: Iterable[ast.stmt], conditional: bool) -> Iterable[tuple[ast.stmt, bool]]:
    """Module-level statements, with those inside `if`, `try` and `with` blocks marked."""
    for node in body:
        yield node, conditional
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(node, block, []), conditional=True)
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                yield from _top_level(handler.body, conditional=True)


def _is_open_ended(tree: ast.Module) -> bool:
    """A star import, a module `__getattr__` or writes to globals(): names appear at run time."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"globals", "setattr"}:
            return True
    return False


def _imported_module(node: ast.ImportFrom, module: str, path: Path) -> str | None:
    if not node.level:
        return node.module
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    if node.level - 1 > len(package):
        return None
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])]) or None


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, path: Path) -> Signature:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    with_default = {a.arg for a in positional[len(positional) - len(args.defaults) :]}
    keyword_only = zip(args.kwonlyargs, args.kw_defaults, strict=True)
    with_default |= {a.arg for a, default in keyword_only if default is not None}
    keyword = [a.arg for a in (*args.args, *args.kwonlyargs)]
    name = getattr(node, "name", "<lambda>")
    return Signature(
        text=f"{name}({ast.unparse(args)})",
        where=f"{path}, line {node.lineno}",
        accepted=frozenset(keyword),
        required=frozenset(a.arg for a in (*positional, *args.kwonlyargs)) - with_default,
        any_keyword=args.kwarg is not None,
    )


def _check_signature(
    signature: Signature, supplied: Mapping[str, str], target: str, exp: str, exp_file: str | None
) -> None:
    problems = [
        f"  {label} is passed as `{name}=…`, which {signature.text.split('(')[0]} has no "
        "argument for (and no **kwargs)"
        for name, label in sorted(supplied.items())
        if name not in signature.accepted and not signature.any_keyword
    ]
    problems += [
        f"  required argument `{name}` is given by no config group, experiment argument or seed"
        for name in sorted(signature.required - set(supplied))
    ]
    if not problems:
        return
    raise ConfigError(
        f"The run function of exp={exp} cannot take the arguments this trial would pass it.\n"
        f"  signature: {signature.text}   ({signature.where})\n"
        + "\n".join(problems)
        + "\nGive the function those arguments (or **kwargs) and defaults, or choose the groups "
        f"it takes: an experiment can bring its own groups in the defaults list of "
        f"{exp_file or f'its exp/{exp}.yaml'}."
    )
