"""Which library modules a workflow script's results depend on, from what it imports.

A rule's inputs include the library sources its script imports, directly or through other
library modules, so that editing a module reruns exactly the rules whose scripts use it. The
imports are read from the sources' syntax trees (nothing is imported): ``from hintforce import
x``, ``from hintforce.x import y`` and ``import hintforce.x``, each with the packages whose
``__init__`` importing it runs. Relative imports are not followed: the library imports itself
absolutely.
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path

__all__ = ["RUNTIME_MODULES", "imported_modules", "library_inputs", "module_file"]

#: Modules that decide how a job runs (its log and BLAS threads), never what it computes:
#: editing them reruns nothing.
RUNTIME_MODULES = frozenset({"jobs"})


def module_file(name: str, package: Path) -> Path | None:
    """The source of library module ``name`` (dotted, relative to the package at
    ``package``; ``""`` is the package itself), or None when no such module exists."""
    path = package.joinpath(*name.split(".")) if name else package
    if path.is_dir():
        return path / "__init__.py"
    path = path.with_suffix(".py")
    return path if path.exists() else None


def _with_parents(name: str) -> set[str]:
    """``name`` and the packages importing it runs: ``"a.b"`` -> ``"", "a", "a.b"``."""
    parts = name.split(".") if name else []
    return {".".join(parts[:i]) for i in range(len(parts) + 1)}


def imported_modules(path: str | os.PathLike, package: Path) -> set[str]:
    """The modules of the package at ``package`` (named ``package.name``) that the Python file
    ``path`` imports, with the packages whose ``__init__`` each import runs."""
    stat = os.stat(path)
    return set(_imports(str(path), stat.st_mtime_ns, stat.st_size, package))


@functools.cache
def _imports(path: str, _mtime_ns: int, _size: int, package: Path) -> frozenset[str]:
    """:func:`imported_modules`, parsed once per version of the file (its modification time
    and size are in the key): the workflow asks for the modules of every script, which share
    most of theirs, each time Snakemake reads the workflow."""
    top = package.name
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != top:
                continue
            dotted = ".".join(parts[1:])
            found |= _with_parents(dotted)
            for alias in node.names:
                child = f"{dotted}.{alias.name}" if dotted else alias.name
                if module_file(child, package) is not None:
                    found |= _with_parents(child)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{top}."):
                    found |= _with_parents(alias.name.split(".", 1)[1])
    return frozenset(found)


def library_inputs(
    script: str | os.PathLike, package: Path, skip: frozenset[str] = RUNTIME_MODULES
) -> list[str]:
    """The sources of the package at ``package`` that the results of ``script`` depend on:
    the modules it imports, directly or through other modules of the package, but ``skip``
    (and what only they import). Sorted paths, as ``package`` is given (relative or not)."""
    todo = sorted(imported_modules(script, package))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name in skip:
            continue
        seen.add(name)
        todo.extend(imported_modules(module_file(name, package), package))
    return sorted(str(module_file(m, package)) for m in seen)
