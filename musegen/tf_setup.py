"""TensorFlow set-up for small machines: quiet logs, Keras on TensorFlow, few threads.

Thread counts can only be set before TensorFlow runs its first op, so every entry point that
builds, loads or trains a model calls :func:`configure_tensorflow` first. It is idempotent.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

THREADS_ENV = "MUSEGEN_TF_THREADS"
_configured_threads: int | None = None


def default_threads() -> int:
    """Threads per TensorFlow pool: ``MUSEGEN_TF_THREADS`` if set, else the CPU count capped at 4."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            log.warning("%s=%r is not a whole number; using the default.", THREADS_ENV, env)
        else:
            if value >= 1:
                return value
            log.warning("%s must be >= 1, got %d; using the default.", THREADS_ENV, value)
    return max(1, min(4, os.cpu_count() or 1))


def configure_tensorflow(threads: int | None = None) -> int:
    """Set the Keras backend, TF log level and thread pools once; return the thread count in use.

    ``threads`` overrides ``MUSEGEN_TF_THREADS``. A second call is a no-op. If TensorFlow already
    ran an op (its pools are fixed), the settings cannot change: this is logged, not raised.
    """
    global _configured_threads
    if _configured_threads is not None:
        return _configured_threads
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    n = int(threads) if threads else default_threads()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError as exc:  # TF already initialised by someone else: keep its pools
        log.info("TensorFlow threads already fixed (%s); keeping them.", exc)
        n = tf.config.threading.get_intra_op_parallelism_threads() or n
    _configured_threads = n
    return n
