"""Train a model into a run folder: progress events, stop, resume, checkpoints, history.

``train`` is UI-agnostic: a page, a background thread or the CLI passes ``on_progress`` (a
callable receiving :class:`ProgressEvent`) and, to stop, a ``threading.Event`` or
``runs.request_stop(run_dir)`` from any process. Training stops within one batch, keeps the best
model, and can be resumed from ``last.keras`` with the epoch count continuing.

Choices worth knowing:

- ``epochs`` is the total epoch count of the run; resuming a run that already has ``epochs``
  epochs is an error (raise ``epochs`` to continue). ``epochs=0`` is a ``ConfigError``.
- ``batch_size`` is per replica (see :mod:`musegen.training.distribute`); a global batch larger than the
  training windows is clipped to their number, and a ``status`` event says so.
- ``max_minutes`` limits the wall time of one call of ``train`` (it ends as ``finished``).
- ``lr_patience`` halves the learning rate when the monitored loss stalls (Keras' ``ReduceLROnPlateau``).
- ``eval_every`` validates within epochs and ``lr_schedule="budget"`` decays the rate to ``max_minutes``
  (:mod:`musegen.training.subepoch`); under ``distribute`` validation stays at epoch ends.
- A stopped epoch counts as done (marked ``"partial"`` in history.json) and is validated.
- Without validation windows the best model is chosen by training loss (said in a status event).
- With ``distribute`` set, the epochs run in :func:`musegen.training.steps.fit_distributed` (Keras' ``fit``
  cannot drive a multi-worker strategy); only the chief writes the run folder, the other workers never
  create it, and a dead worker ends the run on the others with a TrainingError (docs/cluster.md).
- TensorFlow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musegen import runs
from musegen.config import RunConfig
from musegen.errors import ConfigError, MusegenError, StorageError, TrainingError
from musegen.evaluation.heldout import evaluate_run
from musegen.modelfile import MAX_PARAMETERS
from musegen.records import History, Metrics
from musegen.representations.base import Representation
from musegen.representations.registry import check, for_vocab
from musegen.tf_setup import configure_tensorflow
from musegen.training.distribute import is_chief, is_chief_task, make_strategy
from musegen.training.finetune import start_from_base
from musegen.training.schedule import frames_of
from musegen.training.steps import fit_distributed, is_peer_error, peer_error

log = logging.getLogger(__name__)

END_MESSAGES = {
    "stop": "stopped on request",
    "time": "time budget of {minutes:g} min reached",
    "early": "early stopping: {monitor} did not improve for {patience} {unit}",
    "": "all epochs done",
}


DISTRIBUTED_NOTE = "under tf.distribute validation stays at epoch ends (and across workers the rate constant)"


@dataclass
class ProgressEvent:
    """One progress report. ``kind`` is "batch", "epoch" or "status"; numbers are None when unknown."""

    kind: str
    epoch: int = 0  # 1-based epoch this event belongs to
    epochs: int = 0  # total epochs of the run
    batch: int = 0  # 1-based batch within the epoch
    batches: int = 0  # batches per epoch
    loss: float | None = None  # running mean of the epoch so far (batch) or the epoch's (epoch)
    val_loss: float | None = None
    accuracy: float | None = None  # top-1 accuracy on non-pad targets
    val_accuracy: float | None = None
    elapsed_s: float = 0.0  # training time of the run, earlier sessions included
    eta_s: float | None = None  # estimated seconds left in this session
    tokens_per_s: float | None = None  # input tokens (batch x window) per second in this session
    status: str = ""  # for kind "status": the run's state
    message: str = ""


@dataclass
class TrainResult:
    """How a call of :func:`train` ended."""

    run_dir: Path
    status: str  # "finished" or "stopped"
    message: str
    epochs_done: int
    best_epoch: int | None
    best_value: float | None  # of ``monitor``
    monitor: str  # "val_loss", or "loss" without validation data
    history: History = field(default_factory=History)
    metrics: Metrics | None = None  # metrics.json, when evaluation ran


@dataclass
class _Data:
    train: Any  # tf.data.Dataset
    val: Any | None
    samples: int
    global_batch: int
    tokens_per_sample: int
    batches: int = 0  # per epoch, when not ceil(samples / global_batch) (length-bucketed frames)
    val_frames: int = 0  # frames (tokens) of the validation pieces, for validating within epochs


def train(
    config: RunConfig,
    dataset: Any,
    run_dir: str | Path,
    *,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stop_event: threading.Event | None = None,
    resume: bool = False,
    evaluate: bool = True,
) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (a SequenceDataset or ``runs.StoredDataset``) into ``run_dir``.

    ``run_dir`` is usually made by :func:`musegen.runs.create_run`; a missing folder is created.
    With ``resume`` the run continues from ``last.keras`` (the stored vocabulary must match).
    With ``evaluate`` the chief scores the best model on the validation pieces (metrics.json).
    Raises ConfigError/TrainingError for bad inputs; any failure marks the run ``failed``.
    """
    check(config)  # the settings, and that the model reads the representation
    rep = for_vocab(dataset.vocab)
    if config.train.epochs < 1:
        raise ConfigError("epochs must be at least 1 to train (epochs is the run's total epoch count).")
    run = _open_run(config, Path(run_dir), on_progress)
    try:
        strategy = _start_tensorflow(config)
        run.chief = run.chief and is_chief(strategy)
        history, data = _prepare(run, dataset, rep, strategy, resume)
        model = _build_model(run, rep, strategy, resume)
        callback = _make_callback(run, history, data, stop_event)
        _fit(run, model, strategy, data, history, callback)
        state, message = _ended(run, history, callback)
    except KeyboardInterrupt:
        if run.chief:
            runs.write_status(run.run_dir, "stopped", "interrupted (Ctrl-C); resume to continue")
        raise
    except Exception as exc:
        error = _record_failure(run, exc)
        if error is exc:
            raise
        raise error from None
    metrics, message = _finish(run, dataset, state, message, evaluate)
    run.emit("status", epoch=history.epochs_done, status=state, message=message)
    return TrainResult(
        run_dir=run.run_dir,
        status=state,
        message=message,
        epochs_done=history.epochs_done or run.done,
        best_epoch=history.best_epoch,
        best_value=history.best_value,
        monitor=history.monitor,
        history=history,
        metrics=metrics,
    )


