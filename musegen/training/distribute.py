"""``tf.distribute`` strategies for training beyond one device.

``TrainConfig.batch_size`` is the batch of ONE replica; the global batch is
``batch_size * replicas``, so adding devices keeps each device's work the same.

- ``""``: the default strategy (one device).
- ``"mirrored"``: ``MirroredStrategy`` over all local GPUs; with no GPU, over all logical CPU
  devices (one unless the CPU was split with ``tf.config.set_logical_device_configuration``).
- ``"multiworker"``: ``MultiWorkerMirroredStrategy``; the cluster comes from the ``TF_CONFIG``
  environment variable (without it, a single local worker). Only the chief writes run files; the
  others never create the run folder (:func:`is_chief_task` says which is which before TF starts).

Both distributed kinds train in musegen's own loop (:mod:`musegen.training.steps`); how to run on
N machines (Slurm, Kubernetes) is in docs/cluster.md.
"""

from __future__ import annotations

import json
import os
from typing import Any

from musegen.errors import ConfigError


def make_strategy(kind: str) -> Any:
    """The ``tf.distribute.Strategy`` for ``kind`` ("", "mirrored" or "multiworker")."""
    import tensorflow as tf

    if kind == "":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"distribute must be '', 'mirrored' or 'multiworker'; got {kind!r}.")


def is_chief(strategy: Any) -> bool:
    """True for the one process that writes checkpoints and run files."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def is_chief_task(kind: str) -> bool:
    """Whether this process is the chief of a ``kind`` run, from ``TF_CONFIG`` alone (before TensorFlow starts).

    The chief is the task of type "chief", else worker 0; without TF_CONFIG (or for "" and "mirrored")
    the one process is the chief.
    """
    if kind != "multiworker" or not os.environ.get("TF_CONFIG", ""):
        return True
    _check_tf_config()
    spec = json.loads(os.environ["TF_CONFIG"])
    task_type, task_id = spec["task"]["type"], int(spec["task"]["index"])
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in spec["cluster"]


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return
    try:
        spec = json.loads(raw)
        _ = (spec["cluster"], spec["task"]["type"], spec["task"]["index"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            "TF_CONFIG must be JSON like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}; '
            f"got {raw[:200]!r} ({exc})."
        ) from exc
