"""The tree is the pipeline: every module in a stage package, imports only down the stages.

Walks every import of every module (top-level and inside functions) with
``ast``, so a lazy import that goes the wrong way is caught as well as an
eager one; the allowed directions are the ones docs/architecture.md states.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PKG = ROOT / "insolegen"

# Each stage package and the packages it may import (besides itself and the
# top-level ``insolegen`` for ``__version__``), as docs/architecture.md says.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "geometry": {"core"},
    "foot": {"core", "geometry"},
    "scan": {"core", "geometry", "foot"},
    "prescription": {"core"},
    "design": {"core", "geometry", "foot", "prescription"},
    "mesh": {"core", "geometry", "foot", "prescription", "design"},
    "output": {"core", "geometry", "foot", "prescription", "design", "mesh"},
    "check": {"core", "geometry", "foot", "prescription", "design", "mesh", "output"},
    "pipeline": {"core", "geometry", "foot", "scan", "prescription", "design", "mesh",
                 "output", "check"},
    "plates": {"core", "geometry", "foot", "prescription", "mesh", "output", "check"},
    "batch": {"core", "geometry", "foot", "scan", "prescription", "design", "mesh",
              "output", "check", "pipeline", "plates"},
}
FRONT_DOORS = {"cli", "web"}
TOP_LEVEL_FILES = {"__init__.py", "__main__.py"}


def _modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``insolegen...`` module ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "insolegen")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != "insolegen":
                continue
            for alias in node.names:  # ``from insolegen.scan import read`` imports a module
                sub = f"{module}.{alias.name}"
                found.add(sub if _is_module(sub) else module)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or not (PKG / parts[1]).is_dir():
        return None  # the package itself or a top-level file (__init__, __main__)
    return parts[1]


def test_every_module_sits_in_a_stage_package():
    loose = [p.name for p in PKG.glob("*.py") if p.name not in TOP_LEVEL_FILES]
    assert loose == [], "modules outside a stage package"
    for folder in (p for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if not (folder / "__init__.py").exists():
            continue  # data folders (profile_data, scan_data) are mapped in, not code
        assert folder.name in ALLOWED or folder.name in FRONT_DOORS, folder.name


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _module_name(p))
def test_imports_go_down_the_stages(path):
    stage = _stage(_module_name(path))
    if stage is None or stage in FRONT_DOORS:
        return
    wrong = sorted(m for m in _imports(path)
                   if _stage(m) not in (None, stage) and _stage(m) not in ALLOWED[stage])
    assert wrong == [], f"{_module_name(path)} ({stage}) may import only {sorted(ALLOWED[stage])}"


def test_no_import_cycle():
    graph = {_module_name(p): {m for m in _imports(p) if m != "insolegen"} for p in _modules()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt in graph and not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)


def test_each_package_says_what_it_does_and_may_import():
    for init in PKG.glob("*/__init__.py"):
        if init.parent.name in ("profile_data", "scan_data"):
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "May import" in doc, init


def test_architecture_doc_names_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in [*ALLOWED, "cli"]:
        assert f"`insolegen/{name}/`" in doc, name
