"""Where musegen keeps what it can compute again: parsed files, the converted corpus.

``$MUSEGEN_CACHE_DIR``, or ``.cache/`` at the project root. Everything in it may be deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from musegen.paths import PROJECT_ROOT


def cache_dir() -> Path:
    """``$MUSEGEN_CACHE_DIR`` or ``.cache/`` at the project root."""
    env = os.environ.get("MUSEGEN_CACHE_DIR")
    return Path(env) if env else PROJECT_ROOT / ".cache"
