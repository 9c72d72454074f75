"""The type stubs name what the modules define: every function, class and method of
a stub exists, and every public method of a class is in its stub."""

import ast
import inspect
from pathlib import Path

import pytest

import matdiff as md
from matdiff import _native

PACKAGE = Path(md.__file__).parent


def stub_names(path):
    """Top-level functions and classes of a stub, a class with its methods."""
    names = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__")
            }
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
    return names


def methods(cls):
    """Public methods and properties defined by the class itself."""
    own = vars(cls)
    return {
        name
        for name, value in own.items()
        if not name.startswith("__")
        and (callable(value) or isinstance(value, property) or inspect.ismethoddescriptor(value))
    }


@pytest.mark.parametrize("module, stub", [(_native, "_native.pyi"), (md, "__init__.pyi")])
def test_stubs_match_the_module(module, stub):
    path = PACKAGE / stub
    assert (PACKAGE / "py.typed").exists()
    names = stub_names(path)
    for name, members in names.items():
        assert hasattr(module, name), f"{stub} names {name}, which the module lacks"
        value = getattr(module, name)
        if members is None or issubclass(value, BaseException):
            continue
        assert members <= set(dir(value)), f"{stub}: {name} lacks {sorted(members - set(dir(value)))}"
        missing = {m for m in methods(value) if not m.startswith("_") or m == "_repr_latex_"} - members
        assert not missing, f"{stub}: {name} does not declare {sorted(missing)}"
    if module is md:
        errors = {"MatdiffError", "ParseError", "ShapeError", "DomainError", "DivergenceError", "DataError"}
        assert set(md.__all__) - errors <= set(names)