@dataclass
class _Run:
    """What the steps of one :func:`train` share: the settings, the run folder, whether this process
    writes it (the chief), the epochs done before this call, the batches per epoch, the progress sink."""

    config: RunConfig
    run_dir: Path
    chief: bool
    on_progress: Callable[[ProgressEvent], None] | None
    done: int = 0
    batches: int = 0

    def emit(self, kind: str, **values: Any) -> None:
        if self.on_progress is not None:
            values.setdefault("epochs", self.config.train.epochs)
            values.setdefault("batches", self.batches)
            self.on_progress(ProgressEvent(kind=kind, **values))


def _open_run(config: RunConfig, run_dir: Path, on_progress: Callable[[ProgressEvent], None] | None) -> _Run:
    """The run of this call; the chief (from TF_CONFIG: the others never touch the run folder) creates its folder."""
    chief = is_chief_task(config.train.distribute)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
    return _Run(config, run_dir, chief, on_progress)


def _start_tensorflow(config: RunConfig) -> Any:
    """TensorFlow set up (quiet, thread-limited) and Keras loaded, then the run's tf.distribute strategy."""
    configure_tensorflow()
    import keras  # noqa: F401  (loaded before the strategy is made, as train always did)

    return make_strategy(config.train.distribute)


def _prepare(run: _Run, dataset: Any, rep: Representation, strategy: Any, resume: bool) -> tuple[History, _Data]:
    """The history to extend (the run folder written or checked), the seed, and the input pipelines."""
    import keras

    config, run_dir = run.config, run.run_dir
    history = _start_history(config, dataset, run_dir, resume, run.chief)
    run.done = history.epochs_done
    if run.chief:
        runs.clear_stop(run_dir)
        runs.write_status(run_dir, "running", "preparing data")
    keras.utils.set_random_seed(config.train.seed + run.done)
    data = _make_data(config, dataset, rep, strategy.num_replicas_in_sync)
    run.batches = data.batches or math.ceil(data.samples / data.global_batch)
    history.global_batch, history.replicas = data.global_batch, strategy.num_replicas_in_sync
    history.batches_per_epoch = run.batches
    if data.global_batch < config.train.batch_size * strategy.num_replicas_in_sync:
        run.emit("status", status="running", message=f"batch size clipped to the {data.samples} training windows")
    if data.val is None:
        history.monitor = "loss"
        run.emit("status", status="running", message="no validation windows: the best model is chosen by training loss")
    return history, data


def _build_model(run: _Run, rep: Representation, strategy: Any, resume: bool) -> Any:
    """The model, new or from ``last.keras``, under the strategy; refused when no model file could hold it."""
    with strategy.scope():
        model = _load_last(run.run_dir, run.config) if resume else rep.build_model(run.config)
        if run.config.base and not resume:  # fine-tuning: the base's weights before the first step
            start_from_base(model, run.config.base)
    if model.count_params() > MAX_PARAMETERS:  # it could be trained, but never loaded again
        raise ConfigError(
            f"this model has {model.count_params():,} parameters, more than the {MAX_PARAMETERS:,} a musegen "
            "model file may hold; make it smaller (fewer layers, units or channels)."
        )
    return model


