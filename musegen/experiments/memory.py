"""The peak resident memory of one stretch of work inside a long process (one model of a benchmark).

``ru_maxrss`` is the whole process's peak: after the first model it no longer says what the next
one needed. :class:`PeakMemory` samples this process's resident set (``/proc/self/statm``) in a
daemon thread while its ``with`` block runs and keeps the largest value, so each model of a
benchmark gets its own figure. Sampling every 0.1 s misses only spikes shorter than that; where
``/proc`` is missing it falls back to ``ru_maxrss`` (the process's peak so far).
"""

from __future__ import annotations

import os
import threading

MB = 1024 * 1024


def resident_bytes() -> int:
    """This process's resident set now, in bytes (its peak so far where /proc is missing; 0 if neither)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except (ImportError, OSError):
            return 0


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.peak_mb``: the most resident memory seen in the block."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s
        self.peak = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._done.wait(self.interval_s):
            self.peak = max(self.peak, resident_bytes())

    def __enter__(self) -> PeakMemory:
        self.peak = resident_bytes()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, resident_bytes())

    @property
    def peak_mb(self) -> float:
        return round(self.peak / MB, 1)
