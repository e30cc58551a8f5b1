"""TensorFlow set-up for small machines: quiet logs, Keras on TensorFlow, few threads.

Thread counts can only be set before TensorFlow runs its first op, so every entry point that
builds, loads or trains a model calls :func:`configure_tensorflow` first. It is idempotent.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from types import ModuleType

log = logging.getLogger(__name__)

THREADS_ENV = "MUSEGEN_TF_THREADS"
MAX_THREADS = 1024  # TensorFlow's pools take a C int; more threads than this only thrash
_configured_threads: int | None = None
_import_lock = threading.Lock()

# What TensorFlow writes straight to file descriptor 2 while it starts, before its logging is set
# up (so TF_CPP_MIN_LOG_LEVEL cannot hide it): oneDNN and CUDA probing, which on a machine without
# a GPU ends in an "error" that is none. Everything else it writes is passed on.
_STARTUP_CHATTER = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|cudart_stub|"
    r"Could not find cuda drivers|failed call to cuInit|cuda_platform|Unable to register cu(DNN|FFT|BLAS)|"
    r"computation_placer|TF-TRT Warning|This TensorFlow binary is optimized|rebuild TensorFlow with"
)


def without_startup_chatter(text: str) -> str:
    """``text`` less the lines of TensorFlow's known start-up chatter (and blank lines)."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if line.strip() and not _STARTUP_CHATTER.search(line))


def import_tensorflow() -> ModuleType:
    """``import tensorflow``, with its start-up chatter kept off the terminal.

    While TensorFlow loads and probes its devices, file descriptor 2 goes to a temporary file;
    afterwards every line that is not known chatter (see ``_STARTUP_CHATTER``) is written to
    stderr, so a real warning or an import error's output is never lost.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _import_lock:
        if "tensorflow" in sys.modules:
            return sys.modules["tensorflow"]
        with tempfile.TemporaryFile() as captured:  # KERAS_BACKEND and the log level: musegen/__init__.py
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow as tf

                tf.config.list_physical_devices()  # the CUDA probe, while stderr is captured
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                sys.stderr.write(without_startup_chatter(captured.read().decode("utf-8", "replace")))
                sys.stderr.flush()
    return tf


def default_threads() -> int:
    """Threads per TensorFlow pool: ``MUSEGEN_TF_THREADS`` if set, else the CPU count capped at 4."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            log.warning("%s=%r is not a whole number; using the default.", THREADS_ENV, env)
        else:
            if value > MAX_THREADS:
                log.warning("%s is more than TensorFlow can use; capped at %d.", THREADS_ENV, MAX_THREADS)
                return MAX_THREADS
            if value >= 1:
                return value
            log.warning("%s must be >= 1, got %d; using the default.", THREADS_ENV, value)
    return max(1, min(4, os.cpu_count() or 1))


def configure_tensorflow(threads: int | None = None) -> int:
    """Import TensorFlow quietly and set its thread pools once; return the thread count in use.

    ``threads`` overrides ``MUSEGEN_TF_THREADS``. A second call is a no-op. If TensorFlow already
    ran an op (its pools are fixed), the settings cannot change: this is logged, not raised.
    """
    global _configured_threads
    if _configured_threads is not None:
        return _configured_threads
    n = int(threads) if threads else default_threads()
    tf = import_tensorflow()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError as exc:  # TF already initialised by someone else: keep its pools
        log.info("TensorFlow threads already fixed (%s); keeping them.", exc)
        n = tf.config.threading.get_intra_op_parallelism_threads() or n
    _configured_threads = n
    return n
