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
from tests import ordering


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true", help="write each group's time to tests/durations.json")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record-durations") and not os.environ.get("PYTEST_XDIST_WORKER"):
        config.pluginmanager.register(ordering.Recorder(), "musegen-durations")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (and pytest orders by fixture)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The xdist groups of ``make test``, longest first (tests/ordering.py)."""
    ordering.order(items)


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
