"""The training loop of distributed runs: ``tf.function`` steps under ``strategy.run`` (imports Keras lazily).

Keras 3's ``fit`` cannot drive ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so runs with
``distribute`` set ("mirrored" or "multiworker") train here instead; one loop for both, so the
in-process mirrored runs exercise the code the cluster runs. It keeps ``fit``'s contract:

- each replica runs the model's own ``train_step`` / ``test_step`` (the compiled loss and metrics,
  loss scaling for mixed precision) on its share of the global batch; the loss is scaled by
  1/replicas (Keras does it), the gradients are summed across replicas, then clipped (the
  optimizer's ``clipnorm``), as one process would clip the gradient of the whole batch;
- the logs are the running means of the epoch, averaged over the replicas;
- the callbacks (the run's :class:`RunCallback`, ``ReduceLROnPlateau``) get the Keras hooks in
  ``fit``'s order, validation included, so history, checkpoints and early stopping stay the same;
- every epoch is exactly ``steps`` batches of a repeated dataset, so every worker runs the same
  collective steps;
- after every batch and every epoch the workers agree whether to stop (a sum of their stop flags
  across replicas): a stop seen by one worker (the chief's stop file, a time budget, early stopping)
  ends the loop for all at the same step, and all of them know why.

A worker that dies makes the collectives of the others fail (the coordination service notices the
missing heartbeats, or a collective times out); that error becomes a :class:`TrainingError` that
says which worker and where the run stopped.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from musegen.errors import TrainingError

REASONS = ("stop", "time", "early")  # why a loop ends early, most important first

# TF's errors when a peer is gone: a dead task, a refused/closed connection, a collective timeout
_PEER_ERRORS = ("UnavailableError", "DeadlineExceededError", "AbortedError", "CancelledError", "InternalError")
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def fit_distributed(
    model: Any,
    strategy: Any,
    train_ds: Any,
    val_ds: Any | None,
    *,
    epochs: int,
    initial_epoch: int,
    steps: int,
    callbacks: list[Any],
    run_callback: Any,
) -> None:
    """Train ``model`` (built and compiled under ``strategy.scope()``) for epochs ``initial_epoch+1..epochs``.

    ``train_ds``/``val_ds`` are batched with the GLOBAL batch; ``run_callback`` is the run's
    RunCallback, whose ``reason`` is set to what the workers agreed on when they stop early.
    """
    import keras
    import tensorflow as tf

    with strategy.scope():
        model._symbolic_build(data_batch=_zeros_like(train_ds.element_spec, tf))  # optimizer and metric variables
        _clip_after_all_reduce(model.optimizer)
    where: dict[str, Any] = {"epoch": initial_epoch + 1, "batch": 0, "what": "the start"}
    train_step, test_step, agree = _functions(model, strategy, tf)
    dist_train = strategy.experimental_distribute_dataset(train_ds.repeat())
    val_steps = _count(val_ds) if val_ds is not None else 0
    val_it = iter(strategy.experimental_distribute_dataset(val_ds.repeat())) if val_steps else None
    cbs = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps, verbose=0)
    model.stop_training = False

    def agreed() -> None:
        where["what"] = "the stop check"
        flags = agree(tf.constant([float(run_callback.reason == r) for r in REASONS], tf.float32)).numpy()
        for reason, flag in zip(REASONS, flags, strict=True):
            if flag > 0:
                run_callback.reason, model.stop_training = reason, True
                break

    try:
        agreed()  # a stop asked before the first batch (callback.reason "stop") ends it for all
        if model.stop_training:
            return
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            where.update(epoch=epoch + 1, batch=0)
            model.reset_metrics()
            train_it = iter(dist_train)  # a new pass per epoch, reshuffled as fit reshuffles
            cbs.on_epoch_begin(epoch)
            logs: dict[str, float] = {}
            for step in range(steps):
                where.update(batch=step + 1, what="a training step")
                cbs.on_train_batch_begin(step)
                logs = _floats(train_step(train_it))
                cbs.on_train_batch_end(step, logs)
                agreed()
                if model.stop_training:
                    break
            epoch_logs = dict(logs)
            if val_it is not None:
                where["what"] = "validation"
                model.reset_metrics()
                val_logs: dict[str, float] = {}
                for _ in range(val_steps):
                    val_logs = _floats(test_step(val_it))
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            where["what"] = "the end of the epoch"
            cbs.on_epoch_end(epoch, epoch_logs)
            agreed()
            if model.stop_training:
                break
        cbs.on_train_end()
    except tf.errors.OpError as exc:
        if not is_peer_error(exc):
            raise
        raise peer_error(exc, where) from None


def _functions(model: Any, strategy: Any, tf: Any) -> tuple[Any, Any, Any]:
    """The compiled train step, test step and stop agreement."""

    def reduce(outputs: dict[str, Any]) -> dict[str, Any]:
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in outputs.items()}

    @tf.function
    def train_step(iterator: Any) -> dict[str, Any]:
        return reduce(strategy.run(model.train_step, args=(next(iterator),)))

    @tf.function
    def test_step(iterator: Any) -> dict[str, Any]:
        return reduce(strategy.run(model.test_step, args=(next(iterator),)))

    @tf.function
    def agree(flags: Any) -> Any:
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(flags,)), axis=None)

    return train_step, test_step, agree


def _clip_after_all_reduce(optimizer: Any) -> None:
    """Make the optimizer clip the SUMMED gradient, not each replica's share of it.

    Keras 3 clips (``clipnorm``, ``global_clipnorm``, ``clipvalue``) before it all-reduces, so under
    a strategy each replica's 1/replicas share is clipped apart: a gradient of norm 1.5 with
    ``clipnorm=1`` is clipped by one process and not by two replicas (0.75 each). Moving the clip
    after the all-reduce gives the single-process update. A mixed-precision ``LossScaleOptimizer``
    unscales first and hands the gradients to its inner optimizer, which is the one changed here.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if getattr(inner, "_musegen_clip_after_reduce", False):
        return
    reduce_sum, clip = inner._all_reduce_sum_gradients, inner._clip_gradients

    def reduce_then_clip(grads_and_vars: Any) -> list[Any]:
        reduced = list(reduce_sum(grads_and_vars))
        clipped = clip([g for g, _ in reduced])
        return [(g, v) for g, (_, v) in zip(clipped, reduced, strict=True)]

    inner._all_reduce_sum_gradients = reduce_then_clip
    inner._clip_gradients = lambda grads: grads
    inner._musegen_clip_after_reduce = True


