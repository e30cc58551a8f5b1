"""Where a model is surprised: the NLL of every element of one piece under a run's model, per note.

:func:`surprise` scores a sequence teacher-forced, exactly as the held-out scoring does (so its
mean is the same number, in the same unit, as a run's metrics.json ``nll``), but keeps the NLL of
every element instead of the sum:

- token runs (WaveNet, LSTM, Transformer reading ids): the sliding windows of
  :mod:`musegen.scoring.likelihood` (``window`` tokens; every later window scores its last
  half, with the first half as context), so a piece of any length is scored with bounded memory;
  one NLL per token after ``<bos>``;
- the tutorial's classic models: each token from the ``window`` tokens before it, as
  :func:`~musegen.scoring.likelihood.score_classic` does;
- piano-roll runs (independent or NADE head): the binary cross-entropy of every key of every
  predicted frame (the NADE head's conditionals, teacher-forced as in
  :func:`musegen.scoring.floors.frame_nll`); a frame's NLL is the sum over its 88 keys. The
  held-out scoring reads whole pieces; here a piece of more than ``frame_window`` predicted frames
  (4,096 by default: memory stays bounded) is cut into scoring windows whose first half is context
  only (:func:`musegen.streams.windows.scoring_windows`). That is the whole-piece score for a
  WaveNet or Transformer that reads no further back than the context; an LSTM then sees at least
  half a window of a long piece.

The element NLLs become a surprise per note through
:meth:`musegen.representations.base.Representation.element_notes`: a note's surprise is the sum of
the NLL of the elements that make it, in nats (the nats the model paid for that note). Timed
tokens: its ``Pitch`` and ``Duration`` tokens, and for the first (lowest) note of an onset the
``TimeShift`` tokens that lead there; classic tokens: the note's event, shared by every note of a
chord; piano rolls: the per-key NLL of the cells of its run of frames (a frame's silent keys, and
the first frame, which is never predicted, belong to no note). Notes with nothing scored have NaN.

Nothing here imports TensorFlow: the model is called through
:func:`musegen.scoring.floors.model_forward`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musegen.config import ModelConfig
from musegen.errors import ConfigError, DatasetError
from musegen.notes import END, PITCH, START, Piece, pitch_name
from musegen.representations.base import Representation
from musegen.scoring.floors import (
    NADE_SCORE_BATCH_FRAMES,
    SCORE_BATCH_FRAMES,
    model_forward,
    reads_targets,
)
from musegen.scoring.likelihood import classic_examples, scored_batches
from musegen.streams.windows import scoring_windows

if TYPE_CHECKING:
    from musegen.generation.compose import Composer

__all__ = ["FRAME_WINDOW", "TOP", "Surprise", "surprise", "surprise_of_run"]

FRAME_WINDOW = 4096  # predicted frames per scoring window of a piano-roll piece (longer pieces are cut)
TOP = 10  # the most surprising notes a summary lists
DIGITS = 4  # decimals of the floats in to_dict()


@dataclass
class Surprise:
    """The NLL of one piece under one model: per element, per note, and the mean beside the held-out mean."""

    piece: Piece  # the piece as the model reads it (decoded from the ids: quantized, moved to fit)
    note_nll: np.ndarray  # (N,) nats per note of piece.notes, in that order (NaN: nothing of it was scored)
    element_nll: np.ndarray  # (T,) nats per element (a token; a frame: the sum over its keys); NaN where not a target
    cell_nll: np.ndarray  # nats per value of the ids (ids.shape: per token; per frame and key), NaN where not scored
    mean_nll: float  # mean of element_nll over the targets, per unit: what metrics.json's "nll" means
    unit: str  # "token" or "frame"
    heldout_nll: float | None = None  # the run's held-out mean (metrics.json), when it has one in this unit
    label: str = ""  # what was scored, for people ("held-out: chorale 3", "uploaded: x.mid (moved ...)")
    run_id: str = ""

    @property
    def targets(self) -> int:
        """Elements scored (every element but the first)."""
        return int(np.sum(~np.isnan(self.element_nll)))

    @property
    def total_nll(self) -> float:
        """Nats of the whole piece (the sum over its targets)."""
        return float(np.nansum(self.element_nll))

    @property
    def delta(self) -> float | None:
        """How much more surprised the model is than on its held-out pieces (nats per unit), when known."""
        return None if self.heldout_nll is None else self.mean_nll - self.heldout_nll

    def top(self, n: int = TOP) -> list[int]:
        """Indices of the ``n`` most surprising notes, the most surprising first (unscored notes never)."""
        scored = np.flatnonzero(~np.isnan(self.note_nll))
        order = scored[np.argsort(-self.note_nll[scored], kind="stable")]
        return [int(i) for i in order[: max(0, n)]]

    def note_rows(self, indices: list[int] | None = None) -> list[dict[str, Any]]:
        """One dict per note (all, or ``indices``): index, start and end in beats, pitch, nll (None: unscored)."""
        notes = self.piece.notes
        chosen = range(len(notes)) if indices is None else indices
        return [
            {
                "index": int(i),
                "start": round(float(notes[i, START]), DIGITS),
                "end": round(float(notes[i, END]), DIGITS),
                "pitch": int(notes[i, PITCH]),
                "note": pitch_name(int(notes[i, PITCH])),
                "nll": _round(self.note_nll[i]),
            }
            for i in chosen
        ]

    def to_dict(self, top: int = TOP) -> dict[str, Any]:
        """Plain values for JSON: the means, the unit, every note's row and the ``top`` most surprising ones."""
        return {
            "run_id": self.run_id,
            "piece": self.label or self.piece.name,
            "unit": self.unit,
            "mean_nll": _round(self.mean_nll),
            "heldout_nll": _round(self.heldout_nll),
            "delta_nll": _round(self.delta),
            "targets": self.targets,
            "total_nll": _round(self.total_nll),
            "n_notes": self.piece.n_notes,
            "note_nll_is": "sum of the NLL of the elements that make the note, nats",
            "notes": self.note_rows(),
            "top": self.note_rows(self.top(top)),
        }


