"""The package's import graph: every module imports, and no module-level import circle.

Module-level imports (top level of a module, including under ``if``/``try``, but not under
``if TYPE_CHECKING:`` nor inside functions or classes' methods) are what Python runs when a
module is first imported; a circle among them makes the outcome depend on which module is
imported first. The graph is read with :mod:`ast`, so the check sees the code as written.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import araneus

PKG_DIR = Path(araneus.__file__).parent


def _module_name(path: Path) -> tuple[str, bool]:
    parts = ("araneus",) + path.relative_to(PKG_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


MODULES = {_module_name(p)[0]: p for p in sorted(PKG_DIR.rglob("*.py"))}


def _imports(tree: ast.Module, in_functions: bool = False):
    """Import nodes run at import time (not in functions, classes' methods, TYPE_CHECKING);
    with ``in_functions``, also those inside functions (run when the function is called)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif in_functions and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(node.body)
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, (ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    stack.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
        elif isinstance(node, ast.ClassDef):
            methods = (ast.FunctionDef, ast.AsyncFunctionDef)
            stack.extend(n for n in node.body if in_functions or not isinstance(n, methods))
        elif in_functions and isinstance(node, (ast.For, ast.While)):
            stack.extend(node.body + node.orelse)


def _edges(name: str, path: Path, in_functions: bool = False) -> set[str]:
    is_pkg = _module_name(path)[1]
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path)), in_functions):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import sub`` needs the submodule; ``from pkg import name``, the package
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            targets = subs + ([mod] if len(subs) < len(node.names) else [])
        # a module's own packages are being imported already when it runs
        out.update(t for t in targets if t in MODULES and not (name + ".").startswith(t + "."))
    return out


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_level_import_circle():
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    assert sum(map(len, graph.values())) > 100  # the graph was read
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


#: The one circle left once imports inside functions count: ``WebDataset.load`` reads a
#: dataset file through :mod:`araneus.dataset.files`, which builds the ``WebDataset``.
KNOWN_LOCAL_CIRCLES = [{"araneus.dataset.files", "araneus.dataset.webdataset"}]


def test_no_circle_counting_imports_inside_functions():
    """Stages import one way even where the import waits inside a function (as
    ``models.base`` -> ``train`` -> ``models.base`` did before issue 23)."""
    graph = {name: _edges(name, path, in_functions=True) for name, path in MODULES.items()}
    for circle in KNOWN_LOCAL_CIRCLES:  # cut each known circle once
        first, second = sorted(circle)
        graph[second].discard(first)
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle (counting imports in functions): " + " -> ".join(cycle)


def test_old_module_paths_still_import():
    """Modules moved by issue 23 still import at their old paths, as the same module."""
    from araneus._moved import MOVED

    for old, new in MOVED.items():
        assert old not in MODULES and new in MODULES
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=f"{old} has moved to {new}"):
            module = importlib.import_module(old)
        assert module is importlib.import_module(new)
    from araneus.clean import repair

    from araneus.repair import repair as new_repair

    assert repair is new_repair


def test_find_cycle_sees_a_circle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))
def test_every_module_imports(name):
    importlib.import_module(name)
