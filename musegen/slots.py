"""First-come-first-served slots for the heavy work a shared server does for many sessions at once.

Twenty people who press Generate together on a two-core server should not run twenty decoding loops (or
twenty FluidSynth renders) at once: they share the cores, every one of them finishes late, and each holds its
memory all the while. A :class:`Slots` lets ``size`` of them run and queues the others in the order they came;
a waiting caller is told how many are ahead of it. ``GENERATION`` guards the decoding loops of
:mod:`musegen.generation.compose`, ``AUDIO`` the renders of :mod:`musegen.output.audio`; each lets
``MUSEGEN_GENERATION_SLOTS`` callers in at once (a whole number from 1; by default the machine's cores).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator

SLOTS_ENV = "MUSEGEN_GENERATION_SLOTS"
POLL_S = 0.5  # how often a waiting caller looks again (and may be told its new place)


def slot_count() -> int:
    """How many callers one :class:`Slots` lets in: ``MUSEGEN_GENERATION_SLOTS`` when it is a whole number from
    1, else the cores this process may use (at least 1)."""
    raw = os.environ.get(SLOTS_ENV, "").strip()
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Slots:
    """At most ``size`` holders at once (by default :func:`slot_count`, read at the first use); the others
    wait in a first-come-first-served queue."""

    def __init__(self, name: str, size: int | None = None):
        self.name = name
        self._size = size
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = 0

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = slot_count()
        return self._size

    def busy(self) -> tuple[int, int]:
        """(running, waiting) right now."""
        with self._cond:
            return self._running, len(self._queue)

    def _ahead(self, me: object) -> int:
        """How many go before ``me``: those queued before it, plus one while every slot is taken."""
        return self._queue.index(me) + (self._running >= self.size)

    @contextlib.contextmanager
    def held(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold a slot for the block; while waiting, ``on_wait(ahead)`` is called whenever the number of callers
        ahead changes (never while the queue's lock is held)."""
        me = object()
        told = -1
        with self._cond:
            self._queue.append(me)
        try:
            while True:
                with self._cond:
                    if self._running < self.size and self._queue[0] is me:
                        self._queue.popleft()
                        self._running += 1
                        break
                    ahead = self._ahead(me)
                if on_wait is not None and ahead != told:
                    on_wait(ahead)
                    told = ahead
                with self._cond:
                    if self._ahead(me):
                        self._cond.wait(POLL_S)
        except BaseException:  # a stopped page leaves the queue at once
            with self._cond:
                if me in self._queue:
                    self._queue.remove(me)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


GENERATION = Slots("generation")
AUDIO = Slots("audio")
