"""Every public top-level function and class of the library's packages says what it is (issue: one idea per
module, item 7): a docstring, read from the source with :mod:`ast` (nothing is imported)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lbgap"
PACKAGES = ("core", "measures", "measure", "studies")


def missing_docstrings(path: Path) -> list[str]:
    """``file:line name`` of each public top-level function or class of ``path`` without a docstring."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [f"{path.name}:{node.lineno} {node.name}" for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not node.name.startswith("_") and not ast.get_docstring(node)]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_functions_and_classes_have_docstrings(package):
    files = sorted((SRC / package).glob("*.py"))
    assert files, f"no modules under {SRC / package}"
    missing = [f"{package}/{m}" for f in files for m in missing_docstrings(f)]
    assert not missing, "public names without a docstring:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_docstring(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('def public():\n    return 1\n\n\ndef _private():\n    pass\n\n\n'
                   'class Bare:\n    x = 1\n\n\nclass Said:\n    """Said."""\n')
    assert missing_docstrings(src) == ["m.py:1 public", "m.py:9 Bare"]
