"""Held-out metrics of a trained run beside its representation's floor, on the validation pieces.

Every model and its floor are scored on exactly the same targets, in the representation's unit
(nats per token for token runs, :mod:`musegen.scoring.likelihood`; nats per frame for
piano-roll runs, the sum over the 88 keys, :mod:`musegen.scoring.floors`). The floor is an
n-gram model fitted on the training split (its order chosen on validation) for tokens, and
the per-key first-order Markov chain for frames: what the representation says.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from musegen import runs
from musegen.errors import DatasetError, ModelLoadError
from musegen.records import Metrics, Scores
from musegen.representations.registry import for_vocab


def evaluate_run(run_dir: str | Path, dataset: Any = None) -> Metrics:
    """Score the run's best model (model.keras) and the floor; write and return metrics.json.

    ``dataset`` defaults to the split stored with the run (data.npz).
    """
    info = runs.load_run(run_dir)
    assert info.config is not None
    data = dataset if dataset is not None else runs.load_dataset(info.path)
    rep = for_vocab(data.vocab)
    val = [np.asarray(s) for s in data.val if len(s) > 1]
    if not val:
        raise DatasetError(
            f"run {info.run_id} has no validation piece with a target ({rep.min_length} {rep.units} or more); "
            "train with val_fraction > 0 and at least two pieces."
        )
    model = info.load_model("best")
    width = int(model.outputs[0].shape[-1])
    if width != rep.output_width():
        raise ModelLoadError(
            f"{info.path / runs.MODEL} predicts {width} values per {rep.unit} but the run's {rep.name} "
            f"representation needs {rep.output_width()}; the model does not belong to this run. Train the run again."
        )
    arch, window = info.config.model.arch, info.config.data.window
    t0 = time.perf_counter()
    scores = Scores.from_dict(rep.score(model, val, window, arch))
    scores.seconds = round(time.perf_counter() - t0, 3)
    baseline = Scores.from_dict(rep.floor([np.asarray(s) for s in data.train], val))
    metrics = Metrics(
        model=scores,
        baseline=baseline,
        uniform_nll=rep.uniform_nll(),
        vocab_size=rep.output_width(),
        val_pieces=len(val),
        val_tokens=int(scores.tokens),
        arch=arch,
        representation=rep.name,
        unit=rep.unit,  # what one NLL is per: a token, or a frame (the sum over its keys)
        checkpoint=runs.MODEL,
        best_epoch=info.history.best_epoch,
        evaluated_at=time.time(),
        beats_baseline=bool(scores.nll < baseline.nll),
        head=info.config.model.head,
    )
    runs.write_metrics(info.path, metrics)
    return metrics
