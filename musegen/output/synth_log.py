"""FluidSynth's own log, kept off the terminal and summed up in one line per render.

FluidSynth prints every warning to stderr: a piece of 65,535 one-note tracks gave about 98,700 lines
("Failed to allocate a synthesis process", "Ringbuffer full"). Its log function is replaced, once, by
one that counts the messages of the thread that renders; :func:`collecting` gives a render its count
and :func:`summary` the one line that matters. Errors and panics are counted the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

_LEVELS = range(5)  # FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG
_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_local = threading.local()
_installed: dict[str, Any] = {}
_lock = threading.Lock()


def _log(level: int, message: bytes | None, _data: Any) -> None:
    counts: Counter[str] | None = getattr(_local, "counts", None)
    if counts is not None and level <= 2:  # panics, errors and warnings; info and debug are dropped
        text = (message or b"").decode("utf-8", "replace")
        counts[text.split("(")[0].strip().rstrip(".!") or "a message without text"] += 1


def quiet(fs: Any) -> None:
    """Route FluidSynth's log (of the binding ``fs``) through :func:`_log`, once per process."""
    with _lock:
        if _installed:
            return
        library = getattr(fs, "_fl", None)
        setter = getattr(library, "fluid_set_log_function", None)
        if setter is None:  # an old or unusual binding: its log stays as it is
            _installed["callback"] = None
            return
        setter.restype = ctypes.c_void_p
        setter.argtypes = [ctypes.c_int, _CALLBACK, ctypes.c_void_p]
        callback = _CALLBACK(_log)
        for level in _LEVELS:
            setter(level, callback, None)
        _installed["callback"] = callback  # kept alive: FluidSynth holds the pointer


@contextlib.contextmanager
def collecting() -> Iterator[Counter[str]]:
    """The messages FluidSynth logs in this thread while the block runs, counted by kind."""
    counts: Counter[str] = Counter()
    _local.counts = counts
    try:
        yield counts
    finally:
        _local.counts = None


def summary(counts: Counter[str], polyphony: int) -> str:
    """One line for a render's FluidSynth messages ("" when there were none)."""
    total = sum(counts.values())
    if not total:
        return ""
    kinds = "; ".join(f"{n:,} x {text!r}" for text, n in counts.most_common(2))
    more = f" and {len(counts) - 2} more kinds" if len(counts) > 2 else ""
    crowded = any("synthesis process" in t or "polyphony" in t for t in counts)
    why = (
        f" More notes sounded at once than FluidSynth's {polyphony} voices: the extra ones were dropped."
        if crowded
        else ""
    )
    return f"FluidSynth logged {total:,} messages ({kinds}{more}).{why}"