def _make_callback(run: _Run, history: History, data: _Data, stop_event: threading.Event | None) -> Any:
    """The RunCallback that records, checkpoints and stops; the run marked running; a stop asked already kept."""
    from musegen.training.callbacks import RunCallback
    from musegen.training.subepoch import make_subepoch

    config, run_dir, done, epochs = run.config, run.run_dir, run.done, run.config.train.epochs
    callback = RunCallback(
        run_dir,
        history,
        epochs=epochs,
        batches=run.batches,
        samples=data.samples,
        global_batch=data.global_batch,
        tokens_per_sample=data.tokens_per_sample,
        patience=config.train.patience,
        max_minutes=config.train.max_minutes,
        chief=run.chief,
        emit=run.emit,
        stop_event=stop_event,
        subepoch=make_subepoch(config, data.val, data.val_frames),
    )
    if (config.train.eval_every or config.train.lr_schedule == "budget") and config.train.distribute:
        run.emit("status", status="running", message=DISTRIBUTED_NOTE)
    if run.chief:
        runs.write_status(run_dir, "running", f"epoch {done + 1}/{epochs}")
    run.emit("status", epoch=done + 1, status="running", message=f"training epochs {done + 1}-{epochs}")
    if (stop_event is not None and stop_event.is_set()) or (run.chief and runs.stop_requested(run_dir)):
        callback.reason = "stop"  # asked before the first batch: do not start (the workers agree first)
    return callback


def _fit(run: _Run, model: Any, strategy: Any, data: _Data, history: History, callback: Any) -> None:
    """The epochs: Keras' fit, or with ``distribute`` our own loop (fit cannot drive a multi-worker strategy)."""
    import keras

    from musegen.training.subepoch import rate_callbacks

    config = run.config
    callbacks = [callback, *_lr_schedule(config, history.monitor, keras), *rate_callbacks(config)]
    if config.train.distribute:
        fit_distributed(
            model,
            strategy,
            data.train,
            data.val,
            epochs=config.train.epochs,
            initial_epoch=run.done,
            steps=run.batches,
            callbacks=callbacks,
            run_callback=callback,
        )
    elif callback.reason != "stop":
        model.fit(
            data.train,
            validation_data=None if callback.subepoch is not None else data.val,  # it validates itself
            epochs=config.train.epochs,
            initial_epoch=run.done,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,
        )


def _ended(run: _Run, history: History, callback: Any) -> tuple[str, str]:
    """(state, message) of the training that ended; the chief clears the stop flag and writes the history."""
    train_cfg = run.config.train
    state = "stopped" if callback.reason == "stop" else "finished"
    message = END_MESSAGES[callback.reason].format(
        minutes=train_cfg.max_minutes,
        monitor=history.monitor,
        patience=train_cfg.patience,
        unit="validations" if callback.subepoch is not None else "epochs",
    )
    if run.chief:
        runs.clear_stop(run.run_dir)
        runs.write_history(run.run_dir, history)
    return state, message


def _record_failure(run: _Run, exc: Exception) -> Exception:
    """Mark the run failed with a reason; return the error to raise (a dead worker's, in words, or ``exc``)."""
    if isinstance(exc, MusegenError):
        _fail(run.run_dir, run.chief, str(exc), run.emit)
        return exc
    if run.config.train.distribute == "multiworker" and is_peer_error(exc):  # a worker died outside the loop
        error = peer_error(exc)
        _fail(run.run_dir, run.chief, str(error), run.emit)
        return error
    _fail(run.run_dir, run.chief, f"{type(exc).__name__}: {exc}", run.emit)
    return exc


def _finish(run: _Run, dataset: Any, state: str, message: str, evaluate: bool) -> tuple[Metrics | None, str]:
    """The chief scores the best model (with ``evaluate``) and records the final state; (metrics, message)."""
    metrics = None
    if run.chief and evaluate and (run.run_dir / runs.MODEL).is_file():
        runs.write_status(run.run_dir, "running", f"{message}; evaluating on the validation pieces")
        metrics, eval_note = _evaluate(run.run_dir, dataset, state, message)
        message += eval_note
    if run.chief:
        runs.write_status(run.run_dir, state, message)
    return metrics, message


def _lr_schedule(config: RunConfig, monitor: str, keras: Any) -> list[Any]:
    """Halve the learning rate when ``monitor`` stalls for ``lr_patience`` epochs (none when 0)."""
    if not config.train.lr_patience:
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=config.train.lr_patience)]


