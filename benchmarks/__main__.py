"""``python -m benchmarks [NAME ...]``: run the benchmarks and print their tables."""

from __future__ import annotations

import importlib
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    from musegen.experiments.jsb import machine as cores_and_cpu

    return f"{cores_and_cpu()}, Python {platform.python_version()}"


def _all() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _explicit_only(name: str) -> bool:
    """Whether a benchmark runs only when named (``EXPLICIT_ONLY``: the test suite's, which runs the suite)."""
    return "EXPLICIT_ONLY = True" in (HERE / f"bench_{name}.py").read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    names = argv or [name for name in _all() if not _explicit_only(name)]
    print(f"# musegen benchmarks — {time.strftime('%Y-%m-%d')} — {machine()}\n")
    failed = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"## {name}\n")
        try:
            module.main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"FAILED: {type(exc).__name__}: {exc}")
        print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
