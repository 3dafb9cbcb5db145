#!/usr/bin/env python3
"""Report import cycles: between Python modules, and between the C++ delegate's folders.

    python tools/check_import_cycles.py      # exit 1, listing each cycle, if there is any

Python: every ``import`` and ``from ... import`` of the modules under
``python/patternlite``, ``benchmarks`` and ``tools``, wherever it sits (a
function-level import is a dependency too: it only hides the cycle until the
function runs). ``from package import name`` depends on the submodule
``package.name`` when there is one, else on the package's ``__init__``.

C++: the folders of ``delegate/`` (abi, metadata, packing, kernels, runtime,
opencl, ...); a file of folder A that writes ``#include "delegate/B/..."``
makes A depend on B. Files directly in ``delegate/`` (the generated contract
header) belong to no folder and depend on nothing.

Standard library only, so it runs before any install.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folder -> the top-level package name its modules import as.
PYTHON_ROOTS = {"python/patternlite": "patternlite", "benchmarks": "benchmarks", "tools": "tools"}
CXX_ROOT = "delegate"
_INCLUDE = re.compile(r'^\s*#\s*include\s+"delegate/([^/"]+)/', re.M)
_CXX_SUFFIXES = {".h", ".cc", ".inc", ".cpp", ".hpp"}


def _module_name(path: Path, folder: Path, package: str) -> str:
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def python_modules(root: Path = ROOT, roots: Mapping[str, str] = PYTHON_ROOTS) -> dict[str, Path]:
    """Every module's dotted name and file, under the given folders."""
    modules = {}
    for rel, package in roots.items():
        folder = root / rel
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts or any(p.startswith(".") for p in path.relative_to(folder).parts):
                continue
            modules[_module_name(path, folder, package)] = path
    return modules


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, str | None]]:
    """(module, name) for each import in ``tree``; name is the imported name of a ``from`` import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # Relative: strip `level` trailing parts (a package counts as its own first level).
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def python_graph(root: Path = ROOT, roots: Mapping[str, str] = PYTHON_ROOTS) -> dict[str, set[str]]:
    """Module -> the modules (of those scanned) it imports."""
    modules = python_modules(root, roots)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for base, name in _imported(tree, module, path.name == "__init__.py"):
            target = None
            if name is not None and f"{base}.{name}" in modules:
                target = f"{base}.{name}"
            elif base in modules:
                target = base
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def cxx_folder_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Folder of delegate/ -> the folders of delegate/ its files include."""
    base = root / CXX_ROOT
    graph: dict[str, set[str]] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        deps: set[str] = set()
        for path in folder.rglob("*"):
            if path.suffix in _CXX_SUFFIXES and path.is_file():
                deps.update(_INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")))
        deps.discard(folder.name)
        graph[folder.name] = deps
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted; sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so a deep import chain cannot overflow Python's stack.
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(graph: Mapping[str, Iterable[str]], component: list[str]) -> str:
    """A component and the edges inside it, e.g. ``a -> b, b -> a``."""
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph.get(a, ())) if b in members]
    return ", ".join(edges)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    bad = 0
    for what, graph in (("Python modules", python_graph()), ("C++ folders of delegate/", cxx_folder_graph())):
        for component in cycles(graph):
            print(f"import cycle between {what}: {describe(graph, component)}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
