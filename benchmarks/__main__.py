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


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
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
