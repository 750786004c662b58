"""The shape of the code, checked: module and function sizes, and which modules may import which library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "bnpl_assistant"
MAX_FILE_LINES = 400
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60
# library -> the only package (relative to src/bnpl_assistant) allowed to import it
ADAPTERS = {
    "sqlite3": "storage",
    "sqlalchemy": "storage",
    "alembic": "storage",
    "uvicorn": "ui",
    "fastapi": "ui",
    "openai": "providers",
    "langchain_openai": "providers",
    "chromadb": "store.py",
    "gradio": "ui",
    "bs4": "packs/html_text.py",
}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_modules_to_check() -> None:
    assert len(_modules()) > 40


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_sizes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name} has over {MAX_FILE_LINES} lines: split it"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"class {node.name} in {path.name}: {size} lines"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= MAX_FUNCTION_LINES, f"function {node.name} in {path.name}: {size} lines"


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_each_external_system_has_one_adapter(library: str) -> None:
    allowed = SRC / ADAPTERS[library]
    importers = [p.relative_to(SRC) for p in _modules() if library in _imported(ast.parse(p.read_text("utf-8")))]
    outside = [str(p) for p in importers if not (SRC / p).is_relative_to(allowed)]
    assert importers, f"nothing imports {library}: update ADAPTERS"
    assert not outside, f"{library} imported outside {ADAPTERS[library]}: {outside}"