def surprise(
    model: Any,
    rep: Representation,
    ids: np.ndarray,
    window: int,
    arch: str,
    *,
    heldout_nll: float | None = None,
    frame_window: int = FRAME_WINDOW,
    context: int | None = None,
    name: str = "piece",
    label: str = "",
    run_id: str = "",
) -> Surprise:
    """The per-element and per-note NLL of ``ids`` (as stored or ``rep.encode`` gives) under ``model``.

    ``window`` and ``arch`` are the run's (``config.data.window``, ``config.model.arch``), as
    :meth:`Representation.score` takes them: the mean is that of the held-out scoring of ``[ids]``.
    Frames (ids of shape (T, K)) are scored in windows of ``frame_window`` predicted frames with
    ``context`` (default half of it) frames of context; see the module doc.
    """
    ids = np.asarray(ids)
    if len(ids) < 2:
        raise DatasetError(
            f"{label or name}: fewer than two {rep.units}, so nothing for the model to predict; pick a longer piece."
        )
    if ids.ndim == 2:  # frames (T, K): one NLL per key of every predicted frame
        cells = _frame_cells(model, ids, frame_window, frame_window // 2 if context is None else context)
        element = cells.sum(-1)
    elif ModelConfig(arch=arch).is_classic:
        cells = element = _classic_nll(model, ids, window, rep.output_width())
    else:
        cells = element = _token_nll(model, ids, window)
    piece = rep.decode(ids, name)
    pairs = np.asarray(rep.element_notes(ids), np.int64).reshape(-1, 2)
    return Surprise(
        piece=piece,
        note_nll=_per_note(cells.reshape(-1), pairs, piece.n_notes),
        element_nll=element,
        cell_nll=cells,
        mean_nll=float(np.nanmean(element)),
        unit=rep.unit,
        heldout_nll=heldout_nll,
        label=label,
        run_id=run_id,
    )


def surprise_of_run(
    run: str | Path | Composer,
    what: int | bytes | Piece | np.ndarray,
    *,
    name: str = "uploaded.mid",
    frame_window: int = FRAME_WINDOW,
) -> Surprise:
    """:func:`surprise` under a run's best model (a run folder, or its Composer) of ``what``:

    - an int: piece ``what`` of :meth:`Composer.pieces` (held-out pieces first);
    - bytes: a MIDI file called ``name``, read with the run's data settings as
      :meth:`Composer.seed_from_midi` reads a seed (moved by whole octaves to where the model knows
      the most of it; the label says so);
    - a Piece (encoded as it is), or ids / frames as the run stores them.

    The held-out mean comes from the run's metrics.json when it is in the same unit (else None).
    """
    from musegen.generation.compose import Composer

    composer = run if isinstance(run, Composer) else Composer(run)
    rep = composer.rep
    if isinstance(what, bool):
        raise ConfigError("pass a piece index, MIDI bytes, a Piece or ids to score, not a boolean.")
    if isinstance(what, int | np.integer):
        pieces = composer.pieces()
        if not pieces:
            raise DatasetError(f"run {composer.run.run_id} stores no pieces; score a MIDI file instead.")
        if not 0 <= int(what) < len(pieces):
            raise ConfigError(f"piece index must be 0..{len(pieces) - 1}, got {int(what)}.")
        label, ids = pieces[int(what)]
    elif isinstance(what, bytes | bytearray):
        seed = composer.seed_from_midi(bytes(what), name, length=sys.maxsize)
        label, ids = seed.label.rpartition(",")[0] or seed.label, seed.ids
    elif isinstance(what, Piece):
        label, ids = what.name, rep.encode(what)
    else:
        label, ids = "the given sequence", rep.check_seed(np.asarray(what))
    metrics = composer.run.metrics
    heldout = float(metrics.model.nll) if metrics is not None and metrics.unit == rep.unit else None
    return surprise(
        composer.model,
        rep,
        ids,
        composer.config.data.window,
        composer.config.model.arch,
        heldout_nll=heldout,
        frame_window=frame_window,
        name=label,
        label=label,
        run_id=composer.run.run_id,
    )


# --------------------------------------------------------------------------- per element


def _token_nll(model: Any, ids: np.ndarray, window: int) -> np.ndarray:
    """(T,) NLL of every token after the first, in the held-out scoring's sliding windows; NaN at 0.

    Each target has weight 1 in exactly one window, and the windows score their targets in order,
    so the scored positions of the windows, one after the other, are targets 1..T-1."""
    seq = ids.astype(np.int32).reshape(-1)
    scored: list[np.ndarray] = []
    for logp, y, weight in scored_batches(model, [seq], window):
        picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        scored += [-picked[b][weight[b] > 0] for b in range(len(y))]
    out = np.full(len(seq), np.nan)
    out[1:] = np.concatenate(scored)
    return out


def _classic_nll(model: Any, ids: np.ndarray, window: int, vocab_size: int) -> np.ndarray:
    """(T,) NLL of every token after the first under a tutorial model (each from the ``window`` before it)."""
    seq = ids.astype(np.int32).reshape(-1)
    forward = model_forward(model)
    scored = []
    for x, y in classic_examples([seq], window, vocab_size):
        probs = np.asarray(forward(x), dtype=np.float64)
        scored.append(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)))
    out = np.full(len(seq), np.nan)
    out[1:] = np.concatenate(scored)
    return out


