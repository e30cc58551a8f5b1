"""The checks a ``.keras`` file must pass before Keras (and so TensorFlow) is imported to open it.

A missing, truncated or foreign file is refused in milliseconds with :class:`ModelLoadError`,
instead of after the seconds a TensorFlow import takes; :func:`musegen.models.load_model`
then opens what passed, with ``safe_mode=True``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from musegen.errors import ModelLoadError

__all__ = ["check_model_file"]


def check_model_file(path: str | Path) -> Path:
    """``path`` as a Path when it is a file in the zip format of ``.keras`` archives; else ModelLoadError."""
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"No model file at {p}. Train a model first, or pick a run that finished.")
    if not zipfile.is_zipfile(p):
        raise ModelLoadError(
            f"{p} is not a Keras model archive (.keras is a zip): it is truncated or another kind of file. "
            "Retrain the model or use the run's other checkpoint (model.keras / last.keras)."
        )
    return p
