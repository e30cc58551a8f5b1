"""A run's model files: ``model.keras`` and ``last.keras`` saved by renaming, and loaded after
:func:`musegen.modelfile.check_model_file` passed them and checked against the run's vocabulary; and
the words for a training whose write of the run folder failed (:func:`write_failure`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from musegen.errors import ConfigError, ModelLoadError, StorageError
from musegen.fileio import atomic_write, disk_full_cause
from musegen.modelfile import check_model_file
from musegen.representations.registry import for_vocab
from musegen.runs.layout import LAST, MODEL

if TYPE_CHECKING:
    import keras

    from musegen.runs.folders import RunInfo


def check_which(which: str) -> None:
    """``which`` names one of a run's two models: ``"best"`` (model.keras) or ``"last"`` (last.keras)."""
    if which not in ("best", "last"):
        raise ConfigError(f"which must be 'best' or 'last', got {which!r}.")


def load_info_model(info: RunInfo, which: str = "best") -> keras.Model:
    """Load the model ``which`` of the run ``info`` describes, with ``safe_mode=True``."""
    check_which(which)
    file = info.path / (MODEL if which == "best" else LAST)
    if not file.is_file():
        raise ModelLoadError(f"run {info.run_id} has no {file.name} yet; wait for the first epoch to finish.")
    check_model_file(file)  # a damaged file is refused before TensorFlow is imported
    from musegen.models import load_model

    model = load_model(file)
    _check_vocabulary(model, info, file)
    return model


def _check_vocabulary(model: keras.Model, info: RunInfo, file: Path) -> None:
    """A model file copied from another run predicts another vocabulary: refuse it (its tokens would be garbage)."""
    vocab = info.vocab()
    expected = for_vocab(vocab).output_width()  # the vocabulary, or the keys of a piano roll
    width = model.outputs[0].shape[-1]
    if width is not None and int(width) != expected:
        raise ModelLoadError(
            f"{file} predicts {int(width)} tokens but run {info.run_id}'s vocabulary has {expected}: the model "
            "comes from another run or dataset. Put back the run's own model, or train this run again."
        )


def atomic_save_model(model: keras.Model, path: str | Path) -> None:
    """Save a Keras model (with optimizer state) to a temporary ``.keras`` file, then rename it."""
    atomic_write(path, lambda tmp: model.save(tmp), suffix=".tmp.keras")


def write_failure(exc: StorageError, what: str, checkpoint: int, recorded: int) -> StorageError:
    """The error that ends a training whose write of ``what`` failed: what happened, where, and what the run
    keeps (``checkpoint``: the epochs in last.keras, ``recorded``: those in history.json) to resume from."""
    where = f" to {exc.path}" if exc.path else ""
    if not checkpoint:
        keeps, then = "the run has no checkpoint yet", "train it again"
    elif recorded < checkpoint:  # last.keras was written, its history not: a resume trains that epoch again
        keeps = f"the run keeps its checkpoint of epoch {checkpoint}, but its history ends at epoch {recorded}, so a "
        keeps += f"resume trains epoch {checkpoint} once more"
        then = "resume"
    else:
        keeps, then = f"the run keeps its checkpoint of epoch {checkpoint}", "resume"
    cause = disk_full_cause(exc)
    if cause:
        text = f"{cause}: {what} could not be written{where}; {keeps}. Free some space and {then}."
    else:
        what, keeps = what[0].upper() + what[1:], keeps[0].upper() + keeps[1:]
        text = f"{what} could not be written. {exc} {keeps}; fix that, then {then}."
    error = StorageError(text)
    error.errno, error.path = exc.errno, exc.path
    return error