def _frame_cells(model: Any, frames: np.ndarray, window: int, context: int) -> np.ndarray:
    """(T, K) NLL of every key of frames 1..T-1 (row 0, never predicted, is NaN), in scoring windows."""
    seq = np.asarray(frames, np.float32)
    keys = seq.shape[1]
    window = max(1, int(window))
    context = min(max(0, int(context)), window - 1)
    nade = reads_targets(model, keys)  # the NADE head reads the target frame beside the context frame
    per_batch = max(1, (NADE_SCORE_BATCH_FRAMES if nade else SCORE_BATCH_FRAMES) // window)
    segments = scoring_windows(len(seq) - 1, window, context)
    forward = model_forward(model)
    out = np.full(seq.shape, np.nan)
    for i in range(0, len(segments), per_batch):
        batch = segments[i : i + per_batch]
        width = max(length for _, length, _ in batch)
        x = np.zeros((len(batch), width, keys), np.float32)
        y = np.zeros_like(x)
        for b, (start, length, _) in enumerate(batch):
            x[b, :length], y[b, :length] = seq[start : start + length], seq[start + 1 : start + length + 1]
        logits = np.asarray(forward(np.concatenate([x, y], -1) if nade else x), dtype=np.float64)
        cells = np.logaddexp(0.0, logits) - y * logits  # binary cross-entropy per key, stable for any logit
        for b, (start, length, skip) in enumerate(batch):
            out[start + 1 + skip : start + 1 + length] = cells[b, skip:length]
    return out


def _per_note(flat: np.ndarray, pairs: np.ndarray, n_notes: int) -> np.ndarray:
    """The sum of the scored values of each note's elements; NaN for a note with none scored."""
    if not len(pairs):
        return np.full(n_notes, np.nan)
    values = flat[pairs[:, 0]]
    scored = ~np.isnan(values)
    notes = pairs[scored, 1]
    total = np.bincount(notes, weights=values[scored], minlength=n_notes)[:n_notes]
    count = np.bincount(notes, minlength=n_notes)[:n_notes]
    return np.where(count > 0, total, np.nan)


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, DIGITS) if math.isfinite(value) else None
