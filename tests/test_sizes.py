"""Files a newcomer can hold in their head: no library or benchmark file over 450 lines, no page (nor the home
page, nor a page's helper module) over 150 lines, and no function over 80 lines anywhere in the code a person
reads (the library, the CLI, the pages, the home page and the benchmarks)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 450
MAX_PAGE_LINES = 150
MAX_FUNCTION_LINES = 80


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _long_functions(path: Path) -> list[str]:
    """``name (N lines)`` of every function or method of ``path`` over the limit."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_no_file_is_over_450_lines() -> None:
    files = _sources("musegen", "benchmarks")
    assert len(files) > 100
    long = [f"{p.relative_to(ROOT)} ({n} lines)" for p in files if (n := _lines(p)) > MAX_FILE_LINES]
    assert not long, "split these files along their jobs: " + ", ".join(long)


def test_pages_are_150_lines_or_fewer() -> None:
    pages = [*_sources("pages"), ROOT / "streamlit_app.py"]
    assert len(pages) >= 6
    long = [f"{p.relative_to(ROOT)} ({n} lines)" for p in pages if (n := _lines(p)) > MAX_PAGE_LINES]
    assert not long, "a page displays: move its rules into musegen, its helpers into a module of pages/: " + (
        ", ".join(long)
    )


def test_no_function_is_over_80_lines() -> None:
    files = [*_sources("musegen", "benchmarks", "pages"), ROOT / "streamlit_app.py"]
    long = [f"{path.relative_to(ROOT)}: {entry}" for path in files for entry in _long_functions(path)]
    assert not long, "split these functions into named steps: " + ", ".join(long)


def test_the_checks_see_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\ndef g():\n    return 1\n")
    assert _long_functions(tmp_path / "m.py") == [f"f ({MAX_FUNCTION_LINES + 1} lines)"]
