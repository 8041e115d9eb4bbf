"""The package's layering, read from the source with ``ast`` (nothing is imported): the import graph of the
``lbgap`` modules, function-level imports included, has no cycle; only ``lbgap.cli`` imports ``lbgap.cli``;
only ``lbgap.book`` and ``lbgap.cli`` import ``lbgap.book``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Edges allowed to close a cycle, each with the reason it is still there (none now).
KNOWN_EDGES: set[tuple[str, str]] = set()


def module_names(src: Path = SRC) -> dict[str, Path]:
    """``lbgap.core.sweep`` -> its file; a package is named by its ``__init__.py``."""
    out = {}
    for path in sorted((src / "lbgap").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The lbgap modules that ``name`` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from lbgap.core import sweep` imports the module lbgap.core.sweep; `from x import name` imports x
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:        # `import lbgap.core.sweep.x` -> the module that exists
                t = t.rpartition(".")[0]
            if t and t.startswith("lbgap") and t != name:
                out.add(t)
    return out


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    modules = module_names(src)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]], skip: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if (v, w) in skip:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def in_group(module: str, group: str) -> bool:
    return module == group or module.startswith(group + ".")


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_function_level_and_from_imports(tmp_path):
    pkg = tmp_path / "lbgap"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from lbgap.core import b\n")
    (pkg / "core" / "b.py").write_text("def f():\n    from lbgap.core.a import x\n")
    (pkg / "core" / "c.py").write_text("from . import a\nimport lbgap.core.b\n")
    g = import_graph(tmp_path)
    assert g["lbgap.core.a"] == {"lbgap.core.b"} and g["lbgap.core.b"] == {"lbgap.core.a"}
    assert g["lbgap.core.c"] == {"lbgap.core.a", "lbgap.core.b"}
    assert cycles(g) == [["lbgap.core.a", "lbgap.core.b"]]
    assert cycles(g, skip={("lbgap.core.b", "lbgap.core.a")}) == []


def test_the_import_graph_has_no_cycle(graph):
    assert cycles(graph, skip=KNOWN_EDGES) == []


def test_known_exceptions_still_exist(graph):
    # an exception whose edge is gone is stale: remove it from KNOWN_EDGES
    assert [e for e in KNOWN_EDGES if e[1] not in graph.get(e[0], ())] == []


def test_only_the_command_line_imports_the_command_line(graph):
    bad = sorted((m, t) for m, ts in graph.items() for t in ts
                 if in_group(t, "lbgap.cli") and not in_group(m, "lbgap.cli"))
    assert bad == [], "library modules must not import lbgap.cli"


def test_only_the_book_and_the_command_line_import_the_book(graph):
    bad = sorted((m, t) for m, ts in graph.items() for t in ts if in_group(t, "lbgap.book")
                 and not (in_group(m, "lbgap.book") or in_group(m, "lbgap.cli")))
    assert bad == [], "only lbgap.book and lbgap.cli may import lbgap.book"


def test_the_library_knows_nothing_of_argparse():
    users = sorted(n for n, p in module_names().items() if not in_group(n, "lbgap.cli")
                   and any(isinstance(node, (ast.Import, ast.ImportFrom))
                           and "argparse" in ([a.name for a in node.names] if isinstance(node, ast.Import)
                                              else [node.module or ""])
                           for node in ast.walk(ast.parse(p.read_text()))))
    assert users == []
