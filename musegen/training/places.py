"""Where the app keeps its runs and its bundled models (each can be moved by an environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

from musegen.paths import ASSETS, PROJECT_ROOT

RUNS_ENV, DEMO_ENV = "MUSEGEN_RUNS_DIR", "MUSEGEN_DEMO_DIR"


def runs_dir() -> Path:
    """The app's runs folder (``MUSEGEN_RUNS_DIR``, default ``runs/`` of the checkout)."""
    return Path(os.environ.get(RUNS_ENV) or PROJECT_ROOT / "runs")


def demo_dir() -> Path:
    """The bundled demo models (``MUSEGEN_DEMO_DIR``, default ``assets/models/``)."""
    return Path(os.environ.get(DEMO_ENV) or ASSETS / "models")
