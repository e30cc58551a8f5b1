"""What a run records, as typed contracts: its training history and its held-out metrics.

A run folder keeps them as ``history.json`` and ``metrics.json`` (:mod:`musegen.runs`); every
reader and writer goes through these dataclasses instead of string-keyed dicts, and their
``to_dict`` gives exactly the JSON the files have always held, so old run folders still load
(missing fields take their defaults, unknown ones are ignored).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from musegen.config import model_label

T = TypeVar("T")


def _build(cls: type[T], d: Any) -> T:
    """``cls`` from the fields of ``d`` it knows (a damaged file gives a TypeError or ValueError).

    Each value must have its field's type (a number where a number belongs, lists where lists do),
    so that a damaged file is refused here, with the field named, not where a page formats it.
    """
    if not isinstance(d, dict):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(d).__name__}")
    kinds = _kinds(cls)
    kwargs = {}
    for key, value in d.items():
        allowed = kinds.get(key)
        if allowed is None:
            continue  # a field this version does not know
        if int in allowed and float not in allowed and type(value) is float and value.is_integer():
            value = int(value)  # counts written by numpy as floats (19631.0)
        if type(value) not in allowed:
            raise TypeError(f"{cls.__name__}.{key} is {str(value)[:40]!r}, not {_ANNOTATIONS[cls][key]}")
        kwargs[key] = value
    return cls(**kwargs)


_KINDS: dict[type, dict[str, frozenset[type]]] = {}
_ANNOTATIONS: dict[type, dict[str, str]] = {}
_JSON_TYPES = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,), "None": (type(None),)}


def _kinds(cls: type) -> dict[str, frozenset[type]]:
    """Field name -> the JSON value types its annotation allows (``from __future__ import annotations``
    keeps annotations as text: ``int``, ``float``, ``str``, ``bool``, ``list[...]``, a record, ``| None``)."""
    if cls not in _KINDS:
        _ANNOTATIONS[cls] = {f.name: str(f.type) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kinds = {}
        for name, annotation in _ANNOTATIONS[cls].items():
            allowed: set[type] = set()
            for option in (a.strip() for a in annotation.split("|")):
                if option in _JSON_TYPES:
                    allowed.update(_JSON_TYPES[option])
                elif option.startswith("list["):
                    allowed.add(list)
                elif option[:1].isupper():  # a nested record, built by its own from_dict
                    allowed.add(dict)
            kinds[name] = frozenset(allowed)
        _KINDS[cls] = kinds
    return _KINDS[cls]


def _compact(obj: Any) -> dict[str, Any]:
    """``asdict`` without the optional fields that are None (they were never in the JSON files)."""
    out = dataclasses.asdict(obj)
    optional = {f.name for f in dataclasses.fields(obj) if f.metadata.get("optional")}
    return {k: v for k, v in out.items() if not (k in optional and v is None)}


# ------------------------------------------------------------------ history.json


@dataclass
class EpochRecord:
    """One epoch: its losses (validation ones None without validation data) and timing."""

    epoch: int  # 1-based
    loss: float | None = None
    accuracy: float | None = None  # top-1 on non-pad targets (token runs)
    val_loss: float | None = None
    val_accuracy: float | None = None
    elapsed_s: float = 0.0  # training time of the run up to the end of this epoch
    epoch_s: float = 0.0
    tokens_per_s: float = 0.0
    partial: bool = False  # stopped within the epoch (it still counts as done)


@dataclass
class BatchRecord:
    """One point of the live loss curve: the running mean of an epoch so far."""

    epoch: int
    batch: int
    loss: float | None = None
    accuracy: float | None = None
    elapsed_s: float = 0.0


@dataclass
class EvalRecord:
    """One validation within an epoch (``TrainConfig.eval_every``): where in the run it was, and its loss."""

    epoch_fraction: float  # epochs trained by then: 2.5 = halfway through the third epoch
    batches: int  # batches trained by then, in the whole run
    val_loss: float | None = None
    elapsed_s: float = 0.0


@dataclass
class History:
    """A run's training history (history.json)."""

    epochs: list[EpochRecord] = field(default_factory=list)
    batches: list[BatchRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None  # of ``monitor`` at ``best_epoch``
    monitor: str = "val_loss"  # "loss" without validation data
    global_batch: int | None = field(default=None, metadata={"optional": True})
    replicas: int | None = field(default=None, metadata={"optional": True})
    batches_per_epoch: int | None = field(default=None, metadata={"optional": True})
    # validations within epochs (eval_every != 0), and the fractional epoch of the best model among them
    evals: list[EvalRecord] | None = field(default=None, metadata={"optional": True})
    best_at: float | None = field(default=None, metadata={"optional": True})

    @property
    def epochs_done(self) -> int:
        return self.epochs[-1].epoch if self.epochs else 0

    def value(self, record: EpochRecord) -> float | None:
        """The monitored value of one epoch."""
        return getattr(record, self.monitor)

    def to_dict(self) -> dict[str, Any]:
        return _compact(self)

    @classmethod
    def from_dict(cls, d: Any) -> History:
        """A history from history.json's content ({} for a run that has not trained yet)."""
        h = _build(cls, d)
        h.epochs = [_build(EpochRecord, e) for e in h.epochs or []]
        h.batches = [_build(BatchRecord, b) for b in h.batches or []]
        if h.evals is not None:
            h.evals = [_build(EvalRecord, e) for e in h.evals]
        return h


# ------------------------------------------------------------------ metrics.json


@dataclass
class Scores:
    """Held-out scores of a model or a floor, per unit of the representation (nats)."""

    nll: float
    perplexity: float
    accuracy: float
    tokens: int  # targets scored (frames for a piano roll)
    seconds: float | None = field(default=None, metadata={"optional": True})  # scoring time (models)
    kind: str | None = field(default=None, metadata={"optional": True})  # floors: "n-gram", "per-key Markov ..."
    order: int | None = field(default=None, metadata={"optional": True})  # floors: the n-gram order
    frames: int | None = field(default=None, metadata={"optional": True})  # piano rolls: frames scored

    @classmethod
    def from_dict(cls, d: Any) -> Scores:
        return _build(cls, d)


@dataclass
class Metrics:
    """A run's held-out metrics (metrics.json): the model beside its representation's floor."""

    model: Scores
    baseline: Scores
    uniform_nll: float  # a uniform guess, per unit
    vocab_size: int  # scores per step: the vocabulary, or the 88 keys
    val_pieces: int
    val_tokens: int  # targets scored
    arch: str
    representation: str
    unit: str = "token"  # what one NLL is per: "token", or "frame" (the sum over its keys)
    checkpoint: str = "model.keras"
    best_epoch: int | None = None
    evaluated_at: float = 0.0
    beats_baseline: bool = False
    head: str = "independent"  # a piano-roll model's output head (ModelConfig.head); absent from older files

    @property
    def model_label(self) -> str:
        """The architecture, with the head when it is not the plain one: "lstm + NADE head"."""
        return model_label(self.arch, self.head)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "model": _compact(self.model), "baseline": _compact(self.baseline)}

    @classmethod
    def from_dict(cls, d: Any) -> Metrics:
        m = _build(cls, d)
        m.model, m.baseline = Scores.from_dict(m.model), Scores.from_dict(m.baseline)
        return m