def _fail(run_dir: Path, chief: bool, message: str, emit: Callable[..., None]) -> None:
    """Mark the run failed; a status that cannot be written (not even in place on a full disk) is logged, and
    the error that ended the training is raised all the same."""
    if chief:
        try:
            runs.write_status(run_dir, "failed", message)
        except StorageError as exc:
            log.warning("cannot record the failure of %s: %s", run_dir.name, exc)
    emit("status", status="failed", message=message)


def _evaluate(run_dir: Path, dataset: Any, state: str, message: str) -> tuple[Metrics | None, str]:
    """Score the best model; an evaluation failure is reported in the message, the training stands."""
    try:
        return evaluate_run(run_dir, dataset=dataset), ""
    except MusegenError as exc:
        return None, f"; evaluation failed: {exc}"
    except Exception as exc:  # a bug: record it on the run, then let it surface
        runs.write_status(run_dir, state, f"{message}; evaluation crashed: {type(exc).__name__}: {exc}")
        raise


def _start_history(config: RunConfig, dataset: Any, run_dir: Path, resume: bool, chief: bool) -> History:
    """Check resume/fresh preconditions, write config, vocab and data (chief), return the history to extend."""
    status = runs.read_status(run_dir)  # a dead process's "running" reads as "failed"
    if chief and status["state"] == "running" and not runs.written_by_me(status):
        raise TrainingError(f"run {run_dir.name} is being trained by another process; stop it first.")
    history = runs.read_history(run_dir)
    done = history.epochs_done
    if resume:
        if not (run_dir / runs.LAST).is_file():
            raise TrainingError(f"run {run_dir.name} has no last.keras to resume from; start a new run instead.")
        saved = runs.load_run(run_dir).vocab()
        if saved.tokens != dataset.vocab.tokens:
            raise TrainingError(
                f"the data gives a different vocabulary ({len(dataset.vocab)} tokens) than run {run_dir.name} was "
                f"trained with ({len(saved)}); resume with the run's own data (runs.load_dataset)."
            )
        if config.train.epochs <= done:
            raise TrainingError(
                f"run {run_dir.name} already has {done} epochs; set epochs above {done} to train further."
            )
        if chief:  # what a killed process left: its temporary files, and the batches of its unfinished epoch
            runs.remove_temporary_files(run_dir)
        # that epoch is trained again from last.keras; keeping its batches would chart them twice
        history.batches = [b for b in history.batches if b.epoch <= done]
        history.evals = [e for e in history.evals if e.epoch_fraction <= done] if history.evals else history.evals
    else:
        if done:
            raise TrainingError(
                f"run {run_dir.name} is already trained ({done} epochs); resume it or create a new run."
            )
        history = History()
    if chief:
        runs.atomic_write_text(run_dir / runs.CONFIG, config.to_json())
        if not resume:
            runs.atomic_write_json(run_dir / runs.VOCAB, dataset.vocab.to_dict())
            names = (getattr(dataset, "train_names", []), getattr(dataset, "val_names", []))
            tempos = (getattr(dataset, "train_tempos", []), getattr(dataset, "val_tempos", []))
            runs.save_dataset(
                run_dir, list(dataset.train), list(dataset.val), names if any(names) else None, tempos=tempos
            )
            if getattr(dataset, "store", None) is not None:  # the corpus stays in its store: the run names it
                runs.save_store_reference(run_dir, dataset.store.reference())
    return history


def _load_last(run_dir: Path, config: RunConfig) -> Any:
    """last.keras with its compiled loss and optimizer state, so training continues where it was.

    Loaded under the run's precision policy: a mixed_float16 model is compiled again with Keras'
    loss-scaling optimizer, whose saved state (the loss scale too) then loads into it."""
    from musegen.models import load_model, precision

    with precision.policy(config.train.precision):
        return load_model(run_dir / runs.LAST, compile=True)


def _make_data(config: RunConfig, dataset: Any, rep: Representation, replicas: int) -> _Data:
    """The representation's tf.data pipelines (``Representation.training_data``): (x, y, weight) batches,
    weight 0 on padding, sharded by data under tf.distribute."""
    import tensorflow as tf

    window = config.data.window
    store = getattr(dataset, "store", None)  # a token store's windows stream from disk (datasets.store)
    if store is not None:
        data = rep.store_training_data(store, config, config.train.batch_size * replicas, config.train.seed)
    else:
        data = rep.training_data(
            list(dataset.train), list(dataset.val), config, config.train.batch_size * replicas, config.train.seed
        )
    if data.samples == 0:
        raise TrainingError(
            f"no training windows: every training piece is shorter than the window ({window} tokens) or empty; "
            "lower the window or add longer pieces."
        )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    val_ds = data.val.with_options(options) if data.val is not None else None
    frames = frames_of(getattr(dataset, "val", ()))
    train_ds = data.train.with_options(options)
    return _Data(train_ds, val_ds, data.samples, data.global_batch, int(window), data.batches, frames)
