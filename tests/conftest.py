"""Shared test set-up: quiet TensorFlow, a private cache folder, tiny MIDI builders, real chorales."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One TensorFlow thread pool of 2 threads in a serial run; under pytest-xdist each worker gets 1, so that two workers
# on two cores do not fight over four threads (the suite runs `pytest -n 2`: Makefile).
os.environ.setdefault("MUSEGEN_TF_THREADS", "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2")
os.environ.setdefault("MUSEGEN_CACHE_DIR", tempfile.mkdtemp(prefix="musegen-test-cache-"))

import pytest

from musegen.notes import Piece


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (and pytest orders by fixture)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order and the xdist groups of ``make test`` (``pytest -n 2 --dist loadgroup``).

    Tests marked ``isolated`` (a server and a browser, several training processes) share one group, so that two of
    them never run at once. Every other module is a group of its own, so that a module's shared models
    (module-scoped fixtures) are trained once, not once per worker. Groups start longest first: the isolated ones,
    then modules with slow tests, so that no long test makes the run's tail."""
    slow_modules = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}

    def group(item: pytest.Item) -> str:
        return "isolated" if item.get_closest_marker("isolated") else item.nodeid.split("::")[0]

    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
    rank = {"isolated": 0}
    items.sort(key=lambda item: rank.get(group(item), 1 if group(item) in slow_modules else 2))


@pytest.fixture(scope="session")
def chorales() -> list[Piece]:
    """The first 12 Bach chorales of the built-in corpus (real music)."""
    from musegen.sources.corpus import load_builtin_corpus

    return load_builtin_corpus(limit=12)


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    """A fresh, empty ingest cache for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MUSEGEN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture()
def folders(tmp_path, monkeypatch) -> Path:
    """The app's runs and demo-model folders, empty, in this test's own temporary folder."""
    monkeypatch.setenv("MUSEGEN_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MUSEGEN_DEMO_DIR", str(tmp_path / "demo"))
    return tmp_path