def _zeros_like(spec: Any, tf: Any) -> Any:
    """A batch of one example of zeros shaped like ``spec`` (iterating the dataset would advance its shuffle)."""
    return tf.nest.map_structure(lambda s: tf.zeros([d or 1 for d in s.shape], s.dtype), spec)


def _count(dataset: Any) -> int:
    """Batches in one pass of ``dataset`` (counted when tf.data does not know)."""
    n = int(dataset.cardinality())
    return n if n >= 0 else int(dataset.reduce(0, lambda count, _: count + 1))


def _floats(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items()}


def is_peer_error(exc: BaseException) -> bool:
    """Whether ``exc`` is TensorFlow saying that another task of the cluster is gone or unreachable."""
    name, text = type(exc).__name__, str(exc).lower()
    return name in _PEER_ERRORS and (name != "InternalError" or "collective" in text or "task" in text)


def peer_error(exc: BaseException, where: dict[str, Any] | None = None) -> TrainingError:
    """The TrainingError for a peer's death: which task, why in a few words, where the run stopped."""
    text = str(exc)
    cause = next((words for pattern, words in _CAUSES if re.search(pattern, text, re.IGNORECASE)), None)
    if cause is None:
        lines = [line.strip() for line in text.splitlines() if line.strip() and "Graph execution error" not in line]
        cause = lines[0][:200] if lines else type(exc).__name__
    me = _own_task()
    tasks = [(m.group(1), m.group(2)) for m in _TASK.finditer(text) if (m.group(1), m.group(2)) != me]
    if tasks:
        who = f"{tasks[0][0]} {tasks[0][1]}"
    elif "CoordinationService" in text:
        who = "the chief (which runs the coordination service)"
    else:
        who = "another worker"
    at = (
        f"during {where['what']}; the run stopped at epoch {where['epoch']}, batch {where['batch']}"
        if where
        else "before training started; the run stopped"
    )
    return TrainingError(
        f"{who} stopped responding ({type(exc).__name__}: {cause}) {at}; resume it when every worker is up."
    )


_CAUSES = (  # what TF's long messages mean, in a few words
    (r"stopped sending heartbeats", "it stopped sending heartbeats"),
    (r"connection reset by peer", "connection reset: the process is gone"),
    (r"socket closed", "connection closed: the process is gone"),
    (r"connection refused|failed to connect", "connection refused: nothing listens on its port"),
    (r"heartbeat", "no answer to the coordination service's heartbeat"),
    (r"deadline exceeded|timed out", "no answer within the timeout"),
)


def _own_task() -> tuple[str, str] | None:
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "") or "{}").get("task", {})
        return str(task["type"]), str(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
